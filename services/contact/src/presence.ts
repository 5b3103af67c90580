import type { Redis } from 'ioredis'
import { chunks } from './chunks.js'
import { LuaScript } from '@chat/runtime'

/*
 * Presence in Redis.
 *
 *   presence:<uid>        sorted set: member gatewayId, score = expiry (ms)
 *   presence:deadlines    sorted set: member "<uid>|<gatewayId>", score = expiry (ms)
 *
 * A user is *reported online* exactly while `presence:<uid>` exists (has at
 * least one gateway entry, fresh or expired-but-not-yet-swept). Every
 * script that changes a user set returns the users whose set went from
 * empty to non-empty or back, and only those are announced. Because each
 * script runs atomically, two replicas handling reports for the same user
 * can never both see the same transition, so watchers get one event per
 * transition, and `contact.list` (which reads the same "set exists" state)
 * always agrees with the events a watcher has received.
 *
 * Expiry is enforced by the sweep, not by Redis key TTLs: a key vanishing on
 * its own would be a transition nobody announces. Times come from the Redis
 * server clock (TIME), so replicas with skewed clocks agree on expiry.
 *
 * Key names built inside scripts (the sweep learns user ids from data, the
 * heartbeat gets thousands of them) need the client's keyPrefix passed in,
 * because ioredis prefixes only declared KEYS. Consequently these scripts
 * assume a single Redis primary, not Redis Cluster.
 */

/** Key of a user's gateway entries, without the client's keyPrefix. */
export const presenceKey = (userId: number | string) => `presence:${userId}`
/** Key of the global expiry index, without the client's keyPrefix. */
export const DEADLINES_KEY = 'presence:deadlines'

/** Separates user id and gateway id in deadline members; user ids are digits, so the first one splits. */
export const deadlineMember = (userId: number | string, gatewayId: string) => `${userId}|${gatewayId}`

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/**
 * Online and heartbeat: refresh (or create) this gateway's entry for each
 * user. KEYS[1] deadlines; ARGV[1] full presence key prefix, ARGV[2]
 * gatewayId, ARGV[3] ttl ms, ARGV[4..] user ids. Returns the user ids whose
 * set was empty, i.e. who just came online (after a Redis flush, everyone
 * the heartbeat lists).
 */
const TOUCH = new LuaScript(`${NOW_MS}
local expiry = now + tonumber(ARGV[3])
local gw = ARGV[2]
local cameOnline = {}
for i = 4, #ARGV do
  local uid = ARGV[i]
  local key = ARGV[1] .. uid
  if redis.call('EXISTS', key) == 0 then
    cameOnline[#cameOnline + 1] = uid
  end
  redis.call('ZADD', key, expiry, gw)
  redis.call('ZADD', KEYS[1], expiry, uid .. '|' .. gw)
end
return cameOnline
`)

/**
 * Offline: drop this gateway's entry, and any of the user's entries that
 * have already expired (a gateway that died), so the user is announced
 * offline now rather than at the next sweep. KEYS[1] presence:<uid>, KEYS[2]
 * deadlines; ARGV[1] user id, ARGV[2] gatewayId. Returns 1 when the user is
 * now offline. That is also the answer when there was no entry at all
 * (Redis lost it): watchers may still believe the user online, and telling
 * them "offline" again is harmless.
 */
const OFFLINE = new LuaScript(`${NOW_MS}
local uid = ARGV[1]
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], uid .. '|' .. ARGV[2])
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, gw in ipairs(stale) do
  redis.call('ZREM', KEYS[1], gw)
  redis.call('ZREM', KEYS[2], uid .. '|' .. gw)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
return 0
`)

/**
 * Sweep: process up to ARGV[2] due deadlines. KEYS[1] deadlines; ARGV[1]
 * full presence key prefix. Each due deadline is taken off the index (so
 * exactly one replica handles it); its entry is removed if still expired,
 * and a user left with no entry is returned. An entry refreshed without its
 * deadline (not done by these scripts, but cheap to tolerate) gets its
 * deadline back. Returns {number of deadlines taken, user ids now offline}.
 */
