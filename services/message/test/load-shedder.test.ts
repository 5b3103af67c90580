// Overload: sends past the replica's capacity are refused at once with a
// retryable CHAT_BUSY, by queue age or by count, and refused sends leave
// nothing held.
import t from 'tap'
import { ChatError } from '@chat/contracts'
import { Batcher, createMetricsRegistry } from '@chat/runtime'
import { LoadShedder } from '../src/send/load-shedder.js'

t.test('refuses by count while sends are held, and takes them again after', async (t) => {
  const shedder = new LoadShedder({ maxPending: 2, queueLimitMs: 1000, queueAgeMs: () => 0 })
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const held = [shedder.run(() => gate.then(() => 'a')), shedder.run(() => gate.then(() => 'b'))]
  t.equal(shedder.inProgress, 2)
  const refused = await shedder.run(async () => 'c').catch((e: unknown) => e)
  t.ok(refused instanceof ChatError)
  t.equal((refused as ChatError).code, 'CHAT_BUSY')
  t.equal((refused as ChatError).retryAfterSeconds, 1)
  t.equal((refused as ChatError).retryable, true)
  release()
  t.same(await Promise.all(held), ['a', 'b'])
  t.equal(shedder.inProgress, 0)
  t.equal(await shedder.run(async () => 'd'), 'd', 'taken again once there is room')
})

t.test('refuses while the oldest queued send has waited past the limit', async (t) => {
  let age = 0
  const registry = createMetricsRegistry('test')
  const shedder = new LoadShedder({ maxPending: 100, queueLimitMs: 50, queueAgeMs: () => age, registry })
  t.equal(await shedder.run(async () => 1), 1)
  age = 51
  let ran = false
  const refused = await shedder.run(async () => { ran = true }).catch((e: unknown) => e)
  t.equal((refused as ChatError).code, 'CHAT_BUSY')
  t.equal(ran, false, 'the refused send did no work')
  t.equal(shedder.inProgress, 0)
  const metrics = await registry.getSingleMetricAsString('chat_sends_shed_total')
  t.match(metrics, /reason="queue"[^}]*\} 1/)
  age = 10
  t.equal(await shedder.run(async () => 2), 2)
})

t.test('a batcher reports how long its oldest waiting item has waited', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const batcher = new Batcher<number, number>(async (items) => { await gate; return items }, 10)
  t.equal(batcher.oldestWaitMs(), 0, 'nothing waits')
  const first = batcher.submit(1) // flushed at once: it does not wait
  t.equal(batcher.oldestWaitMs(), 0)
  const second = batcher.submit(2)
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.ok(batcher.oldestWaitMs() >= 25, 'the item behind the running flush has waited')
  release()
  t.same(await Promise.all([first, second]), [1, 2])
  t.equal(batcher.oldestWaitMs(), 0)
})
