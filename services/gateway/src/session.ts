import type { IncomingHttpHeaders } from 'node:http'
import { ChatError, Commands, type Session } from '@chat/contracts'
import type { CommandClient, TokenClaims } from '@chat/runtime'

/**
 * Establishes who a client is. The signature, algorithm, issuer, audience and
 * expiry are checked locally first, so garbage never costs a round trip;
 * revocation and the current profile come from the auth service once per
 * login, never per frame.
 */
export function createAuthenticator (commands: CommandClient, verify: (token: string) => Promise<TokenClaims>) {
  return async function authenticate (token: string): Promise<Session> {
    await verify(token)
    return commands.call(Commands.auth.resume, { token })
  }
}

export type Authenticate = ReturnType<typeof createAuthenticator>

/**
 * The token a client gave: a bearer header, or `?token=` where a client
 * cannot set headers (browser WebSocket upgrades only; in plain HTTP URLs a
 * token would end up in logs and caches).
 */
export function tokenFromRequest (query: unknown, headers: IncomingHttpHeaders, allowQuery = false): string | undefined {
  const auth = headers.authorization
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(auth)
    if (!match) throw new ChatError('CHAT_TOKEN_INVALID', 'Authorization must be "Bearer <token>"')
    return match[1]
  }
  if (allowQuery && query && typeof query === 'object' && 'token' in query) {
    const token = (query as { token: unknown }).token
    if (typeof token === 'string' && token !== '') return token
    throw new ChatError('CHAT_TOKEN_INVALID', 'token must be a non-empty string')
  }
  return undefined
}
