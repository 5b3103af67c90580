import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { LuaScript, type CacheFallback } from '@chat/runtime'

/*
 * Rooms' member ids, cached in Redis for the room send path, which needs
 * them for every message (the sender's membership, the members' unread
 * counts). MongoDB (`members`) stays the truth; on FerretDB each read of it
 * scans the collection, so a busy room would scan it per message.
 *
 *   roster:<roomId>         set: the member ids, plus "-" (so an empty room is cached too)
 *   roster:<roomId>:lease   the token of a reader filling it
 *
 * Kept exact with leases, as the contact service's block cache is: a
 * reader that misses takes a lease, reads MongoDB, and stores what it read
 * only if its lease is still there. A join, leave or deletion changes
 * MongoDB first and then deletes both keys (changed()), so a read from
 * before a change is never stored after it: either the delete removed the
 * lease, or the lease (and so the read) came after the change. Readers that
 * find another's lease read MongoDB and store nothing. Entries expire after
 * `ttlMs`: the bound on staleness if a delete was lost (Redis failing
 * after the MongoDB write; the command then fails and its retry deletes
 * again). A read Redis cannot answer is answered by MongoDB (CacheFallback).
 */

const rosterKey = (roomId: number) => `roster:${roomId}`
const leaseKey = (roomId: number) => `roster:${roomId}:lease`
/** The member that makes an empty roster a set. */
const PRESENT = '-'

/**
 * KEYS[1] the roster, KEYS[2] its lease; ARGV[1] a lease token, ARGV[2]
 * lease ms. {1, members} when cached; {0} when the caller got the lease;
 * {2} when another reader holds it.
 */
const READ = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, redis.call('SMEMBERS', KEYS[1])} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0} end
return {2}
`)

/** KEYS[1] the roster, KEYS[2] its lease; ARGV[1] user id. 1 member, 0 not, -1 not cached. */
const HAS = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('SISMEMBER', KEYS[1], ARGV[1])
`)

/** KEYS[1] the roster, KEYS[2] its lease; ARGV[1] token, ARGV[2] ttl ms, ARGV[3..] the members. Stores only under the caller's lease. */
const FILL = new LuaScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 500 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`)

export interface RoomRosterOptions {
  /** How long a roster is kept; also the bound on staleness if a delete was lost. */
  ttlMs?: number
  /** How long a lease holds: longer than a slow MongoDB read. */
  leaseMs?: number
}

export class RoomRoster {
  private readonly ttlMs: number
  private readonly leaseMs: number

  constructor (
    private readonly redis: Redis,
    /** The truth: the room's member ids in MongoDB. */
    private readonly source: (roomId: number) => Promise<number[]>,
    private readonly fallback: CacheFallback,
    opts: RoomRosterOptions = {}
  ) {
    this.ttlMs = opts.ttlMs ?? 10 * 60_000
    this.leaseMs = opts.leaseMs ?? 10_000
  }

  /** The room's member ids (none for a room that does not exist). */
  memberIds (roomId: number): Promise<number[]> {
    return this.fallback.read('roster', () => this.cached(roomId), () => this.source(roomId), { roomId })
  }

  async has (roomId: number, userId: number): Promise<boolean> {
    const cached = await this.fallback.read('roster', async () => Number(await HAS.run(this.redis, [rosterKey(roomId), leaseKey(roomId)], [userId])), async () => -1, { roomId })
    if (cached !== -1) return cached === 1
    return (await this.memberIds(roomId)).includes(userId)
  }

  /** After a change of the room's members in MongoDB (join, leave, deletion): the next read rebuilds. */
  async changed (roomId: number): Promise<void> {
    await this.redis.del(rosterKey(roomId), leaseKey(roomId))
  }

  private async cached (roomId: number): Promise<number[]> {
    const keys = [rosterKey(roomId), leaseKey(roomId)]
    const token = randomUUID()
    const [state, members] = await READ.run(this.redis, keys, [token, this.leaseMs]) as [number, string[]?]
    if (state === 1) return (members ?? []).filter((m) => m !== PRESENT).map(Number)
    const ids = await this.source(roomId)
    if (state === 0) await FILL.run(this.redis, keys, [token, this.ttlMs, PRESENT, ...ids.map(String)])
    return ids
  }
}
