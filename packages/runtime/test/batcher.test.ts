import t from 'tap'
import { Batcher } from '../src/batcher.js'

/** A flush whose batches the test releases by hand. */
function manual<I> () {
  const batches: Array<{ items: I[], done: (results: Array<I | Error>) => void, fail: (err: unknown) => void }> = []
  const flush = (items: I[]) => new Promise<Array<I | Error>>((resolve, reject) => { batches.push({ items, done: resolve, fail: reject }) })
  return { batches, flush }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

t.test('a lone item is flushed at once', async (t) => {
  const { batches, flush } = manual<number>()
  const b = new Batcher(flush, 10)
  const p = b.submit(1)
  t.equal(batches.length, 1, 'no waiting for company')
  t.same(batches[0]?.items, [1])
  batches[0]?.done([1])
  t.equal(await p, 1)
})

t.test('items arriving during a flush go together into the next, in order', async (t) => {
  const { batches, flush } = manual<number>()
  const b = new Batcher(flush, 3)
  const all = [1, 2, 3, 4, 5, 6].map((n) => b.submit(n))
  t.same(batches.map((x) => x.items), [[1]])
  t.equal(b.waiting, 5)
  batches[0]?.done([1])
  await tick()
  t.same(batches.map((x) => x.items), [[1], [2, 3, 4]], 'at most maxBatch at once')
  batches[1]?.done([2, 3, 4])
  await tick()
  t.same(batches[2]?.items, [5, 6])
  batches[2]?.done([5, new Error('six failed')])
  t.same(await Promise.allSettled(all).then((r) => r.map((x) => x.status)), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected'], 'an error fails only its item')
})

t.test('a flush that throws fails its batch only', async (t) => {
  const { batches, flush } = manual<number>()
  const b = new Batcher(flush, 10)
  const first = b.submit(1)
  const second = b.submit(2)
  batches[0]?.fail(new Error('database down'))
  await t.rejects(first, /database down/)
  await tick()
  batches[1]?.done([2])
  t.equal(await second, 2, 'the next batch goes on')
})
