import t from 'tap'
import { ChatError } from '@chat/contracts'
import { afterCursorFilter, decodeConversationCursor, encodeConversationCursor, firstVisibleMessage, mergeNewestFirst } from '../src/lists.js'

function code (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return err instanceof ChatError ? err.code : String(err)
  }
}

t.test('a conversation cursor round-trips and is opaque', async (t) => {
  const c = { lastActivityAt: new Date('2026-03-04T05:06:07.089Z'), conversationId: 1234567890123 }
  const s = encodeConversationCursor(c)
  t.match(s, /^[A-Za-z0-9_-]+$/, 'url-safe')
  t.notMatch(s, /1234567890123/, 'does not show its parts')
  t.ok(s.length <= 128, 'fits the contract limit')
  t.same(decodeConversationCursor(s), c)
  const big = { lastActivityAt: new Date(8.64e15), conversationId: Number.MAX_SAFE_INTEGER }
  const bs = encodeConversationCursor(big)
  t.ok(bs.length <= 128)
  t.same(decodeConversationCursor(bs), big)
})

t.test('a malformed cursor is CHAT_BAD_REQUEST', async (t) => {
  const enc = (raw: string) => Buffer.from(raw).toString('base64url')
  for (const bad of ['', '***', enc('x.1'), enc('1.x'), enc('1'), enc('1.0'), enc('1.2.3'), enc('-1.5'), enc('1.99999999999999999'), enc(' 1.2'), '{"$gt":""}']) {
    t.equal(code(() => decodeConversationCursor(bad)), 'CHAT_BAD_REQUEST', JSON.stringify(bad))
  }
})

t.test('the filter after a cursor: older, or the same time and a smaller id', async (t) => {
  const at = new Date(1000)
  t.same(afterCursorFilter({ lastActivityAt: at, conversationId: 7 }), {
    $or: [{ lastActivityAt: { $lt: at } }, { lastActivityAt: at, conversationId: { $lt: 7 } }],
  })
})

t.test('mergeNewestFirst merges, dedupes and pages', async (t) => {
  const ids = (xs: number[]) => xs.map((_id) => ({ _id }))
  const r = mergeNewestFirst(ids([9, 7, 5, 3]), ids([8, 7, 2]), 4)
  t.same(r.items.map((x) => x._id), [9, 8, 7, 5])
  t.equal(r.hasMore, true)
  const all = mergeNewestFirst(ids([9, 7]), ids([8, 7]), 4)
  t.same(all.items.map((x) => x._id), [9, 8, 7])
  t.equal(all.hasMore, false, 'a duplicate does not count as more')
  t.same(mergeNewestFirst(ids([]), ids([]), 3), { items: [], hasMore: false })
  const one = mergeNewestFirst(ids([5, 4, 3]), [], 2)
  t.same(one.items.map((x) => x._id), [5, 4])
  t.equal(one.hasMore, true)
})

t.test('firstVisibleMessage: from the conversation when it can, a lookup when it must', async (t) => {
  const first = { id: 101, seq: 1 }
  t.equal(firstVisibleMessage({}, 0), null, 'no messages')
  t.equal(firstVisibleMessage({ firstMessage: first, lastMessage: { seq: 9 } }, 0), 101, 'never cleared: the stored first')
  t.equal(firstVisibleMessage({ firstMessage: { id: 105, seq: 5 }, lastMessage: { seq: 9 } }, 3), 105, 'cleared below the first: still it')
  t.equal(firstVisibleMessage({ firstMessage: first, lastMessage: { seq: 9 } }, 4), 'lookup', 'cleared past the first, newer ones visible')
  t.equal(firstVisibleMessage({ firstMessage: first, lastMessage: { seq: 9 } }, 9), null, 'cleared everything')
  t.equal(firstVisibleMessage({ firstMessage: first, lastMessage: { seq: 9 } }, 12), null, 'cleared beyond the newest')
  t.equal(firstVisibleMessage({ lastMessage: { seq: 3 } }, 0), 'lookup', 'a conversation from before the stored field')
  t.equal(firstVisibleMessage({ lastMessage: { seq: 3 } }, 3), null, 'old conversation, all cleared')
  t.equal(firstVisibleMessage({ firstMessage: first }, 1), 'lookup', 'mid-send or mid-delete: ask the messages')
})
