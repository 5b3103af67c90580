// The presence Lua scripts against the real Redis on 127.0.0.1:6379. Every
// run uses its own random key prefix (not the default `chat:`, so prefix
// handling inside the scripts is exercised) and deletes its keys afterwards;
// the shared Redis is never flushed as a whole.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createRedis } from '@chat/runtime'
import { LuaScript } from '@chat/runtime'
import { DEADLINES_KEY, PresenceStore, presenceKey, SWEEP_BATCH } from '../src/presence.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const PREFIX = `test:contact:${randomBytes(6).toString('hex')}:`
const SHORT_TTL = 300
const LONG_TTL = 60_000

const redis = createRedis(REDIS_URL, PREFIX)
// Without a prefix: to see where keys really landed and to delete them.
const raw = new Redis(REDIS_URL)

/** Deletes every key under this run's prefix: the test's own "FLUSH". */
async function flushPrefix (): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) deleted += await raw.unlink(...keys)
  } while (cursor !== '0')
  return deleted
}

t.teardown(async () => {
  await flushPrefix()
  await Promise.allSettled([redis.quit(), raw.quit()])
})

// Fresh user ids per test, so tests never see each other's state.
let nextUser = 1000
const users = (n: number) => Array.from({ length: n }, () => nextUser++)

const short = new PresenceStore(redis, SHORT_TTL)
const long = new PresenceStore(redis, LONG_TTL)

t.test('online and offline report transitions only', async (t) => {
  const [a, b] = users(2) as [number, number]
  t.equal(await long.online(a, 'g1'), true, 'first report: came online')
  t.equal(await long.online(a, 'g1'), false, 'repeat: no transition')
  t.same(await long.isOnline([a, b]), [true, false])
  t.equal(await long.offline(a, 'g1'), true, 'last gateway gone: offline')
  t.same(await long.isOnline([a]), [false])
  // No entry at all (already offline, or Redis lost it): "offline" is said again, harmlessly.
  t.equal(await long.offline(a, 'g1'), true)
  t.equal(await raw.zcard(PREFIX + DEADLINES_KEY), 0, 'offline removed the deadline too')
})

t.test('keys are written under the client prefix only', async (t) => {
  const [a] = users(1) as [number]
  await long.online(a, 'g1')
  t.equal(await raw.exists(PREFIX + presenceKey(a)), 1)
  t.equal(await raw.exists(presenceKey(a)), 0, 'no unprefixed user key')
  t.equal(await raw.zscore(PREFIX + DEADLINES_KEY, `${a}|g1`) !== null, true)
  await long.offline(a, 'g1')
})

t.test('a user on two gateways stays online until both are gone', async (t) => {
  const [a] = users(1) as [number]
  t.equal(await long.online(a, 'g1'), true)
  t.equal(await long.online(a, 'g2'), false, 'second gateway: already online')
  t.equal(await long.offline(a, 'g1'), false, 'still on g2')
  t.same(await long.isOnline([a]), [true])
  t.equal(await long.offline(a, 'g2'), true)
  t.same(await long.isOnline([a]), [false])
})

t.test('concurrent reports for one user yield exactly one transition', async (t) => {
  const [a] = users(1) as [number]
  const ups = await Promise.all(['g1', 'g2', 'g3', 'g4'].map((g) => long.online(a, g)))
  t.equal(ups.filter(Boolean).length, 1)
  const downs = await Promise.all(['g1', 'g2', 'g3', 'g4'].map((g) => long.offline(a, g)))
  t.equal(downs.filter(Boolean).length, 1)
})

t.test('entries expire via the sweep, once', async (t) => {
  const [a, b] = users(2) as [number, number]
  await short.online(a, 'g1')
  await short.online(b, 'g1')
  await long.online(b, 'g2') // b is also on a live gateway
  t.same(await short.sweep(), [], 'nothing due yet')
  await sleep(SHORT_TTL + 100)
  t.same(await short.isOnline([a, b]), [true, true], 'expired but unswept entries still count (no event was sent yet)')
  t.same(await short.sweep(), [a], 'a went offline; b is still on g2')
  t.same(await short.sweep(), [], 'a second sweep reports nothing again')
  t.same(await long.isOnline([a, b]), [false, true])
  t.same(await raw.zrange(PREFIX + presenceKey(b), '0', '-1'), ['g2'], 'the expired g1 entry of b is gone')
  await long.offline(b, 'g2')
})

