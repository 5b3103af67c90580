import {
  ChatError, Commands, listAvatar, type Jwks, type JwksChangedEvent, type Session, type SessionRevokedEvent, type SessionRevokedReason,
} from '@chat/contracts'
import {
  Batcher, CacheFallback, createIdGenerator, createTokenVerifier, fitToBudget, jsonBytes, KeySet, openDomainOutbox, publishJson, recordChange,
  replyBudgetBytes, signToken,
  type DomainEventSettings, type ServiceDeps, type ServiceParts, type SigningKey, type TokenClaims, type TokenSettings,
} from '@chat/runtime'
import { DEFAULT_LOGIN_THROTTLE } from './config.js'
import { changedFields, confirmAuthEvents, sessionRevoked, userRegistered, userUpdated } from './domain-events.js'
import { accountKey, LoginThrottle, type LoginThrottleSettings } from './login-throttle.js'
import { dummyHashFor, hashPassword, needsRehash, SCRYPT_PARAMS, verifyPassword, type ScryptParams } from './passwords.js'
import { pageOf, searchPage, searchPattern } from './search.js'
import { SessionStore, type SessionState } from './sessions.js'
import { SigningKeys } from './signing-keys.js'
import { NAME_FIELDS, toOwnUser, toPublicUser, toUserName, UserStore, type UserDoc } from './store.js'
import { RoomTickets } from './tickets.js'

export interface AuthOptions {
  tokens: TokenSettings
  /** The configured signing key (TOKEN_PRIVATE_KEY); absent: the one kept in MongoDB. */
  signingKey?: SigningKey
  /** How often the signing keys are re-read from MongoDB (SIGNING_KEY_REFRESH_MS). */
  signingKeyRefreshMs: number
  tokenTtlSeconds: number
  /** Lifetime of a room ticket (ROOM_TICKET_TTL_MS), at most 5 minutes. */
  roomTicketTtlMs: number
  /** Largest reply in bytes; by default what the NATS server accepts. */
  replyBudgetBytes?: number
  /** Failed-login throttling (LOGIN_THROTTLE_*); by default the schema's defaults. */
  loginThrottle?: LoginThrottleSettings
  /** Password hashing cost (PASSWORD_SCRYPT_LOG2_N); by default OWASP's minimum, SCRYPT_PARAMS. */
  scrypt?: ScryptParams
  /** The domain-event stream (EVENTS_*) and outbox (OUTBOX_*) settings; NATS_PREFIX names them. */
  domainEvents: DomainEventSettings
}

/** A token with an unknown key id makes auth re-read its keys at most this often. */
const KEY_REFETCH_MIN_MS = 1000

/** Builds the auth service's command handlers over its open connections. */
/** Most users one resume query reads. */
const RESUME_BATCH = 100

