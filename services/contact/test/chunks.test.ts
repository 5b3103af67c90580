import t from 'tap'
import { chunks } from '../src/chunks.js'

t.test('splits into pieces of at most size, keeping order', async (t) => {
  t.same(chunks([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]])
  t.same(chunks([1, 2, 3, 4], 2), [[1, 2], [3, 4]])
  t.same(chunks([1], 1000), [[1]])
})

t.test('an empty list gives no pieces (so no empty batch is ever sent)', async (t) => {
  t.same(chunks([], 3), [])
})

t.test('rejects sizes that would loop forever', async (t) => {
  t.throws(() => chunks([1], 0), RangeError)
  t.throws(() => chunks([1], 1.5), RangeError)
})
