import t from 'tap'
import { ChatError } from '@chat/contracts'
import { fitToBudget } from '@chat/runtime'
import { historyPage, historyRange, mergeBySeq, mergeSyncCursors, pageLimit, syncPage, syncRange } from '../src/paging.js'

t.test('pageLimit', async (t) => {
  t.equal(pageLimit(undefined, 50, 100), 50)
  t.equal(pageLimit(20, 50, 100), 20)
  t.equal(pageLimit(500, 50, 100), 100)
  t.equal(pageLimit(0, 50, 100), 1)
})

t.test('historyRange', async (t) => {
  t.same(historyRange({ clearedSeq: 0, limit: 50 }), { afterSeq: 0, beforeSeq: undefined, fetch: 51 }, 'first page')
  t.same(historyRange({ clearedSeq: 10, beforeSeq: 30, limit: 5 }), { afterSeq: 10, beforeSeq: 30, fetch: 6 }, 'paging back after a clear')
  t.equal(historyRange({ clearedSeq: 10, beforeSeq: 11, limit: 5 }), undefined, 'nothing between the clear and beforeSeq')
  t.equal(historyRange({ clearedSeq: 10, beforeSeq: 3, limit: 5 }), undefined, 'beforeId older than the clear')
  t.ok(historyRange({ clearedSeq: 10, beforeSeq: 12, limit: 5 }), 'seq 11 is still visible')
})

t.test('historyPage: newest page, oldest first', async (t) => {
  // Fetched newest first, one extra row.
  t.same(historyPage([9, 8, 7, 6], 3), { items: [7, 8, 9], hasMore: true })
  t.same(historyPage([9, 8, 7], 3), { items: [7, 8, 9], hasMore: false })
  t.same(historyPage([2, 1], 3), { items: [1, 2], hasMore: false })
  t.same(historyPage([], 3), { items: [], hasMore: false })
})

t.test('paging back through a whole conversation visits every seq once', async (t) => {
  const all = Array.from({ length: 23 }, (_, i) => i + 1)
  const cleared = 2
  const seen: number[] = []
  let before: number | undefined
  for (let guard = 0; guard < 20; guard++) {
    const range = historyRange({ clearedSeq: cleared, beforeSeq: before, limit: 5 })
    if (!range) break
    const rows = all.filter((s) => s > range.afterSeq && (range.beforeSeq === undefined || s < range.beforeSeq)).reverse().slice(0, range.fetch)
    const page = historyPage(rows, 5)
    seen.unshift(...page.items)
    if (!page.hasMore) break
    before = page.items[0]
  }
  t.same(seen, all.filter((s) => s > cleared))
})

t.test('syncRange and syncPage', async (t) => {
  t.same(syncRange({ afterSeq: 5, clearedSeq: 0, limit: 200 }), { afterSeq: 5, fetch: 201 })
  t.same(syncRange({ afterSeq: 5, clearedSeq: 9, limit: 200 }), { afterSeq: 9, fetch: 201 }, 'never below the clear')
  t.same(syncPage([6, 7, 8], 2), { items: [6, 7], hasMore: true })
  t.same(syncPage([6, 7], 2), { items: [6, 7], hasMore: false })
})

t.test('fitToBudget', async (t) => {
  const size = (n: number) => n
  t.same(fitToBudget([1, 2, 3], size, 10, false), { items: [1, 2, 3], truncated: false, used: 6 })
  t.same(fitToBudget([4, 5, 6], size, 10, false), { items: [4, 5], truncated: true, used: 9 }, 'keeps the oldest')
  t.same(fitToBudget([4, 5, 6], size, 12, true), { items: [5, 6], truncated: true, used: 11 }, 'keeps the newest, in order')
  t.same(fitToBudget([50, 1], size, 10, false), { items: [50], truncated: true, used: 50 }, 'always one item, so paging progresses')
  t.same(fitToBudget([], size, 10, true), { items: [], truncated: false, used: 0 })
})

t.test('historyRange with an offset: skips the newest visible messages', async (t) => {
  t.same(historyRange({ clearedSeq: 0, offset: 20, limit: 10 }), { afterSeq: 0, beforeSeq: undefined, fetch: 11, skip: 20 }, 'page 3 of 10')
  t.same(historyRange({ clearedSeq: 7, offset: 5, limit: 10 }), { afterSeq: 7, beforeSeq: undefined, fetch: 11, skip: 5 }, 'after a clear: still only visible ones')
  t.same(historyRange({ clearedSeq: 0, offset: 0, limit: 10 }), { afterSeq: 0, beforeSeq: undefined, fetch: 11 }, 'offset 0 is the first page')
  try {
    historyRange({ clearedSeq: 0, beforeSeq: 10, offset: 1, limit: 10 })
    t.fail('offset with beforeSeq must throw')
  } catch (err) {
    t.equal(err instanceof ChatError ? err.code : String(err), 'CHAT_BAD_REQUEST', 'offset and beforeId exclude each other')
  }
})

t.test('mergeSyncCursors: one cursor per conversation, the lowest afterSeq, first-seen order', async (t) => {
  t.same(mergeSyncCursors([]), [])
  t.same(mergeSyncCursors([
    { conversationId: 7, afterSeq: 5 },
    { conversationId: 3, afterSeq: 9 },
    { conversationId: 7, afterSeq: 2 },
    { conversationId: 3, afterSeq: 12 },
    { conversationId: 7, afterSeq: 4 },
  ]), [{ conversationId: 7, afterSeq: 2 }, { conversationId: 3, afterSeq: 9 }])
  const hundred = Array.from({ length: 100 }, (_, i) => ({ conversationId: 1, afterSeq: 100 - i }))
  t.same(mergeSyncCursors(hundred), [{ conversationId: 1, afterSeq: 1 }])
})

t.test('mergeBySeq: two seq-ordered reads as one order, whose first `limit` are the first of both', async (t) => {
  const m = (seq: number) => ({ seq, m: true })
  const c = (seq: number) => ({ seq, c: true })
  t.same(mergeBySeq([m(1), m(4), m(6)], [c(2), c(3), c(7)]).map((x) => x.seq), [1, 2, 3, 4, 6, 7])
  t.same(mergeBySeq([], [c(2)]), [c(2)])
  t.same(mergeBySeq([m(1)], []), [m(1)])
  // Each read cut at limit + 1 = 3: the merged first 2 are right, and more exist.
  const page = syncPage(mergeBySeq([m(5), m(6), m(8)], [c(1), c(2), c(3)]), 2)
  t.same(page, { items: [c(1), c(2)], hasMore: true })
  const last = syncPage(mergeBySeq([m(5)], [c(4)]), 2)
  t.same(last, { items: [c(4), m(5)], hasMore: false })
})
