import type { FastifyReply, FastifyRequest } from 'fastify'
// The cookie plugin's declarations (reply.setCookie, req.cookies), wherever this module is compiled.
import type {} from '@fastify/cookie'
import { ChatError, type Session } from '@chat/contracts'
import { tokenFromRequest, type Authenticate } from './session.js'

export interface SessionCookieOptions {
  /** Cookie name (SESSION_COOKIE_NAME). */
  name: string
}

/**
 * The session cookie the `rooms` API's `/Login` sets: the same JWT a bearer
 * header carries, HttpOnly (scripts can't read it), SameSite=Lax (browsers
 * don't send it with cross-site POSTs, the CSRF that matters here), Secure
 * when the request came over TLS (directly, or through a proxy trusted with
 * TRUST_PROXY), and expiring with the token.
 */
export class SessionCookie {
  constructor (private readonly opts: SessionCookieOptions) {}

  get name (): string {
    return this.opts.name
  }

  set (req: FastifyRequest, reply: FastifyReply, session: Session): void {
    const maxAge = Math.max(0, Math.floor((Date.parse(session.expiresAt) - Date.now()) / 1000))
    reply.setCookie(this.opts.name, session.token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: req.protocol === 'https',
      maxAge,
    })
  }

  clear (req: FastifyRequest, reply: FastifyReply): void {
    reply.clearCookie(this.opts.name, { path: '/', httpOnly: true, sameSite: 'lax', secure: req.protocol === 'https' })
  }

  read (req: FastifyRequest): string | undefined {
    const value = req.cookies?.[this.opts.name]
    return typeof value === 'string' && value !== '' ? value : undefined
  }
}

/** Authenticates an HTTP request, or throws CHAT_UNAUTHENTICATED / CHAT_TOKEN_INVALID. */
export interface HttpAuth {
  (req: FastifyRequest): Promise<Session>
  /** The credential the request carries (bearer first, then the cookie), unverified. */
  tokenOf(req: FastifyRequest): string | undefined
}

/**
 * Bearer token, or else the session cookie; both are verified the same way.
 * A request is authenticated once: the early hook (http-guard.ts) and the
 * handler share the outcome, so a route costs one auth round trip.
 */
export function createHttpAuth (authenticate: Authenticate, cookie: SessionCookie): HttpAuth {
  const outcomes = new WeakMap<FastifyRequest, Promise<Session>>()
  const tokenOf = (req: FastifyRequest): string | undefined => tokenFromRequest(req.query, req.headers) ?? cookie.read(req)
  const auth = (req: FastifyRequest): Promise<Session> => {
    let outcome = outcomes.get(req)
    if (outcome === undefined) {
      outcome = (async () => {
        const token = tokenOf(req)
        if (token === undefined) throw new ChatError('CHAT_UNAUTHENTICATED')
        return await authenticate(token)
      })()
      outcomes.set(req, outcome)
    }
    return outcome
  }
  return Object.assign(auth, { tokenOf })
}