export async function buildAuthService (deps: ServiceDeps, opts: AuthOptions): Promise<ServiceParts> {
  const { redis, nc, subjects } = deps
  const store = new UserStore(deps.db)
  const scrypt = opts.scrypt ?? SCRYPT_PARAMS
  const dummyHash = dummyHashFor(scrypt)
  const sessions = new SessionStore(deps.db, redis, deps.logger, new CacheFallback({ logger: deps.logger, registry: deps.registry }))
  await Promise.all([store.init(), sessions.init()])
  const outbox = await openDomainOutbox(deps, 'auth', opts.domainEvents, (events) => confirmAuthEvents(store.users, sessions.collection, events))
  const signingKeys = new SigningKeys(deps.db, {
    configured: opts.signingKey,
    tokenTtlSeconds: opts.tokenTtlSeconds,
    refreshMs: opts.signingKeyRefreshMs,
    logger: deps.logger,
    onChange: (jwks) => {
      keySet.replace(jwks)
      const event: JwksChangedEvent = { kids: jwks.keys.map((k) => k.kid) }
      publishJson(nc, subjects.jwksChanged, event)
    },
  })
  // Tokens of other replicas' keys (a rotation in progress) are found by re-reading MongoDB.
  const keySet: KeySet = new KeySet(async () => {
    await signingKeys.reload()
    return signingKeys.jwks
  }, { minRefetchMs: KEY_REFETCH_MIN_MS })
  await signingKeys.start().catch(async (err: unknown) => {
    await outbox.close(0)
    throw err
  })
  const ids = await createIdGenerator(redis, deps.logger).catch(async (err: unknown) => {
    await signingKeys.close()
    await outbox.close(0)
    throw err
  })
  const verify = createTokenVerifier(opts.tokens, keySet)
  const tickets = new RoomTickets(redis, opts.roomTicketTtlMs)
  const budget = opts.replyBudgetBytes ?? replyBudgetBytes(nc)
  const throttle = new LoginThrottle(redis, opts.loginThrottle ?? DEFAULT_LOGIN_THROTTLE)

  /** Starts a session: its record first, so the token is never valid without one. */
  async function issue (user: UserDoc): Promise<Session> {
    const { token, claims } = await signToken(opts.tokens, signingKeys.active, user._id, opts.tokenTtlSeconds)
    await sessions.create({ _id: claims.sessionId, userId: user._id, createdAt: new Date(), expiresAt: claims.expiresAt })
    return { user: toOwnUser(user), token, sessionId: claims.sessionId, expiresAt: claims.expiresAt.toISOString() }
  }

  /** Sessions of concurrent checks (a reconnect storm), looked up together where Redis lost them. */
  const checkingSessions = new Batcher<string, SessionState>(async (ids) => {
    const states = await sessions.states(ids)
    return ids.map((id) => states.get(id))
  }, RESUME_BATCH)

  /** A token's claims, if its signature holds and its session exists, is the user's and is not revoked. */
  async function verifySession (token: string): Promise<TokenClaims> {
    const claims = await verify(token)
    const state = await checkingSessions.submit(claims.sessionId)
    if (state?.userId !== claims.userId) throw new ChatError('CHAT_TOKEN_INVALID', 'The token was revoked')
    return claims
  }

  /**
   * Users of concurrent resumes, read together: in a reconnect storm
   * thousands of sockets resume at once, and one query per batch replaces
   * one per socket. A lone resume waits for nothing (Batcher).
   */
  const resumingUsers = new Batcher<number, UserDoc | null>(async (ids) => {
    const found = new Map((await store.byIds([...new Set(ids)])).map((u) => [u._id, u]))
    return ids.map((id) => found.get(id) ?? null)
  }, RESUME_BATCH)

  /** The session a token stands for, unless it is invalid, expired, revoked or its user gone. */
  async function resume (token: string): Promise<Session> {
    const claims = await verifySession(token)
    const user = await resumingUsers.submit(claims.userId)
    if (!user) throw new ChatError('CHAT_TOKEN_INVALID', 'The user no longer exists')
    return { user: toOwnUser(user), token, sessionId: claims.sessionId, expiresAt: claims.expiresAt.toISOString() }
  }

  /**
   * Ends sessions durably (their `session.revoked` domain events recorded
   * first), then tells every gateway to close their sockets.
   */
  async function endSessions (userId: number, ended: { _id: string, expiresAt: Date }[], reason: SessionRevokedReason): Promise<void> {
    const at = new Date()
    const events = ended.map((s) => sessionRevoked(userId, s._id, reason, at))
    // All revoked now: published; none (all were already): nothing; some: each confirmed from MongoDB.
    await recordChange(outbox, events, () => sessions.revoke(ended, at), (n) => n === ended.length ? true : n === 0 ? false : 'unsure')
    for (const s of ended) {
      const event: SessionRevokedEvent = { sessionId: s._id, userId, expiresAt: s.expiresAt.toISOString() }
      publishJson(nc, subjects.sessionRevoked, event)
    }
  }

  return {
    close: async () => {
      await signingKeys.close()
      await outbox.close()
      await ids.close()
    },
    checks: { ids: () => ids.worker !== undefined },
    handlers: {
      [Commands.auth.register]: async (req) => {
        const now = new Date()
        const user: UserDoc = {
          _id: ids.next(),
          username: req.username.normalize('NFC'),
          usernameKey: req.username.normalize('NFC').toLowerCase(),
          email: req.email?.trim() ?? '',
          passwordHash: await hashPassword(req.password, scrypt),
          nickname: req.nickname ?? '',
          avatar: req.avatar ?? '',
          createdAt: now,
          updatedAt: now,
        }
        await recordChange(outbox, [userRegistered(user)], async () => {
          if (user.email !== '') await store.claimEmail(user.email, user._id)
          try {
            await store.insert(user)
          } catch (err) {
            await store.releaseEmail(user.email, user._id)
            throw err
          }
        })
        return issue(user)
      },

      // Throttled per account and per client address (login-throttle.ts):
      // an attempt counts as failed until its password proved right.
      [Commands.auth.login]: async (req, { logger }) => {
        const user = await store.byLogin(req.login)
        const attempt = await throttle.begin(accountKey(user?._id, req.login), req.clientAddress)
        const ok = await verifyPassword(req.password, user?.passwordHash ?? dummyHash)
        if (!user || !ok) throw new ChatError('CHAT_BAD_CREDENTIALS')
        await throttle.succeeded(attempt)
        // A hash made with weaker parameters than today's is replaced now,
        // while the password is at hand; unless it changed meanwhile.
        if (needsRehash(user.passwordHash, scrypt)) {
          const passwordHash = await hashPassword(req.password, scrypt)
          await store.users.updateOne({ _id: user._id, passwordHash: user.passwordHash }, { $set: { passwordHash } })
            .catch((err: unknown) => { logger.warn({ err, userId: user._id }, 'login: storing the upgraded password hash failed') })
        }
        return issue(user)
      },

      [Commands.auth.resume]: (req) => resume(req.token),

      // The ticket carries the session's token: redeeming resumes it, so a
      // session revoked after the ticket was issued can't use it.
      [Commands.auth.issueTicket]: async (req) => {
        const claims = await verifySession(req.token)
        if (claims.userId !== req.actorId) throw new ChatError('CHAT_ID_MISMATCH')
        const { ticket, expiresAt } = await tickets.issue({ userId: req.actorId, roomId: req.roomId, token: req.token })
        return { ticket, expiresAt: expiresAt.toISOString() }
      },

      [Commands.auth.redeemTicket]: async (req) => {
        const grant = await tickets.redeem(req.ticket)
        const session = await resume(grant.token)
        if (session.user.id !== grant.userId) throw new ChatError('CHAT_TOKEN_INVALID')
        return { session, roomId: grant.roomId }
      },

      [Commands.auth.logout]: async (req) => {
        const claims = await verify(req.token)
        if (claims.userId !== req.actorId) throw new ChatError('CHAT_ID_MISMATCH')
        await endSessions(claims.userId, [{ _id: claims.sessionId, expiresAt: claims.expiresAt }], 'logout')
        return {}
      },

      [Commands.auth.jwks]: async (): Promise<Jwks> => await signingKeys.fresh(KEY_REFETCH_MIN_MS),

      [Commands.auth.checkSessions]: async (req) => {
        const states = await sessions.states(req.sessionIds)
        return { revoked: req.sessionIds.filter((id) => states.get(id) === undefined) }
      },

      [Commands.auth.updateProfile]: async (req) => {
        const current = await store.byId(req.actorId)
        if (!current) throw new ChatError('CHAT_USER_NOT_FOUND')
        const set: Partial<UserDoc> = { updatedAt: new Date() }
        if (req.username !== undefined) {
          set.username = req.username.normalize('NFC')
          set.usernameKey = set.username.toLowerCase()
        }
        if (req.nickname !== undefined) set.nickname = req.nickname
        if (req.avatar !== undefined) set.avatar = req.avatar
        if (req.password !== undefined) {
          // A stolen session alone must not be able to lock the owner out.
          const ok = req.currentPassword !== undefined && await verifyPassword(req.currentPassword, current.passwordHash)
          if (!ok) throw new ChatError('CHAT_CURRENT_PASSWORD_INVALID')
          set.passwordHash = await hashPassword(req.password, scrypt)
        }
        const newEmail = req.email?.trim()
        const emailChanged = newEmail !== undefined && newEmail.toLowerCase() !== current.email.toLowerCase()
        if (emailChanged) set.email = newEmail
        const changed = changedFields(current, set)
        const events = changed.length === 0 ? [] : [userUpdated(current._id, changed, set, set.updatedAt as Date)]
        const updated = await recordChange(outbox, events, async () => {
          if (emailChanged) await store.claimEmail(newEmail, current._id)
          try {
            return await store.update(current._id, set)
          } catch (err) {
            if (emailChanged) await store.releaseEmail(newEmail, current._id)
            throw err
          }
        })
        if (emailChanged) await store.releaseEmail(current.email, current._id)
        if (req.password !== undefined) {
          // A new password ends every other login: whoever knew the old one is out.
          const others = (await sessions.activeOf(current._id)).filter((s) => s._id !== req.sessionId)
          await endSessions(current._id, others, 'password-changed')
        }
        return { user: toOwnUser(updated) }
      },

      [Commands.auth.getUsers]: async (req) => {
        const [byId, byName] = await Promise.all([store.byIds(req.ids ?? []), store.byUsernames(req.usernames ?? [])])
        const seen = new Map<number, UserDoc>()
        for (const u of [...byId, ...byName]) seen.set(u._id, u)
        const all = [...seen.values()].map(toPublicUser)
        const fitted = fitToBudget(all, jsonBytes, budget, false)
        if (!fitted.truncated) return { users: all }
        return { users: fitted.items, omittedIds: all.slice(fitted.items.length).map((u) => u.id) }
      },

      [Commands.auth.getNames]: async (req) => {
        const [byId, byName] = await Promise.all([store.byIds(req.ids ?? [], NAME_FIELDS), store.byUsernames(req.usernames ?? [], NAME_FIELDS)])
        const seen = new Map<number, UserDoc>()
        for (const u of [...byId, ...byName]) seen.set(u._id, u)
        return { users: [...seen.values()].map(toUserName) }
      },

      // Anyone logged in may search; the actor is not left out (they may find themselves).
      [Commands.auth.searchUsers]: async (req) => {
        const pattern = searchPattern(req.query)
        if (pattern === undefined) return { users: [], hasMore: false }
        const { limit, offset } = searchPage(req)
        const page = pageOf(await store.search(pattern, offset, limit + 1), limit)
        // A list: names and short avatar URLs, never 256 KiB data URIs.
        return { users: page.items.map((u) => ({ ...toPublicUser(u), ...listAvatar(u.avatar) })), hasMore: page.hasMore }
      },
    },
  }
}
