/**
 * Reading (src/chat/reading.ts), part 0, against the real MongoDB-wire
 * server and Redis: unread counts, read marks, history, clear and sync.
 */
import t from 'tap'
import { unreadKey } from '../src/unread.js'
import { code, counts, createFixture, eventually } from './fixtures/world.js'

const fx = await createFixture('reading0')
t.teardown(() => fx.close())
const { world, main, atomicUpdates, user, text, sendMany } = fx
const { chat } = main
const { conversations } = main.ports
const { redis } = main
const events = world.events

t.test('unread counts: increments, reads, and an exact rebuild from MongoDB', async (t) => {
  const a = user()
  const b = user()
  const c = user()
  const ab: number[] = []
  for (let i = 0; i < 5; i++) ab.push((await text(a, b, `a${i}`)).message.id)
  await text(b, a, 'b0') // b replying reads everything a sent
  await text(a, b, 'a5')
  await text(a, b, 'a6')
  for (let i = 0; i < 3; i++) await text(c, b, `c${i}`)
  await text(b, c, 'to c')

  const cidAB = (await conversations.byDirectKey(a, b))!._id
  const cidBC = (await conversations.byDirectKey(b, c))!._id
  const bCounts = counts(await chat.unreadCounts({ actorId: b }))
  t.same(bCounts, { [cidAB]: 2 }, 'b: two after its reply, none from c after answering')
  const aCounts = counts(await chat.unreadCounts({ actorId: a }))
  t.same(aCounts, {}, 'a read b0 by sending a5 after it')
  const cCounts = counts(await chat.unreadCounts({ actorId: c }))
  t.same(cCounts, { [cidBC]: 1 })
  const peer = (await chat.unreadCounts({ actorId: b })).conversations[0]
  t.equal(peer?.peerId, a, 'unread names the peer of a direct conversation')

  // Redis loses everything (FLUSHALL as far as these users go): counts come back exactly.
  await Promise.all([a, b, c].map((u) => redis.del(unreadKey(u))))
  t.same(counts(await chat.unreadCounts({ actorId: b })), bCounts)
  t.same(counts(await chat.unreadCounts({ actorId: a })), aCounts)
  t.same(counts(await chat.unreadCounts({ actorId: c })), cCounts)

  // A message arriving while the hash is gone rebuilds it and counts itself once.
  await redis.del(unreadKey(b))
  const mark = events.length
  await text(a, b, 'a7')
  // With b's counts gone from Redis the count is rebuilt after the answer.
  const changed = await eventually(() => events.slice(mark).find((e) => e.kind === 'unread.changed' && e.userId === b))
  t.equal(changed?.kind === 'unread.changed' && changed.count, 3)
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cidAB]: 3 })

  // Concurrent messages into a complete hash count each exactly once.
  await Promise.all(Array.from({ length: 8 }, (_, i) => text(c, b, `burst${i}`)))
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cidAB]: 3, [cidBC]: 8 })
  // Into a missing hash, racing rebuilds may count a message twice for a
  // moment (documented in unread.ts); a rebuild or a read is exact again.
  await redis.del(unreadKey(b))
  await Promise.all(Array.from({ length: 4 }, (_, i) => text(c, b, `burst${i + 8}`)))
  await redis.del(unreadKey(b))
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cidAB]: 3, [cidBC]: 12 }, 'matches MongoDB')
  await redis.del(unreadKey(b))
  await Promise.all(Array.from({ length: 4 }, (_, i) => text(c, b, `burst${i + 12}`)))
  const lastOne = await text(c, b, 'last')
  await chat.read({ actorId: b, messageId: lastOne.message.id })
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cidAB]: 3 }, 'a read settles the conversation exactly')

  // Reading a message marks it and everything before it.
  const readReply = await chat.read({ actorId: b, messageId: ab[4]! })
  t.same(readReply, { conversationId: cidAB, unread: 3 }, 'a0..a4 were already read by replying')
  const whole = await chat.read({ actorId: b, peerId: a })
  t.same(whole, { conversationId: cidAB, unread: 0 })
  const byConv = await chat.read({ actorId: b, conversationId: cidBC })
  t.same(byConv, { conversationId: cidBC, unread: 0 })
  t.same(counts(await chat.unreadCounts({ actorId: b })), {})
  const last = events.at(-1)
  t.same(last, { kind: 'unread.changed', userId: b, conversationId: cidBC, peerId: c, count: 0 })
})

