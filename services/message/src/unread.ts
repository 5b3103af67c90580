import type { Redis } from 'ioredis'
import { LuaScript } from '@chat/runtime'
import type { ConversationStore } from './conversations.js'
import { readMark } from './conversations.js'
import type { MessageStore } from './messages.js'

/**
 * Unread counts. The truth is MongoDB (each member's read marks and the
 * messages after them); Redis holds a per-user cache that every
 * client-facing read uses, rebuilt from MongoDB whenever it is missing (a
 * flushed or evicted Redis, or a user never counted), so losing Redis loses
 * nothing.
 *
 * Layout: hash `unread:<userId>`, field conversationId → count (only counts
 * above zero are kept), plus the sentinel field `_` meaning "this hash is
 * complete". Every write is conditional on the sentinel, in a script, so a
 * hash is either complete or absent: an increment never lands in a hash that
 * a rebuild will then ignore, and a partial hash is never read as complete.
 *
 * Known limit: a snapshot (a rebuild, or the recount after a read or clear)
 * and an increment can overlap. A message stored just before the snapshot's
 * count whose increment lands just after it is counted twice; one stored
 * just after the count whose increment was swallowed by an absolute write
 * is missed. Only messages in flight during a snapshot are affected, and
 * the next read of that conversation or rebuild of that user is exact
 * again. With the hash present and no recount running (the normal case),
 * increments are exact; after a flush, a quiet rebuild is exact. Exactness
 * under every overlap would need per-message bookkeeping in Redis (seq
 * watermarks and holes), which costs more than it is worth for a badge.
 */

/** The field marking a user's hash as complete. */
export const UNREAD_SENTINEL = '_'

/** Redis key of one user's unread hash (the client adds REDIS_PREFIX). */
export function unreadKey (userId: number): string {
  return `unread:${userId}`
}

/** Where rebuilt counts come from: the MongoDB truth. */
export interface UnreadSource {
  /** Every conversation of the user with a count above zero. */
  countAll(userId: number): Promise<Map<number, number>>
  /** The user's count in one conversation. */
  countOne(userId: number, conversationId: number): Promise<number>
}

/** Counts unread messages from MongoDB. */
export class MongoUnreadSource implements UnreadSource {
  constructor (
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
    /** Conversations counted per aggregation. */
    private readonly batchSize = 200
  ) {}

  async countAll (userId: number): Promise<Map<number, number>> {
    const members = await this.conversations.membershipsOf(userId)
    const out = new Map<number, number>()
    // In batches, so a user in very many conversations never has them all in
    // flight. The conversations' own seq is deliberately not used to skip
    // any: it is a hint that can lag on servers without atomic updates.
    for (let i = 0; i < members.length; i += this.batchSize) {
      const part = members.slice(i, i + this.batchSize).map((m) => ({ conversationId: m.conversationId, mark: readMark(m) }))
      for (const [k, v] of await this.messages.countUnreadMany(userId, part)) out.set(k, v)
    }
    return out
  }

  async countOne (userId: number, conversationId: number): Promise<number> {
    const m = await this.conversations.member(conversationId, userId)
    // No member document means no membership to count, the same as countAll.
    return m ? this.messages.countUnread(conversationId, userId, readMark(m)) : 0
  }
}

/** HINCRBY only into a complete hash; -1 when the hash must be rebuilt. */
const INCREMENT = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], '${UNREAD_SENTINEL}') == 0 then return -1 end
return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])`)

/** Sets one count (deleting zeros) only in a complete hash; -1 when the hash must be rebuilt. */
const SET = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], '${UNREAD_SENTINEL}') == 0 then return -1 end
local n = tonumber(ARGV[2])
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], n) end
return n`)

/**
 * Writes a rebuilt hash with its sentinel, atomically and only if no other
 * rebuild finished first (1 written, 0 lost). Conditional rather than a
 * blind MULTI overwrite so a slower rebuild with an older snapshot cannot
 * wipe out increments that landed in the faster one.
 */
const FILL = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], '${UNREAD_SENTINEL}') == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '${UNREAD_SENTINEL}', '1')
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1`)

/**
 * The many-user forms (a room message, a deletion, a room removed): one
 * script call per batch of users, every batch in one pipeline, so the whole
 * change is one round trip whatever the room's size. Each key is handled as
 * by the single-user scripts; -1 marks a user whose hash is missing (it is
 * left alone: its rebuild counts from MongoDB, which already has the change).
 */
const INCREMENT_MANY = new LuaScript(`
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, '${UNREAD_SENTINEL}') == 0 then out[i] = -1
  else out[i] = redis.call('HINCRBY', key, ARGV[1], ARGV[2]) end
