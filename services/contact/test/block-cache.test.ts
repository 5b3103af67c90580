// The block cache against the real Redis on 127.0.0.1:6379, with a fake
// MongoDB (a map) as the truth, so the races the leases guard against can be
// staged exactly. Keys live under a random prefix and are deleted afterwards.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { CacheFallback, createLogger, createRedis, Registry } from '@chat/runtime'
import { BlockCache, blockCacheKey } from '../src/block-cache.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const PREFIX = `test:contact-block-cache:${randomBytes(6).toString('hex')}:`
const redis = createRedis(REDIS_URL, PREFIX)
const raw = new Redis(REDIS_URL)

t.teardown(async () => {
  const keys = await raw.keys(`${PREFIX}*`)
  if (keys.length > 0) await raw.unlink(...keys)
  await Promise.allSettled([redis.quit(), raw.quit()])
})

/**
 * A fake MongoDB: the set of blocks, counting reads. `holdNextRead()` makes
 * the next read take its answer at once but return it only on `release()`:
 * a slow read whose answer is stale by the time it arrives.
 */
function truth () {
  const blocks = new Set<string>()
  let reads = 0
  let held: { reached: () => void, gate: Promise<void> } | undefined
  return {
    blocks,
    /** When set, reads fail like an unreachable MongoDB. */
    failing: false,
    get reads () { return reads },
    holdNextRead () {
      let release!: () => void
      let reached!: () => void
      const atRead = new Promise<void>((resolve) => { reached = resolve })
      held = { reached, gate: new Promise<void>((resolve) => { release = resolve }) }
      return { atRead, release }
    },
    async source (blocker: number, blocked: number): Promise<boolean> {
      reads++
      if (this.failing) throw new Error('mongo down')
      const answer = blocks.has(`${blocker}:${blocked}`)
      const h = held
      held = undefined
      if (h) {
        h.reached()
        await h.gate
      }
      return answer
    },
  }
}

/** A fallback policy of its own, with the registry its counter is read from. */
function policy () {
  const registry = new Registry()
  return { registry, fallback: new CacheFallback({ logger: createLogger('test', 'silent'), registry }) }
}

let nextUser = 1000
const pair = (): [number, number] => [nextUser++, nextUser++]

t.test('a miss reads MongoDB once and fills; hits do not read it again', async (t) => {
  const db = truth()
  const cache = new BlockCache(redis, (x, y) => db.source(x, y), policy().fallback)
  const [a, b] = pair()
  db.blocks.add(`${a}:${b}`)
  t.equal(await cache.isBlocked(a, b), true)
  t.equal(await cache.isBlocked(a, b), true)
  t.equal(await cache.isBlocked(b, a), false)
  t.equal(await cache.isBlocked(b, a), false)
  t.equal(db.reads, 2, 'one read per pair')
  t.equal(await raw.get(PREFIX + blockCacheKey(a, b)), '1')
  t.equal(await raw.get(PREFIX + blockCacheKey(b, a)), '0', 'negative answers are cached too')
  t.ok(await raw.pttl(PREFIX + blockCacheKey(a, b)) > 0, 'entries expire')
  t.equal(await cache.isBlocked(a, a), false, 'nobody blocks themselves')
  t.equal(db.reads, 2, 'without asking')
})

t.test('invalidate after a write: the next check sees it', async (t) => {
  const db = truth()
  const cache = new BlockCache(redis, (x, y) => db.source(x, y), policy().fallback)
  const [a, b] = pair()
  t.equal(await cache.isBlocked(a, b), false)
  db.blocks.add(`${a}:${b}`) // block: MongoDB first …
  await cache.invalidate(a, b) // … then the cache
  t.equal(await cache.isBlocked(a, b), true)
  db.blocks.delete(`${a}:${b}`)
  await cache.invalidate(a, b)
  t.equal(await cache.isBlocked(a, b), false)
})

t.test('a read that started before a block cannot cache its stale answer', async (t) => {
  const db = truth()
  const cache = new BlockCache(redis, (x, y) => db.source(x, y), policy().fallback)
  const [a, b] = pair()
  const hold = db.holdNextRead()
  const slow = cache.isBlocked(a, b) // reads "not blocked", then waits
  await hold.atRead
  db.blocks.add(`${a}:${b}`)
  await cache.invalidate(a, b)
  hold.release()
  t.equal(await slow, false, 'the slow reader answers what it read (it started first)')
  t.equal(await raw.get(PREFIX + blockCacheKey(a, b)), null, 'but did not store it')
  t.equal(await cache.isBlocked(a, b), true, 'the next check is right')
})

t.test('the same for an unblock', async (t) => {
  const db = truth()
  const cache = new BlockCache(redis, (x, y) => db.source(x, y), policy().fallback)
  const [a, b] = pair()
  db.blocks.add(`${a}:${b}`)
  const hold = db.holdNextRead()
  const slow = cache.isBlocked(a, b)
  await hold.atRead
  db.blocks.delete(`${a}:${b}`)
  await cache.invalidate(a, b)
  hold.release()
  t.equal(await slow, true)
  t.equal(await cache.isBlocked(a, b), false)
})

t.test('a reader finding another reader\'s lease answers from MongoDB and stores nothing', async (t) => {
  const db = truth()
  const cache = new BlockCache(redis, (x, y) => db.source(x, y), policy().fallback)
  const [a, b] = pair()
  db.blocks.add(`${a}:${b}`)
  await raw.set(PREFIX + blockCacheKey(a, b), 'lease:someone-else', 'PX', 10_000)
  t.equal(await cache.isBlocked(a, b), true)
  t.equal(await raw.get(PREFIX + blockCacheKey(a, b)), 'lease:someone-else')
  t.equal(await cache.isBlocked(a, b), true)
  t.equal(db.reads, 2, 'each asked MongoDB')
})

t.test('an expired lease means no fill, never a wrong one', async (t) => {
  const db = truth()
  // Long enough that the later reader's own lease outlives its read on a
  // loaded machine; the slow reader's runs out while MongoDB holds it.
  const cache = new BlockCache(redis, (x, y) => db.source(x, y), policy().fallback, { leaseMs: 500 })
  const [a, b] = pair()
  const hold = db.holdNextRead()
  const slow = cache.isBlocked(a, b)
  await hold.atRead
  await sleep(1100) // the lease runs out while MongoDB is slow
  db.blocks.add(`${a}:${b}`)
  await cache.invalidate(a, b)
  t.equal(await cache.isBlocked(a, b), true, 'a later reader fills the right answer')
  hold.release()
  t.equal(await slow, false)
  t.equal(await raw.get(PREFIX + blockCacheKey(a, b)), '1', 'the slow reader did not overwrite it')
})

t.test('Redis down: answers come from MongoDB; invalidation fails loudly', async (t) => {
  const db = truth()
  const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  dead.on('error', () => undefined)
  t.teardown(() => { dead.disconnect() })
  const { registry, fallback } = policy()
  const cache = new BlockCache(dead, (x, y) => db.source(x, y), fallback)
  db.blocks.add('1:2')
  t.equal(await cache.isBlocked(1, 2), true)
  t.equal(await cache.isBlocked(2, 1), false)
  t.equal(db.reads, 2, 'one MongoDB read per check')
  t.match(await registry.getSingleMetricAsString('chat_cache_fallbacks_total'), /cache="blocks"[^}]*\} 2/, 'counted as fallbacks')
  db.failing = true
  await t.rejects(cache.isBlocked(1, 2), { message: 'mongo down' }, 'MongoDB failing too: the check fails')
  await t.rejects(cache.invalidate(1, 2))
})
