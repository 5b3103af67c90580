import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { SignJWT, jwtVerify, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, importJWK, errors as joseErrors } from 'jose'
import { ChatError, type Jwks, type PublicJwk } from '@chat/contracts'

/**
 * The one algorithm tokens are signed and accepted with: Ed25519 signatures.
 * Only the auth service holds a private key; everyone else verifies with
 * public keys, so no other process can mint a token.
 */
export const TOKEN_ALGORITHM = 'EdDSA'

/** What every token says besides its user and session, checked on verification. */
export interface TokenSettings {
  issuer: string
  audience: string
}

/** What a verified token says. */
export interface TokenClaims {
  userId: number
  sessionId: string
  expiresAt: Date
}

/** A private signing key with its public half as a JWK; `kid` is the JWK's RFC 7638 thumbprint. */
export interface SigningKey {
  kid: string
  privateKey: KeyObject
  publicJwk: PublicJwk
}

const KID = /^[A-Za-z0-9_-]{43}$/

/** The public JWK (with its thumbprint as `kid`) of an Ed25519 private or public key. */
export async function publicJwkOf (key: KeyObject): Promise<PublicJwk> {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const jwk = pub.export({ format: 'jwk' })
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new TypeError('token signing keys must be Ed25519')
  }
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'sha256')
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: TOKEN_ALGORITHM, use: 'sig' }
}

/** Reads an Ed25519 private key in PKCS#8 PEM; anything else is an error naming the problem. */
export async function importSigningKey (pem: string): Promise<SigningKey> {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' })
  } catch (err) {
    throw new TypeError('the token signing key is not a PKCS#8 PEM private key', { cause: err })
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`the token signing key must be Ed25519, not ${privateKey.asymmetricKeyType ?? 'unknown'}`)
  }
  const publicJwk = await publicJwkOf(privateKey)
  return { kid: publicJwk.kid, privateKey, publicJwk }
}

/** Makes a new Ed25519 signing key; `pem` is its private key in PKCS#8 PEM, for storing. */
export async function generateSigningKey (): Promise<SigningKey & { pem: string }> {
  const { privateKey } = generateKeyPairSync('ed25519')
  const publicJwk = await publicJwkOf(privateKey)
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  return { kid: publicJwk.kid, privateKey, publicJwk, pem }
}

/** Signs a token for a new session (auth service only); the session id is its `jti`. */
export async function signToken (
  settings: TokenSettings,
  key: SigningKey,
  userId: number,
  ttlSeconds: number
): Promise<{ token: string, claims: TokenClaims }> {
  const sessionId = randomUUID()
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT', kid: key.kid })
    .setSubject(String(userId))
    .setJti(sessionId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key.privateKey)
  return { token, claims: { userId, sessionId, expiresAt: new Date(exp * 1000) } }
}

/** A public key ready for verification. */
export type VerifyKey = Awaited<ReturnType<typeof importJWK>>

/** Finds the public key of a `kid`, or nothing if no such key is published. */
export interface TokenKeyResolver {
  resolve(kid: string): Promise<VerifyKey | undefined>
}

/**
 * The published verification keys, fetched from a source (auth.jwks over
 * NATS on a gateway, MongoDB in the auth service). A token with an unknown
 * `kid` triggers a fetch, but at most one per `minRefetchMs` whatever the
 * number of tokens asking: callers share one fetch, so garbage tokens can't
 * make a replica hammer its source, and a real new key is found within
 * `minRefetchMs`.
 */
export class KeySet implements TokenKeyResolver {
  private jwks: Jwks = { keys: [] }
  private readonly keys = new Map<string, Promise<VerifyKey>>()
  private inflight: Promise<void> | undefined
  private scheduled: Promise<void> | undefined
  private lastFetchAt = -Infinity
  /** Fetches started, and the number of the last one that finished: tells a fetch begun after a question from one begun before. */
  private fetches = 0
  private lastCompleted = 0

  constructor (
    private readonly source: () => Promise<Jwks>,
    private readonly opts: { minRefetchMs: number }
  ) {}

