import t from 'tap'
import { freeSlots, seatKey, seatWindows, startSlot } from '../src/seats.js'

t.test('seat keys', async (t) => {
  t.equal(seatKey(42, 3), '42:3')
})

t.test('the search starts just after the members, wrapping', async (t) => {
  t.equal(startSlot(0, 5), 1)
  t.equal(startSlot(3, 5), 4)
  t.equal(startSlot(5, 5), 1, 'a full-looking room starts over')
  t.equal(startSlot(7, 5), 3, 'a stale count still lands in range')
  t.equal(startSlot(-2, 5), 1)
  t.equal(startSlot(Number.NaN, 5), 1)
})

t.test('windows cover every slot exactly once', async (t) => {
  t.same(seatWindows(5, 4, 64), [{ from: 4, to: 5 }, { from: 1, to: 3 }])
  t.same(seatWindows(5, 1, 2), [{ from: 1, to: 2 }, { from: 3, to: 4 }, { from: 5, to: 5 }])
  t.same(seatWindows(1, 1, 64), [{ from: 1, to: 1 }])
  t.same(seatWindows(0, 1, 64), [])
  t.same(seatWindows(5, 9, 64), [{ from: 5, to: 5 }, { from: 1, to: 4 }], 'a start past the end is clamped')
  for (const [capacity, start, width] of [[100, 37, 16], [7, 7, 3], [1000, 1, 64], [65, 64, 64]] as const) {
    const seen: number[] = []
    for (const w of seatWindows(capacity, start, width)) {
      t.ok(w.to - w.from + 1 <= width)
      for (let s = w.from; s <= w.to; s++) seen.push(s)
    }
    t.equal(seen[0], start)
    t.same([...seen].sort((a, b) => a - b), Array.from({ length: capacity }, (_, i) => i + 1), `capacity ${capacity} from ${start}`)
  }
})

t.test('free slots are the untaken ones, shuffled', async (t) => {
  t.same(freeSlots({ from: 1, to: 5 }, [2, 4], () => 0.999).sort(), [1, 3, 5])
  t.same(freeSlots({ from: 1, to: 3 }, [1, 2, 3]), [])
  t.same(freeSlots({ from: 10, to: 12 }, [1, 2]).sort(), [10, 11, 12], 'slots outside the window are ignored')
  const orders = new Set<string>()
  let x = 0.1
  for (let i = 0; i < 20; i++) orders.add(freeSlots({ from: 1, to: 6 }, [], () => { x = (x * 9301 + 0.49297) % 1; return x }).join(','))
  t.ok(orders.size > 1, 'concurrent joiners do not all try the same order')
})
