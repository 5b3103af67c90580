import { randomUUID } from 'node:crypto'
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose'
import { ChatError } from '@chat/contracts'

/** The one algorithm tokens are signed and accepted with. */
export const TOKEN_ALGORITHM = 'HS256'

export interface TokenSettings {
  secret: string
  issuer: string
  audience: string
}

/** What a verified token says. */
export interface TokenClaims {
  userId: number
  sessionId: string
  expiresAt: Date
}

function key (secret: string): Uint8Array {
  return new TextEncoder().encode(secret)
}

/** Signs a session token (auth service only). */
export async function signToken (settings: TokenSettings, userId: number, ttlSeconds: number): Promise<{ token: string, claims: TokenClaims }> {
  const sessionId = randomUUID()
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
    .setSubject(String(userId))
    .setJti(sessionId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key(settings.secret))
  return { token, claims: { userId, sessionId, expiresAt: new Date(exp * 1000) } }
}

/**
 * Verifies signature, algorithm, issuer, audience and expiry locally, with no
 * round trip. Revocation is checked separately (auth.resume) because it needs
 * shared state.
 */
export function createTokenVerifier (settings: TokenSettings): (token: string) => Promise<TokenClaims> {
  const secret = key(settings.secret)
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, secret, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ['sub', 'jti', 'exp'],
      })
      const userId = Number(payload.sub)
      if (!Number.isSafeInteger(userId) || userId < 1 || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') {
        throw new ChatError('CHAT_TOKEN_INVALID')
      }
      return { userId, sessionId: payload.jti, expiresAt: new Date(payload.exp * 1000) }
    } catch (err) {
      if (err instanceof ChatError) throw err
      if (err instanceof joseErrors.JOSEError) throw new ChatError('CHAT_TOKEN_INVALID', undefined, { cause: err })
      throw err
    }
  }
}
