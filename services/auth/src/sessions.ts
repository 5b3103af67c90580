import type { Collection, Db } from 'mongodb'
import { findWhereIn, type CacheFallback, type Logger, type Redis } from '@chat/runtime'

/** A login, as stored in `sessions`. Its `_id` is the token's `jti`. */
export interface SessionDoc {
  _id: string
  userId: number
  createdAt: Date
  expiresAt: Date
  /** Set once, when the session is logged out or ended by a password change. */
  revokedAt?: Date
}

/** What a session id stands for right now: its user, or nothing if it may not be used. */
export type SessionState = { userId: number } | undefined

/** Redis key caching a session's state: `u:<userId>` while usable, `revoked` once not. */
const cacheKey = (sessionId: string) => `session:${sessionId}`
const REVOKED = 'revoked'
/** How long a "still valid" answer is cached; revocations overwrite it at once. */
const VALID_CACHE_MS = 60_000

/**
 * Session records. MongoDB is the truth, so a session revoked there stays
 * revoked whatever happens to Redis (a flush, an eviction, a failover);
 * Redis only saves the lookups. Sessions are read by `_id` only, in batches:
 * FerretDB scans a collection for any other filter.
 */
export class SessionStore {
  readonly collection: Collection<SessionDoc>

  constructor (
    db: Db,
    private readonly redis: Redis,
    private readonly logger: Logger,
    /** A failed read of the session cache counts as a miss for every id (counted, logged): MongoDB answers them all. */
    private readonly cacheFallback: CacheFallback
  ) {
    this.collection = db.collection<SessionDoc>('sessions')
  }

  async init (): Promise<void> {
    // Finding a user's sessions is rare (a password change) and needs this index on MongoDB.
    await this.collection.createIndex({ userId: 1 })
    try {
      await this.collection.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 })
    } catch (err) {
      // FerretDB v1 has no TTL indexes: expired records are then kept; they are refused all the same.
      this.logger.info({ reason: (err as Error).message }, 'no TTL index on sessions.expiresAt; expired sessions are kept')
    }
  }

  /** Records a new session; it must exist before its token is handed out. */
  async create (doc: SessionDoc): Promise<void> {
    await this.collection.insertOne(doc)
  }

  /** The state of each session: from the cache where it has it, else from MongoDB. */
  async states (sessionIds: readonly string[]): Promise<Map<string, SessionState>> {
    const ids = [...new Set(sessionIds)]
    const result = new Map<string, SessionState>()
    if (ids.length === 0) return result
    // Redis failing: nothing is cached, so every id is read from MongoDB below.
    const cached = await this.cacheFallback.read<(string | null)[]>('sessions', () => this.redis.mget(ids.map(cacheKey)), async () => [])
    const missing: string[] = []
    ids.forEach((id, i) => {
      const value = cached[i]
      if (value === REVOKED) result.set(id, undefined)
      else if (typeof value === 'string' && value.startsWith('u:')) result.set(id, { userId: Number(value.slice(2)) })
      else missing.push(id)
    })
    if (missing.length === 0) return result
    const now = Date.now()
    const docs = await findWhereIn(this.collection, '_id', missing)
    const found = new Map(docs.map((d) => [d._id, d]))
    const pipeline = this.redis.pipeline()
    for (const id of missing) {
      const doc = found.get(id)
      const usable = doc !== undefined && doc.revokedAt == null && doc.expiresAt.getTime() > now
      result.set(id, usable ? { userId: doc.userId } : undefined)
      if (usable) {
        // NX: a revocation written meanwhile must win over this older read.
        pipeline.set(cacheKey(id), `u:${doc.userId}`, 'PX', Math.min(VALID_CACHE_MS, doc.expiresAt.getTime() - now), 'NX')
      } else if (doc !== undefined) {
        const ttl = doc.expiresAt.getTime() - now
        if (ttl > 0) pipeline.set(cacheKey(id), REVOKED, 'PX', ttl)
      }
      // Unknown ids are not cached: anyone may ask about made-up ones.
    }
    await pipeline.exec().catch((err: unknown) => this.logger.warn({ err }, 'could not cache session states'))
    return result
  }

  /** The state of one session. */
  async state (sessionId: string): Promise<SessionState> {
    return (await this.states([sessionId])).get(sessionId)
  }

  /**
   * Revokes sessions at `at`: MongoDB first (durable), then the cache. A
   * session that does not exist stays nonexistent, which is refused just
   * the same; one already revoked keeps its first `revokedAt`. Returns how
   * many were revoked by this call.
   */
  async revoke (sessions: readonly Pick<SessionDoc, '_id' | 'expiresAt'>[], at = new Date()): Promise<number> {
    if (sessions.length === 0) return 0
    const ids = sessions.map((s) => s._id)
    // One session (a logout) by equality: FerretDB reads a whole collection for `$in`.
    const { modifiedCount } = await this.collection.updateMany(
      { _id: ids.length === 1 ? ids[0] as string : { $in: ids }, revokedAt: { $exists: false } },
      { $set: { revokedAt: at } }
    )
    const pipeline = this.redis.pipeline()
    const now = Date.now()
    for (const s of sessions) {
      const ttl = s.expiresAt.getTime() - now
      if (ttl > 0) pipeline.set(cacheKey(s._id), REVOKED, 'PX', ttl)
    }
    await pipeline.exec().catch((err: unknown) => {
      // The valid entry expires within VALID_CACHE_MS; MongoDB already says revoked.
      this.logger.warn({ err }, 'could not cache session revocations')
    })
    return modifiedCount
  }

  /** A user's sessions that are neither revoked nor expired. */
  async activeOf (userId: number): Promise<SessionDoc[]> {
    const now = Date.now()
    const docs = await this.collection.find({ userId }).toArray()
    return docs.filter((d) => d.revokedAt == null && d.expiresAt.getTime() > now)
  }
}
