/**
 * Pure slot arithmetic of room seats. A room of capacity N has seats
 * `<roomId>:1` … `<roomId>:N`; a member holds exactly one, claimed by a
 * unique insert, so the unique `_id` (not a counter) decides who gets in.
 */

/** `_id` of a seat document. */
export function seatKey (roomId: number, slot: number): string {
  return `${roomId}:${slot}`
}

/**
 * The slot to start looking at: just after the seats the current members
 * probably hold (members fill slots from 1 upwards), wrapped into 1..capacity.
 * The count is a hint: a wrong one only costs a longer search.
 */
export function startSlot (memberCountHint: number, capacity: number): number {
  const n = Number.isSafeInteger(memberCountHint) && memberCountHint > 0 ? memberCountHint : 0
  return (n % capacity) + 1
}

/** An inclusive range of slots. */
export interface SlotWindow {
  from: number
  to: number
}

/**
 * Every slot 1..capacity exactly once, as windows of at most `width` slots:
 * from `start` to the end, then wrapping from 1 to just before `start`.
 * Each window is one query for its taken slots.
 */
export function seatWindows (capacity: number, start: number, width: number): SlotWindow[] {
  if (capacity < 1) return []
  const first = Math.min(Math.max(1, start), capacity)
  const out: SlotWindow[] = []
  const cover = (from: number, to: number) => {
    for (let s = from; s <= to; s += width) out.push({ from: s, to: Math.min(to, s + width - 1) })
  }
  cover(first, capacity)
  cover(1, first - 1)
  return out
}

/**
 * The free slots of a window in random order, so concurrent joiners who read
 * the same taken set mostly try different slots instead of colliding on the
 * lowest one.
 */
export function freeSlots (window: SlotWindow, taken: Iterable<number>, random: () => number = Math.random): number[] {
  const used = new Set(taken)
  const free: number[] = []
  for (let s = window.from; s <= window.to; s++) if (!used.has(s)) free.push(s)
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = free[i] as number
    free[i] = free[j] as number
    free[j] = tmp
  }
  return free
}