t.test('heartbeats keep entries alive', async (t) => {
  const ids = users(3)
  t.same((await short.heartbeat('g1', ids)).sort(), [...ids].sort(), 'first heartbeat brings them online')
  for (let i = 0; i < 4; i++) {
    await sleep(SHORT_TTL / 3)
    t.same(await short.heartbeat('g1', ids), [], 'refresh: no transition')
    t.same(await short.sweep(), [], 'nothing expired')
  }
  await sleep(SHORT_TTL + 100)
  t.same((await short.sweep()).sort(), [...ids].sort(), 'expired once heartbeats stopped')
})

t.test('replicas sweeping concurrently split a backlog without double reports', async (t) => {
  const ids = users(SWEEP_BATCH * 2 + 50) // more than one batch
  t.equal((await short.heartbeat('gdead', ids)).length, ids.length)
  await sleep(SHORT_TTL + 100)
  const replicas = [new PresenceStore(redis, SHORT_TTL), new PresenceStore(redis, SHORT_TTL), short]
  const results = await Promise.all(replicas.map((r) => r.sweep()))
  const all = results.flat()
  t.equal(all.length, ids.length, 'every user reported')
  t.equal(new Set(all).size, ids.length, 'no user reported twice')
  t.same(await short.isOnline(ids.slice(0, 3)), [false, false, false])
})

t.test('offline clears the user\'s already-expired entries so the report is immediate', async (t) => {
  const [a] = users(1) as [number]
  await short.online(a, 'gdead') // a gateway that will die
  await long.online(a, 'g2')
  await sleep(SHORT_TTL + 100)
  t.equal(await long.offline(a, 'g2'), true, 'offline now, not at the next sweep')
  t.same(await short.sweep(), [], 'the dead gateway\'s deadline went with it')
  t.equal(await raw.exists(PREFIX + presenceKey(a)), 0)
})

t.test('online on a fresh gateway while an expired entry awaits the sweep: no flap', async (t) => {
  const [a] = users(1) as [number]
  await short.online(a, 'gdead')
  await sleep(SHORT_TTL + 100)
  // Watchers were never told a went offline, so coming back on g2 is no transition...
  t.equal(await long.online(a, 'g2'), false)
  // ...and sweeping the dead entry is none either.
  t.same(await short.sweep(), [])
  t.same(await long.isOnline([a]), [true])
  await long.offline(a, 'g2')
})

t.test('gateway ids containing the separator', async (t) => {
  const [a] = users(1) as [number]
  t.equal(await short.online(a, 'gw|1|x'), true)
  await sleep(SHORT_TTL + 100)
  t.same(await short.sweep(), [a])
})

t.test('heartbeat re-creates presence after Redis lost it', async (t) => {
  const ids = users(3)
  t.equal((await long.heartbeat('g1', ids)).length, 3)
  await long.online(ids[0] as number, 'g2')
  t.ok(await flushPrefix() > 0, 'deleted this run\'s keys')
  t.same(await long.isOnline(ids), [false, false, false], 'presence is gone')
  t.same((await long.heartbeat('g1', ids)).sort(), [...ids].sort(), 'reported online again')
  t.same(await long.isOnline(ids), [true, true, true])
  t.same(await long.heartbeat('g1', ids), [], 'and only once')
  t.same(await long.sweep(), [], 'fresh deadlines are not due')
  for (const id of ids) await long.offline(id, 'g1')
})

t.test('a script Redis does not know yet is sent once (EVALSHA falls back to EVAL)', async (t) => {
  // A unique source, so it is certainly not cached; no global SCRIPT FLUSH on the shared server.
  const script = new LuaScript(`return {KEYS[1], ARGV[1]} -- ${randomBytes(8).toString('hex')}`)
  t.same(await redis.script('EXISTS', script.sha), [0])
  t.same(await script.run(redis, ['k'], ['v']), [`${PREFIX}k`, 'v'], 'declared keys get the client prefix')
  t.same(await redis.script('EXISTS', script.sha), [1], 'now cached')
  t.same(await script.run(redis, ['k'], ['w']), [`${PREFIX}k`, 'w'])
})

t.test('isOnline of nobody makes no round trip', async (t) => {
  t.same(await long.isOnline([]), [])
})
