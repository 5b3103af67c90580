import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { LuaScript, type CacheFallback } from '@chat/runtime'
import { blockCacheKey } from '@chat/contracts'

/*
 * A Redis cache of "has X blocked Y", for contact.blocks.check, which the
 * message service asks before every direct message. MongoDB stays the
 * truth; the cache only saves it a read per message (a primary-key lookup
 * costs well under a millisecond on MongoDB, but tens of milliseconds on a
 * busy FerretDB, against a fraction of one for Redis).
 *
 *   block:<blockerId>:<blockedId>   "1" blocked, "0" not blocked, or
 *                                   "lease:<token>" while a reader fills it
 *
 * Kept exact with leases (as in Facebook's memcache): a reader that misses
 * first claims the key with a lease (SET NX), then reads MongoDB, then
 * stores the answer only if its lease is still there. A writer (block or
 * unblock) changes MongoDB first and deletes the key afterwards, which also
 * deletes any lease. So a reader whose MongoDB read may predate the write
 * can't store it: either the write's delete removed its lease, or its
 * lease (and so its read) came after the delete and the write. Readers
 * that find someone else's lease read MongoDB and store nothing.
 *
 * The one way to a stale answer is a writer whose delete fails after its
 * MongoDB write. The command then fails (the client retries, and the retry
 * deletes again: block and unblock delete even when they change nothing),
 * and entries live at most `ttlMs` in any case. If Redis fails on a check,
 * the answer comes from MongoDB (the runtime's CacheFallback policy, as the
 * `blocks` cache) and nothing is stored.
 */

/** Key of one pair's entry, without the client's keyPrefix; the message service reads it too. */
export { blockCacheKey }

const LEASE_PREFIX = 'lease:'

/**
 * Lookup: the cached answer, or a lease for the caller. KEYS[1] the entry;
 * ARGV[1] lease value, ARGV[2] lease ms. Returns the stored value ("1",
 * "0", or someone else's lease), or false (nil) when the caller got the lease.
 */
const LOOKUP = new LuaScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`)

/** Fill: store the answer only while the caller's lease is in place. KEYS[1]; ARGV[1] lease, ARGV[2] answer, ARGV[3] ttl ms. */
const FILL = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`)

export interface BlockCacheOptions {
  /** How long an answer is kept; also the bound on staleness if an invalidation failed. */
  ttlMs?: number
  /** How long a lease holds: longer than a slow MongoDB read; an expired lease only means no fill. */
  leaseMs?: number
  /** Told when storing an answer fails (a cache write: the answer came from MongoDB all the same). */
  onFillError?: (err: unknown) => void
}

/** The answer as the cache spells it. */
const cachedAs = (blocked: boolean): string => blocked ? '1' : '0'

export class BlockCache {
  private readonly ttlMs: number
  private readonly leaseMs: number
  private readonly onFillError: (err: unknown) => void

  constructor (
    private readonly redis: Redis,
    /** The truth: MongoDB's answer. */
    private readonly source: (blockerId: number, blockedId: number) => Promise<boolean>,
    /** What a lookup Redis fails turns into: MongoDB's answer, counted and logged. */
    private readonly cacheFallback: CacheFallback,
    opts: BlockCacheOptions = {}
  ) {
    this.ttlMs = opts.ttlMs ?? 10 * 60_000
    this.leaseMs = opts.leaseMs ?? 10_000
    this.onFillError = opts.onFillError ?? (() => undefined)
  }

  /** Whether blockerId has blocked blockedId: one Redis round trip when cached. */
  async isBlocked (blockerId: number, blockedId: number): Promise<boolean> {
    if (blockerId === blockedId) return false
    const key = blockCacheKey(blockerId, blockedId)
    const lease = LEASE_PREFIX + randomUUID()
    // Redis failing: MongoDB's answer, spelled as a cached one, so no lease is held and nothing is filled.
    const cached = await this.cacheFallback.read<unknown>(
      'blocks',
      () => LOOKUP.run(this.redis, [key], [lease, this.leaseMs]),
      async () => cachedAs(await this.source(blockerId, blockedId)),
      { blockerId, blockedId }
    )
    if (cached === '1') return true
    if (cached === '0') return false
    const truth = await this.source(blockerId, blockedId)
    // Only the lease holder fills; anyone else's lookup (a lease was there) just answers.
    if (cached === null) {
      try {
        await FILL.run(this.redis, [key], [lease, cachedAs(truth), this.ttlMs])
      } catch (err) {
        this.onFillError(err)
      }
    }
    return truth
  }

  /**
   * Drops a pair's entry (and any reader's lease) after MongoDB changed.
   * Throws when Redis fails, so the command reports the failure and is retried.
   */
  async invalidate (blockerId: number, blockedId: number): Promise<void> {
    await this.redis.del(blockCacheKey(blockerId, blockedId))
  }
}