  /** The keys last fetched. */
  get current (): Jwks {
    return this.jwks
  }

  /** How many fetches were made (metrics and tests). */
  get fetchCount (): number {
    return this.fetches
  }

  /** Fetches the key set now, or joins the fetch in flight. */
  refresh (): Promise<void> {
    this.inflight ??= (async () => {
      this.lastFetchAt = Date.now()
      const seq = ++this.fetches
      try {
        this.replace(await this.source())
      } finally {
        this.lastCompleted = seq
        this.inflight = undefined
      }
    })()
    return this.inflight
  }

  /** Replaces the key set (a fetch's result). */
  replace (jwks: Jwks): void {
    const kids = new Set(jwks.keys.map((k) => k.kid))
    for (const kid of this.keys.keys()) if (!kids.has(kid)) this.keys.delete(kid)
    this.jwks = { keys: jwks.keys.map((k) => ({ ...k })) }
  }

  async resolve (kid: string): Promise<VerifyKey | undefined> {
    const asked = this.fetches
    for (;;) {
      const jwk = this.jwks.keys.find((k) => k.kid === kid)
      if (jwk) return await this.imported(jwk)
      // Only a fetch begun after we asked can say the key does not exist:
      // one already in flight may have missed a brand-new key.
      if (this.lastCompleted > asked) return undefined
      await this.refreshSoon()
    }
  }

  private imported (jwk: PublicJwk): Promise<VerifyKey> {
    let key = this.keys.get(jwk.kid)
    if (!key) {
      key = importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, TOKEN_ALGORITHM) as Promise<VerifyKey>
      this.keys.set(jwk.kid, key)
    }
    return key
  }

  /** A fetch as soon as the rate limit allows, shared by every caller until it starts. */
  refreshSoon (): Promise<void> {
    if (this.inflight) return this.inflight
    if (this.scheduled) return this.scheduled
    const wait = this.lastFetchAt + this.opts.minRefetchMs - Date.now()
    if (wait <= 0) return this.refresh()
    this.scheduled = sleep(wait).then(() => {
      this.scheduled = undefined
      return this.refresh()
    })
    return this.scheduled
  }
}

function invalid (message?: string, cause?: unknown): ChatError {
  return new ChatError('CHAT_TOKEN_INVALID', message, cause === undefined ? undefined : { cause })
}

/**
 * Verifies signature, algorithm, key id, issuer, audience and expiry locally.
 * The cheap checks run on the unverified token first, so a foreign, expired
 * or malformed token is refused without looking for its key. Whether the
 * session still exists is asked of auth separately (auth.resume), because
 * that needs shared state.
 */
export function createTokenVerifier (settings: TokenSettings, keys: TokenKeyResolver): (token: string) => Promise<TokenClaims> {
  return async (token) => {
    let kid: unknown
    try {
      const header = decodeProtectedHeader(token)
      const claims = decodeJwt(token)
      if (header.alg !== TOKEN_ALGORITHM) throw invalid(`tokens are signed with ${TOKEN_ALGORITHM}`)
      kid = header.kid
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
      if (claims.iss !== settings.issuer || !audiences.includes(settings.audience)) throw invalid('the token is for another issuer or audience')
      if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) throw invalid('the token has expired')
    } catch (err) {
      if (err instanceof ChatError) throw err
      throw invalid('the token is malformed', err)
    }
    if (typeof kid !== 'string' || !KID.test(kid)) throw invalid('the token names no valid key id')
    const key = await keys.resolve(kid)
    if (!key) throw invalid('the token was signed with an unknown key')
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ['sub', 'jti', 'exp'],
      })
      const userId = Number(payload.sub)
      if (!Number.isSafeInteger(userId) || userId < 1 || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') {
        throw invalid('the token\'s claims are malformed')
      }
      return { userId, sessionId: payload.jti, expiresAt: new Date(payload.exp * 1000) }
    } catch (err) {
      if (err instanceof ChatError) throw err
      if (err instanceof joseErrors.JOSEError) throw invalid(undefined, err)
      throw err
    }
  }
}
