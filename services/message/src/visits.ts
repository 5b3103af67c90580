import type { Redis } from 'ioredis'

/**
 * How long a visit record outlives its last change. A gateway that dies
 * without ending its visits leaves them behind: the user then stays a
 * member (nothing is lost), and the record goes after this long.
 */
const VISIT_TTL_MS = 24 * 3600_000

/** The field that notes a visit made the user a member; visit ids always contain a colon. */
const JOINED = 'joined'

/**
 * Ends a visit. When no visit is left, deletes the record and returns 1 if
 * a visit had made the user a member (so they leave again), else 0. An
 * unknown visit (ended twice) changes nothing.
 * KEYS: the record. ARGV: visit id, joined field.
 */
const END = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local joined = redis.call('HEXISTS', KEYS[1], ARGV[2])
if redis.call('HLEN', KEYS[1]) - joined > 0 then return 0 end
redis.call('DEL', KEYS[1])
return joined`

const visitsKey = (roomId: number, userId: number) => `room-visits:${roomId}:${userId}`

/**
 * Which sockets of a user are present in a room (the `rooms` API's
 * `/ws/room`), across gateway replicas, and whether one of those visits made
 * the user a member. A hash per (room, user): one field per visit, plus
 * `joined`.
 */
export class RoomVisits {
  constructor (private readonly redis: Redis) {}

  /** Records a visit before its join, so a concurrent last exit sees it and doesn't leave. */
  async begin (roomId: number, userId: number, visitId: string): Promise<void> {
    const key = visitsKey(roomId, userId)
    await this.redis.multi().hset(key, visitId, Date.now()).pexpire(key, VISIT_TTL_MS).exec()
  }

  /** Notes that a visit's join made the user a member. */
  async markJoined (roomId: number, userId: number): Promise<void> {
    const key = visitsKey(roomId, userId)
    await this.redis.multi().hset(key, JOINED, Date.now()).pexpire(key, VISIT_TTL_MS).exec()
  }

  /** Ends a visit; true when it was the last one and a visit had made the user a member. */
  async end (roomId: number, userId: number, visitId: string): Promise<boolean> {
    return await this.redis.eval(END, 1, visitsKey(roomId, userId), visitId, JOINED) === 1
  }
}