t.test('read marks never go backwards', async (t) => {
  const a = user()
  const b = user()
  const sent: number[] = []
  for (let i = 0; i < 6; i++) sent.push((await text(a, b, `m${i}`)).message.id)
  const cid = (await conversations.byDirectKey(a, b))!._id
  t.same(await chat.read({ actorId: b, messageId: sent[4]! }), { conversationId: cid, unread: 1 })
  t.same(await chat.read({ actorId: b, messageId: sent[1]! }), { conversationId: cid, unread: 1 }, 'an older read changes nothing')
  t.equal((await conversations.member(cid, b))?.lastReadSeq, 5)
  await chat.read({ actorId: b, messageId: sent[5]! })
  await chat.read({ actorId: b, messageId: sent[0]! })
  t.equal((await conversations.member(cid, b))?.lastReadSeq, 6)
  await text(a, b, 'one more')
  t.same(await chat.read({ actorId: b, messageId: sent[2]! }), { conversationId: cid, unread: 1 }, 'an old read leaves the new message unread')
  if (atomicUpdates) {
    await Promise.all([...sent].reverse().map((id) => chat.read({ actorId: b, messageId: id })))
    t.equal((await conversations.member(cid, b))?.lastReadSeq, 6, 'concurrent reads never lower the mark')
  }
  await chat.read({ actorId: b, peerId: a })
  await redis.del(unreadKey(b))
  t.same(counts(await chat.unreadCounts({ actorId: b })), {})
})

t.test('history pages back, oldest first, from the newest', async (t) => {
  const a = user()
  const b = user()
  t.same(await chat.history({ actorId: a, peerId: b }), { conversationId: null, messages: [], hasMore: false }, 'never talked')
  for (let i = 1; i <= 12; i++) await text(i % 3 ? a : b, i % 3 ? b : a, `m${i}`)
  const p1 = await chat.history({ actorId: a, peerId: b, limit: 5 })
  t.same(p1.messages.map((m) => m.content), ['m8', 'm9', 'm10', 'm11', 'm12'])
  t.equal(p1.hasMore, true)
  const p2 = await chat.history({ actorId: a, peerId: b, limit: 5, beforeId: p1.messages[0]!.id })
  t.same(p2.messages.map((m) => m.seq), [3, 4, 5, 6, 7])
  const p3 = await chat.history({ actorId: b, conversationId: p1.conversationId!, limit: 5, beforeId: p2.messages[0]!.id })
  t.same(p3.messages.map((m) => m.seq), [1, 2])
  t.equal(p3.hasMore, false)
  t.equal((await chat.history({ actorId: a, peerId: b })).messages.length, 12, 'default limit')

  const x = user()
  const y = user()
  const other = await text(x, y, 'elsewhere')
  t.equal(await code(chat.history({ actorId: a, peerId: b, beforeId: other.message.id })), 'CHAT_MESSAGE_NOT_FOUND', 'beforeId of another conversation')
})

t.test('clear hides history for the actor only', async (t) => {
  const a = user()
  const b = user()
  t.same(await chat.clear({ actorId: a, peerId: b }), { conversationId: null }, 'never talked')
  for (let i = 1; i <= 4; i++) await text(b, a, `m${i}`)
  const cid = (await conversations.byDirectKey(a, b))!._id
  t.same(counts(await chat.unreadCounts({ actorId: a })), { [cid]: 4 })
  const mark = events.length
  t.same(await chat.clear({ actorId: a, peerId: b }), { conversationId: cid })
  t.same(events.slice(mark), [
    { kind: 'messages.cleared', userId: a, conversationId: cid, peerId: b },
    { kind: 'unread.changed', userId: a, conversationId: cid, peerId: b, count: 0 },
  ])
  t.same((await chat.history({ actorId: a, peerId: b })).messages, [])
  t.equal((await chat.history({ actorId: b, peerId: a })).messages.length, 4, 'the peer keeps theirs')
  t.same(counts(await chat.unreadCounts({ actorId: a })), {})
  await text(b, a, 'after')
  const h = await chat.history({ actorId: a, peerId: b })
  t.same(h.messages.map((m) => m.content), ['after'])
  t.equal(h.hasMore, false)
  await redis.del(unreadKey(a))
  t.same(counts(await chat.unreadCounts({ actorId: a })), { [cid]: 1 }, 'rebuild respects the clear')
  const s = await chat.sync({ actorId: a, cursors: [{ conversationId: cid, afterSeq: 0 }] })
  t.same(s.conversations[0]!.messages.map((m) => m.content), ['after'], 'sync respects the clear')
})

