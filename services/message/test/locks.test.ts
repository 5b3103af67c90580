/**
 * Cross-replica locks (src/locks.ts): the pause between tries, and
 * RedisLocks against the real Redis through two replicas' connections.
 */
import t from 'tap'
import { nextPause, RedisLocks } from '../src/locks.js'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('locks')
t.teardown(() => fx.close())
const { main } = fx

t.test('nextPause: random in [min, 2·min], never past the deadline', async (t) => {
  t.equal(nextPause(0, 1000, 10, () => 0), 10)
  t.equal(nextPause(0, 1000, 10, () => 0.5), 15)
  t.equal(nextPause(0, 1000, 10, () => 0.999), 20)
  t.equal(nextPause(995, 1000, 10, () => 0.5), 5, 'cut to the time left')
  t.equal(nextPause(1000, 1000, 10), undefined, 'deadline reached')
  t.equal(nextPause(1500, 1000, 10), undefined, 'deadline passed')
  t.equal(nextPause(0, 1000, 0, () => 0), 1, 'always waits a little')
})

t.test('RedisLocks: exclusive, waits, gives up with CHAT_UNAVAILABLE, never frees another holder', async (t) => {
  const replica = await fx.replica()
  const one = new RedisLocks(main.redis, { waitMs: 300 })
  const two = new RedisLocks(replica.redis, { waitMs: 300 })
  let inside = 0
  let most = 0
  await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).withLock('lock:test:a', async () => {
    inside++
    most = Math.max(most, inside)
    await new Promise((resolve) => setTimeout(resolve, 5))
    inside--
  })))
  t.equal(most, 1, 'one holder at a time')

  const slow = one.withLock('lock:test:b', () => new Promise((resolve) => setTimeout(resolve, 800)))
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = Date.now()
  t.equal(await code(two.withLock('lock:test:b', async () => 1)), 'CHAT_UNAVAILABLE', 'held too long')
  t.ok(Date.now() - started >= 250, 'after waiting')
  await slow
  t.equal(await two.withLock('lock:test:b', async () => 2), 2, 'free again after release')

  // A holder whose lock expired must not delete the next holder's.
  const short = new RedisLocks(main.redis, { ttlMs: 50, waitMs: 300 })
  await short.withLock('lock:test:c', async () => {
    await new Promise((resolve) => setTimeout(resolve, 120))
    await main.redis.set('lock:test:c', 'someone-else', 'PX', 5000)
  })
  t.equal(await main.redis.get('lock:test:c'), 'someone-else', 'compare-and-delete left it alone')
  t.equal(await code(two.withLock('lock:test:c', async () => 3)), 'CHAT_UNAVAILABLE', 'and it still excludes others')
})
