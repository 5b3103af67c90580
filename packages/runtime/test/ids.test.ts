import t from 'tap'
import { composeId, idTime, IdSequence, ID_EPOCH_MS, MAX_WORKERS } from '../src/ids.js'

t.test('ids fit below 2^53 until the end of the 40-bit clock', async (t) => {
  const last = ID_EPOCH_MS + 2 ** 40 - 1
  const id = composeId(last, MAX_WORKERS - 1, 127)
  t.ok(Number.isSafeInteger(id))
  t.equal(id, Number.MAX_SAFE_INTEGER)
  t.equal(idTime(id), last)
})

t.test('ids are time-ordered across workers and unique within a millisecond', async (t) => {
  let now = ID_EPOCH_MS + 1000
  const a = new IdSequence(() => 1, () => now)
  const b = new IdSequence(() => 2, () => now)
  const seen = new Set<number>()
  for (let i = 0; i < 300; i++) {
    seen.add(a.next())
    seen.add(b.next())
  }
  t.equal(seen.size, 600, 'no duplicates even past 128 ids per millisecond')
  const before = a.next()
  now += 5000
  t.ok(a.next() > before, 'later ids are larger')
  t.ok(b.next() > before, 'across workers too')
})

t.test('a clock going backwards never repeats an id', async (t) => {
  let now = ID_EPOCH_MS + 10_000
  const seq = new IdSequence(() => 3, () => now)
  const first = seq.next()
  now -= 2000
  const second = seq.next()
  t.ok(second > first)
})

t.test('no worker lease, no ids', async (t) => {
  const seq = new IdSequence(() => undefined)
  t.throws(() => seq.next(), { code: 'CHAT_UNAVAILABLE' })
})