t.test('sync returns what a reconnecting client missed', async (t) => {
  const a = user()
  const b = user()
  const c = user()
  for (let i = 1; i <= 7; i++) await text(a, b, `ab${i}`)
  for (let i = 1; i <= 2; i++) await text(c, b, `cb${i}`)
  const ab = (await conversations.byDirectKey(a, b))!._id
  const cb = (await conversations.byDirectKey(c, b))!._id
  const r = await chat.sync({ actorId: b, cursors: [{ conversationId: ab, afterSeq: 3 }, { conversationId: cb, afterSeq: 0 }], limit: 3 })
  t.same(r.conversations.map((x) => [x.conversationId, x.messages.map((m) => m.seq), x.hasMore]), [
    [ab, [4, 5, 6], true],
    [cb, [1, 2], false],
  ])
  const none = await chat.sync({ actorId: b, cursors: [{ conversationId: ab, afterSeq: 7 }] })
  t.same(none.conversations, [{ conversationId: ab, messages: [], changes: [], hasMore: false }])
})

t.test('history: offset skips the newest visible messages', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const sent = await sendMany(a, b, 12)
  const ids = sent.map((m) => m.id)

  const p0 = await chat.history({ actorId: b, peerId: a, offset: 0, limit: 5 })
  t.same(p0.messages.map((m) => m.id), ids.slice(7, 12), 'offset 0: newest page, oldest first')
  t.equal(p0.hasMore, true)
  const p1 = await chat.history({ actorId: b, peerId: a, offset: 5, limit: 5 })
  t.same(p1.messages.map((m) => m.id), ids.slice(2, 7), 'page 2')
  t.equal(p1.hasMore, true)
  const p2 = await chat.history({ actorId: b, conversationId: p0.conversationId as number, offset: 10, limit: 5 })
  t.same(p2.messages.map((m) => m.id), ids.slice(0, 2), 'last page, by conversation id')
  t.equal(p2.hasMore, false)
  const past = await chat.history({ actorId: b, peerId: a, offset: 12, limit: 5 })
  t.same(past.messages, [], 'past the end: empty')
  t.equal(past.hasMore, false)
  const exact = await chat.history({ actorId: b, peerId: a, offset: 7, limit: 5 })
  t.same(exact.messages.map((m) => m.id), ids.slice(0, 5))
  t.equal(exact.hasMore, false, 'exactly the oldest five left: no more')

  t.equal(await code(chat.history({ actorId: b, peerId: a, offset: 1, beforeId: ids[5] as number })), 'CHAT_BAD_REQUEST', 'not with beforeId')
  t.equal(await code(chat.history({ actorId: b, peerId: a, offset: 0, beforeId: ids[5] as number })), 'CHAT_BAD_REQUEST', 'not even offset 0')

  // After a clear, only what came after it counts.
  await chat.clear({ actorId: b, peerId: a })
  const later = await sendMany(a, b, 3, 'late')
  const c0 = await chat.history({ actorId: b, peerId: a, offset: 1, limit: 5 })
  t.same(c0.messages.map((m) => m.id), later.slice(0, 2).map((m) => m.id), 'cleared messages are not counted by the offset')
  t.equal(c0.hasMore, false)
  const other = await chat.history({ actorId: a, peerId: b, offset: 13, limit: 5 })
  t.same(other.messages.map((m) => m.id), ids.slice(0, 2), 'the sender did not clear: all 15 visible to them')

  const stranger = fx.user()
  t.same(await chat.history({ actorId: stranger, peerId: a, offset: 3 }), { conversationId: null, messages: [], hasMore: false })
})
