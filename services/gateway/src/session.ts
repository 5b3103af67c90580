import type { IncomingHttpHeaders } from 'node:http'
import { ChatError, Commands, type Jwks, type Session, type Subjects } from '@chat/contracts'
import {
  createTokenVerifier, KeySet,
  type CommandClient, type Logger, type NatsConnection, type Subscription, type TokenClaims, type TokenSettings,
} from '@chat/runtime'

/** A token naming an unknown key makes a gateway ask auth for the key set at most this often. */
export const JWKS_REFETCH_MIN_MS = 1000

/**
 * The public keys tokens are verified with, as auth publishes them
 * (auth.jwks). Fetched at start, again whenever auth announces a change
 * (`evt.auth.jwks.changed`), every `refreshMs` (so retired keys are
 * dropped), and when a token names a key not yet known — at most once per
 * JWKS_REFETCH_MIN_MS, so made-up key ids can't make a gateway hammer auth.
 * A gateway holds no private key and no secret.
 */
export class GatewayKeys {
  private readonly keySet: KeySet
  private readonly changes: Subscription
  private readonly timer: NodeJS.Timeout
  /** Verifies a token's signature, key, algorithm, issuer, audience and expiry locally. */
  readonly verify: (token: string) => Promise<TokenClaims>

  constructor (opts: {
    nc: NatsConnection
    commands: CommandClient
    subjects: Subjects
    tokens: TokenSettings
    refreshMs: number
    logger: Logger
  }) {
    this.keySet = new KeySet(() => opts.commands.call(Commands.auth.jwks, {}), { minRefetchMs: JWKS_REFETCH_MIN_MS })
    this.verify = createTokenVerifier(opts.tokens, this.keySet)
    const refresh = (why: string) => {
      this.keySet.refresh().catch((err: unknown) => opts.logger.warn({ err, why }, 'could not fetch the token keys from auth'))
    }
    // Auth may start after us: a failed first fetch is retried by the first token that needs a key.
    refresh('start')
    this.changes = opts.nc.subscribe(opts.subjects.jwksChanged, { callback: (err) => { if (!err) refresh('changed') } })
    this.timer = setInterval(() => refresh('periodic'), opts.refreshMs)
    this.timer.unref()
  }

  /** The key set to publish: fetched first if none has been yet (rate-limited). */
  async jwks (): Promise<Jwks> {
    if (this.keySet.current.keys.length === 0) await this.keySet.refreshSoon()
    return this.keySet.current
  }

  /** Stops refreshing. */
  close (): void {
    clearInterval(this.timer)
    this.changes.unsubscribe()
  }
}

/**
 * Establishes who a client is. The signature, algorithm, issuer, audience and
 * expiry are checked locally first, so garbage never costs a round trip;
 * whether the session still exists and the current profile come from the
 * auth service once per login, never per frame.
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