end
return out`)

/** Takes one off a count (never below zero, zeros deleted). */
const DECREMENT_MANY = new LuaScript(`
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, '${UNREAD_SENTINEL}') == 0 then out[i] = -1
  else
    local n = 0
    if redis.call('HEXISTS', key, ARGV[1]) == 1 then
      n = redis.call('HINCRBY', key, ARGV[1], -1)
      if n <= 0 then redis.call('HDEL', key, ARGV[1]); n = 0 end
    end
    out[i] = n
  end
end
return out`)

/** Removes a conversation's count; returns what it was (0 when none). */
const DROP_MANY = new LuaScript(`
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, '${UNREAD_SENTINEL}') == 0 then out[i] = -1
  else
    local old = tonumber(redis.call('HGET', key, ARGV[1]) or '0')
    redis.call('HDEL', key, ARGV[1])
    out[i] = old
  end
end
return out`)

/** Keys per script call: bounds how long one call holds Redis. */
const MANY_BATCH = 500

/** The Redis side of unread counts; rebuilds from its source when a hash is missing. */
export class UnreadCache {
  constructor (private readonly redis: Redis, private readonly source: UnreadSource) {}

  /** Adds to one count (a message was stored); returns the new count. */
  async increment (userId: number, conversationId: number, by = 1): Promise<number> {
    const n = Number(await INCREMENT.run(this.redis, [unreadKey(userId)], [String(conversationId), by]))
    if (n >= 0) return n
    // The rebuild counts from MongoDB after the message was stored, so it
    // already includes it: no increment on top.
    return this.rebuildFor(userId, conversationId)
  }

  /** Recounts one conversation from MongoDB (after a read or a clear); returns the count. */
  async refresh (userId: number, conversationId: number): Promise<number> {
    const count = await this.source.countOne(userId, conversationId)
    const n = Number(await SET.run(this.redis, [unreadKey(userId)], [String(conversationId), count]))
    if (n >= 0) return count
    return this.rebuildFor(userId, conversationId)
  }

  /**
   * Recounts one conversation from MongoDB and stores the count where the
   * user's counts are cached, but never rebuilds a missing hash: a send's
   * background recount must not fill one while later messages of the
   * conversation are between their insert and their increment (the fill
   * would count them and the increment again); the user's next read
   * rebuilds it instead, with nothing in flight for it.
   */
  async recount (userId: number, conversationId: number): Promise<number> {
    const count = await this.source.countOne(userId, conversationId)
    await SET.run(this.redis, [unreadKey(userId)], [String(conversationId), count])
    return count
  }

  /** One cached count, without rebuilding (undefined when the hash is missing). */
  async peek (userId: number, conversationId: number): Promise<number | undefined> {
    const [complete, value] = await this.redis.hmget(unreadKey(userId), UNREAD_SENTINEL, String(conversationId))
    if (complete === null) return undefined
    return value === null ? 0 : Number(value)
  }

  /** Every count above zero of a user, rebuilding the hash if it is missing. */
  async all (userId: number): Promise<Map<number, number>> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const hash = await this.redis.hgetall(unreadKey(userId))
      if (Object.hasOwn(hash, UNREAD_SENTINEL)) return parseHash(hash)
      const counts = await this.source.countAll(userId)
      if (await this.fill(userId, counts)) return counts
      // Another rebuild won meanwhile: read what it wrote.
    }
    return this.source.countAll(userId)
  }

  /**
   * Adds to one conversation's count of many users in one round trip (a
   * room message). Users whose hash is missing are skipped (undefined): the
   * message is stored, so their rebuild on next use counts it.
   */
  incrementMany (userIds: readonly number[], conversationId: number, by = 1): Promise<Map<number, number | undefined>> {
    return this.many(INCREMENT_MANY, userIds, [String(conversationId), by])
  }

  /** Takes one off many users' counts of a conversation (a message they had not read was deleted). */
  decrementMany (userIds: readonly number[], conversationId: number): Promise<Map<number, number | undefined>> {
    return this.many(DECREMENT_MANY, userIds, [String(conversationId)])
  }

  /** Removes a conversation's count from many users (it was deleted, or they left); returns the old counts. */
  dropMany (userIds: readonly number[], conversationId: number): Promise<Map<number, number | undefined>> {
    return this.many(DROP_MANY, userIds, [String(conversationId)])
  }

  /**
   * Several cached counts of one user in one round trip, without
   * rebuilding; undefined when the hash is missing.
   */
  async peekMany (userId: number, conversationIds: readonly number[]): Promise<Map<number, number> | undefined> {
    if (conversationIds.length === 0) return new Map()
    const values = await this.redis.hmget(unreadKey(userId), UNREAD_SENTINEL, ...conversationIds.map(String))
    if (values[0] === null) return undefined
    const out = new Map<number, number>()
    conversationIds.forEach((id, i) => {
      const v = values[i + 1]
      out.set(id, v === null || v === undefined ? 0 : Math.max(0, Number(v)))
    })
    return out
  }

  /**
   * Runs a many-key script over batches of users in one pipeline. A batch
   * refused with NOSCRIPT did nothing, so only those are sent again (with the
   * source); the others must not run twice.
   */
  private async many (script: LuaScript, userIds: readonly number[], args: Array<string | number>): Promise<Map<number, number | undefined>> {
    const out = new Map<number, number | undefined>()
    if (userIds.length === 0) return out
    const batches: number[][] = []
    for (let i = 0; i < userIds.length; i += MANY_BATCH) batches.push(userIds.slice(i, i + MANY_BATCH))
    const keysOf = (batch: number[]) => batch.map(unreadKey)
    const pipeline = this.redis.pipeline()
    for (const batch of batches) pipeline.evalsha(script.sha, batch.length, ...keysOf(batch), ...args)
    const results = (await pipeline.exec()) ?? []
    const record = (batch: number[], value: unknown) => {
      const values = Array.isArray(value) ? value : []
      batch.forEach((uid, i) => {
        const n = Number(values[i])
        out.set(uid, Number.isFinite(n) && n >= 0 ? n : undefined)
      })
    }
    const retry: number[][] = []
    batches.forEach((batch, i) => {
      const [err, value] = results[i] ?? [new Error('no reply'), undefined]
      if (err) {
        if (err instanceof Error && err.message.startsWith('NOSCRIPT')) retry.push(batch)
        else throw err
      } else {
        record(batch, value)
      }
    })
    if (retry.length > 0) {
      const again = this.redis.pipeline()
      for (const batch of retry) again.eval(script.source, batch.length, ...keysOf(batch), ...args)
      const replies = (await again.exec()) ?? []
      retry.forEach((batch, i) => {
        const [err, value] = replies[i] ?? [new Error('no reply'), undefined]
        if (err) throw err
        record(batch, value)
      })
    }
    return out
  }

  /** Drops a user's hash; the next use rebuilds it. */
  async forget (userId: number): Promise<void> {
    await this.redis.del(unreadKey(userId))
  }

  /** Drops many users' hashes in one round trip. */
  async forgetMany (userIds: readonly number[]): Promise<void> {
    if (userIds.length === 0) return
    const pipeline = this.redis.pipeline()
    for (let i = 0; i < userIds.length; i += MANY_BATCH) pipeline.del(...userIds.slice(i, i + MANY_BATCH).map(unreadKey))
    await pipeline.exec()
  }

  private async fill (userId: number, counts: Map<number, number>): Promise<boolean> {
    const args: string[] = []
    for (const [conversationId, count] of counts) if (count > 0) args.push(String(conversationId), String(count))
    return Number(await FILL.run(this.redis, [unreadKey(userId)], args)) === 1
  }

  /**
   * Rebuilds the user's hash because it was missing, and returns the count
   * of the conversation at hand. If another rebuild finished first, its
   * snapshot may predate the change being recorded, so that one
   * conversation is recounted and set on top of it.
   */
  private async rebuildFor (userId: number, conversationId: number): Promise<number> {
    const counts = await this.source.countAll(userId)
    if (await this.fill(userId, counts)) return counts.get(conversationId) ?? 0
    const count = await this.source.countOne(userId, conversationId)
    await SET.run(this.redis, [unreadKey(userId)], [String(conversationId), count])
    return count
  }
}

function parseHash (hash: Record<string, string>): Map<number, number> {
  const out = new Map<number, number>()
  for (const [field, value] of Object.entries(hash)) {
    if (field === UNREAD_SENTINEL) continue
    const conversationId = Number(field)
    const count = Number(value)
    if (Number.isSafeInteger(conversationId) && count > 0) out.set(conversationId, count)
  }
  return out
}