const SWEEP = new LuaScript(`${NOW_MS}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local wentOffline = {}
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, '|', 1, true)
  if sep then
    local uid = string.sub(member, 1, sep - 1)
    local gw = string.sub(member, sep + 1)
    local key = ARGV[1] .. uid
    local score = redis.call('ZSCORE', key, gw)
    if score then
      score = tonumber(score)
      if score > now then
        redis.call('ZADD', KEYS[1], score, member)
      else
        redis.call('ZREM', key, gw)
        if redis.call('EXISTS', key) == 0 then
          wentOffline[#wentOffline + 1] = uid
        end
      end
    end
  end
end
return {#due, wentOffline}
`)

/** At most this many users per heartbeat script call, so one call never blocks Redis for long. */
export const TOUCH_BATCH = 500
/** At most this many deadlines per sweep script call. */
export const SWEEP_BATCH = 500

/** Parses the user ids a script returns (Redis strings). */
function toIds (reply: unknown): number[] {
  return Array.isArray(reply) ? reply.map((v) => Number(v)).filter((n) => Number.isSafeInteger(n)) : []
}

/** Presence state in Redis; every method reports the transitions it caused. */
export class PresenceStore {
  private readonly keyPrefix: string

  constructor (private readonly redis: Redis, private readonly ttlMs: number) {
    // Scripts build user keys themselves, so they need the prefix ioredis would add.
    this.keyPrefix = (redis.options.keyPrefix ?? '') + presenceKey('')
  }

  /** Records a user on a gateway; true when the user just came online. */
  async online (userId: number, gatewayId: string): Promise<boolean> {
    return (await this.heartbeat(gatewayId, [userId])).length > 0
  }

  /** Refreshes a gateway's entries for all its users; returns those who just came online. */
  async heartbeat (gatewayId: string, userIds: readonly number[]): Promise<number[]> {
    const unique = [...new Set(userIds)]
    const cameOnline: number[] = []
    for (const batch of chunks(unique, TOUCH_BATCH)) {
      const reply = await TOUCH.run(this.redis, [DEADLINES_KEY], [this.keyPrefix, gatewayId, this.ttlMs, ...batch])
      cameOnline.push(...toIds(reply))
    }
    return cameOnline
  }

  /** Removes a user from a gateway; true when the user is now offline. */
  async offline (userId: number, gatewayId: string): Promise<boolean> {
    const reply = await OFFLINE.run(this.redis, [presenceKey(userId), DEADLINES_KEY], [userId, gatewayId])
    return reply === 1
  }

  /**
   * Expires due entries, one batch per script call, until none are due.
   * Returns the users who went offline. `maxBatches` bounds one run so a
   * backlog is worked off over several runs instead of starving the rest.
   */
  async sweep (maxBatches = 20): Promise<number[]> {
    const wentOffline: number[] = []
    for (let i = 0; i < maxBatches; i++) {
      const reply = await SWEEP.run(this.redis, [DEADLINES_KEY], [this.keyPrefix, SWEEP_BATCH])
      const [taken, users] = Array.isArray(reply) ? reply : [0, []]
      wentOffline.push(...toIds(users))
      if (Number(taken) < SWEEP_BATCH) break
    }
    return wentOffline
  }

  /** Whether each user is online, in the order given: one pipelined round trip. */
  async isOnline (userIds: readonly number[]): Promise<boolean[]> {
    if (userIds.length === 0) return []
    const pipeline = this.redis.pipeline()
    for (const id of userIds) pipeline.exists(presenceKey(id))
    const results = (await pipeline.exec()) ?? []
    return userIds.map((_, i) => {
      const [err, value] = results[i] ?? [new Error('missing pipeline reply'), 0]
      if (err) throw err
      return value === 1
    })
  }
}
