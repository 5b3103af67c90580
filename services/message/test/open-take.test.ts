/**
 * History by offset, firstMessageId in the conversation list,
 * conversation.open and unread.take, against the real MongoDB-wire server
 * and Redis. unread.take is also run concurrently through two replicas
 * (separate MongoDB and Redis connections).
 */
import t from 'tap'
import type { Message } from '@chat/contracts'
import type { ChatEvent } from '../src/chat.js'
import { RedisLocks } from '../src/locks.js'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('opentake')
t.teardown(() => fx.close())
const { world, main } = fx
const { chat, rooms } = main

/**
 * FerretDB v1 applies updates without isolation (see store.test.ts): the
 * assertions that need MongoDB's single-document atomicity run only there.
 */
const atomicUpdates = (await main.db.admin().command({ buildInfo: 1 })).ferretdbVersion === undefined

function eventsSince (mark: number, kind?: ChatEvent['kind']): ChatEvent[] {
  return world.events.slice(mark).filter((e) => kind === undefined || e.kind === kind)
}

async function sendMany (from: number, to: number, n: number, tag = 'm'): Promise<Message[]> {
  const out: Message[] = []
  for (let i = 1; i <= n; i++) out.push((await chat.send({ actorId: from, peerId: to, kind: 'text', content: `${tag}${i}` })).message)
  return out
}

async function summaryOf (actorId: number, conversationId: number) {
  const list = await chat.listConversations({ actorId, limit: 100 })
  return list.conversations.find((c) => c.conversationId === conversationId)
}

// ------------------------------------------------------------- history offset

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

// ------------------------------------------------------------- firstMessageId

t.test('conversation list: firstMessageId follows sends, deletes and clears', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const empty = await chat.openConversation({ actorId: a, peerId: b })
  t.equal((await summaryOf(a, empty.conversationId))?.firstMessageId, null, 'opened, nothing sent')

  const sent = await sendMany(a, b, 4)
  const conv = sent[0]?.conversationId as number
  t.equal(conv, empty.conversationId)
  t.equal((await summaryOf(a, conv))?.firstMessageId, sent[0]?.id, 'the first message')
  t.equal((await summaryOf(b, conv))?.firstMessageId, sent[0]?.id, 'for both sides')

  await chat.deleteMessage({ actorId: a, messageId: sent[0]?.id as number })
  t.equal((await summaryOf(b, conv))?.firstMessageId, sent[1]?.id, 'first deleted: the next one')
  await chat.deleteMessage({ actorId: a, messageId: sent[2]?.id as number })
  t.equal((await summaryOf(b, conv))?.firstMessageId, sent[1]?.id, 'a middle one deleted: unchanged')

  await chat.clear({ actorId: b, peerId: a })
  t.equal((await summaryOf(b, conv))?.firstMessageId, null, 'b cleared everything')
  t.equal((await summaryOf(a, conv))?.firstMessageId, sent[1]?.id, 'a still sees theirs')
  const after = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'after clear' })
  t.equal((await summaryOf(b, conv))?.firstMessageId, after.message.id, 'b: the first message after the clear')
  t.equal((await summaryOf(a, conv))?.firstMessageId, sent[1]?.id)

  await chat.deleteMessage({ actorId: a, messageId: sent[1]?.id as number })
  await chat.deleteMessage({ actorId: a, messageId: sent[3]?.id as number })
  t.equal((await summaryOf(a, conv))?.firstMessageId, after.message.id, 'older ones all deleted')
  await chat.deleteMessage({ actorId: a, messageId: after.message.id })
  t.equal((await summaryOf(a, conv))?.firstMessageId, null, 'none left')
  const stored = await main.db.collection('conversations').findOne({ _id: conv as never })
  t.notOk(stored?.firstMessage, 'the stored first is gone with the last message')
  const again = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'again' })
  t.equal((await summaryOf(a, conv))?.firstMessageId, again.message.id, 'set again by the next send')
})

t.test('conversation list: firstMessageId of conversations without the stored field, and of rooms', async (t) => {
  const me = fx.user()
  const peers = [fx.user(), fx.user(), fx.user()]
  const firsts: number[] = []
  for (const p of peers) firsts.push((await sendMany(p, me, 2, 'old'))[0]?.id as number)
  const convIds = await Promise.all(peers.map(async (p) => (await chat.history({ actorId: me, peerId: p })).conversationId as number))
  // As written before the field existed.
  await main.db.collection('conversations').updateMany({ _id: { $in: convIds as never[] } }, { $unset: { firstMessage: '' } })
  // One of them cleared, with a newer message after the clear.
  await chat.clear({ actorId: me, peerId: peers[2] as number })
  const newer = await chat.send({ actorId: peers[2] as number, peerId: me, kind: 'text', content: 'new' })

  const list = await chat.listConversations({ actorId: me })
  const byId = new Map(list.conversations.map((c) => [c.conversationId, c.firstMessageId]))
  t.equal(byId.get(convIds[0] as number), firsts[0], 'looked up')
  t.equal(byId.get(convIds[1] as number), firsts[1], 'looked up')
  t.equal(byId.get(convIds[2] as number), newer.message.id, 'looked up after the clear')

  // Filled in passing (asynchronously) for the never-cleared ones.
  let filled = 0
  for (let i = 0; i < 50 && filled < 2; i++) {
    const docs = await main.db.collection('conversations').find({ _id: { $in: convIds.slice(0, 2) as never[] } }).toArray()
    filled = docs.filter((d) => d.firstMessage).length
    if (filled < 2) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(filled, 2, 'the stored field was filled in')
  t.same((await chat.listConversations({ actorId: me })).conversations.map((c) => c.firstMessageId), list.conversations.map((c) => c.firstMessageId), 'same answer from the stored field')

  const owner = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'FirstRoom' })
  t.equal((await summaryOf(owner, room.id))?.firstMessageId, null, 'an empty room')
  const first = await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'hi room' })
  await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'more' })
  t.equal((await summaryOf(owner, room.id))?.firstMessageId, first.message.id, 'a room')
})

t.test('firstMessage under concurrent first sends', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const { conversationId } = await chat.openConversation({ actorId: a, peerId: b })
  const replica = await fx.replica()
  const sent = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    (i % 2 === 0 ? chat : replica.chat).send({ actorId: i % 3 === 0 ? a : b, conversationId, kind: 'text', content: `race ${i}` })))
  const oldest = sent.map((s) => s.message).sort((x, y) => x.seq - y.seq)[0] as Message
  const first = (await summaryOf(a, conversationId))?.firstMessageId
  if (atomicUpdates) {
    t.equal(first, oldest.id, 'the oldest of the racing sends')
  } else {
    // FerretDB v1 can lose one of two racing conditional updates (see setFirstMessage).
    t.ok(sent.some((s) => s.message.id === first), `one of the racing sends (oldest: ${first === oldest.id})`)
  }
})

// ---------------------------------------------------------- conversation.open

t.test('conversation.open: the rules of a first send; the peer is told once', async (t) => {
  const a = fx.user()
  const b = fx.user()
  t.equal(await code(chat.openConversation({ actorId: a, peerId: a })), 'CHAT_SELF_TARGET')
  t.equal(await code(chat.openConversation({ actorId: a, peerId: 987_654_321 })), 'CHAT_USER_NOT_FOUND')
  world.blocks.add(`${b}:${a}`)
  t.equal(await code(chat.openConversation({ actorId: a, peerId: b })), 'CHAT_BLOCKED', 'the peer blocked the actor')
  t.equal(await chat.history({ actorId: a, peerId: b }).then((h) => h.conversationId), null, 'nothing created')
  world.blocks.delete(`${b}:${a}`)
  world.blocks.add(`${a}:${b}`)
  const mark = world.events.length
  const opened = await chat.openConversation({ actorId: a, peerId: b })
  world.blocks.delete(`${a}:${b}`)
  t.equal(opened.created, true, 'blocking the peer oneself does not prevent it (as with send)')
  // (Only this test's users: counts of earlier tests' users may still be settling.)
  t.same(eventsSince(mark).filter((e) => e.userId === a || e.userId === b), [{ kind: 'conversation.created', userId: b, conversationId: opened.conversationId, peerId: a }], 'only the peer is told')

  const again = await chat.openConversation({ actorId: a, peerId: b })
  const back = await chat.openConversation({ actorId: b, peerId: a })
  t.same(again, { conversationId: opened.conversationId, created: false })
  t.same(back, { conversationId: opened.conversationId, created: false }, 'the same conversation from the other side')
  t.equal(eventsSince(mark, 'conversation.created').length, 1, 'told once')

  for (const [actor, peer] of [[a, b], [b, a]] as const) {
    const s = await summaryOf(actor, opened.conversationId)
    t.match(s, { conversationId: opened.conversationId, kind: 'direct', peerId: peer, lastMessage: null, firstMessageId: null, unread: 0 }, 'listed for both')
  }
  const sent = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'hi' })
  t.equal(sent.message.conversationId, opened.conversationId, 'a send uses it')
})

t.test('conversation.open: concurrent opens through two replicas create one conversation', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const replica = await fx.replica()
  const mark = world.events.length
  const replies = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    (i % 2 === 0 ? chat : replica.chat).openConversation(i % 3 === 0 ? { actorId: b, peerId: a } : { actorId: a, peerId: b })))
  t.equal(new Set(replies.map((r) => r.conversationId)).size, 1, 'one conversation')
  t.equal(replies.filter((r) => r.created).length, 1, 'one creator')
  t.equal(eventsSince(mark, 'conversation.created').length, 1, 'one event')
})

// ---------------------------------------------------------------- unread.take

t.test('unread.take: oldest first, marks read, counts what remains', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const sent = await sendMany(b, a, 60)
  const conversationId = sent[0]?.conversationId as number
  const mine = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'own messages are never unread' })

  t.equal(await code(chat.takeUnread({ actorId: a, conversationId: 999_999_999 })), 'CHAT_CONVERSATION_NOT_FOUND')
  t.equal(await code(chat.takeUnread({ actorId: fx.user(), conversationId })), 'CHAT_NOT_MEMBER')

  // a's own send marked everything before it read; make them unread again for the test.
  await main.ports.summaries.drain() // that mark is written after the answer
  await main.db.collection('members').updateOne({ _id: `${conversationId}:${a}` as never }, { $set: { lastReadSeq: 0 } })
  await main.ports.unread.refresh(a, conversationId)

  let mark = world.events.length
  const first = await chat.takeUnread({ actorId: a, conversationId, limit: 7 })
  t.same(first.messages.map((m) => m.id), sent.slice(0, 7).map((m) => m.id), 'the oldest seven, oldest first')
  t.equal(first.remaining, 53)
  t.same(eventsSince(mark, 'unread.changed'), [{ kind: 'unread.changed', userId: a, conversationId, peerId: b, count: 53 }])
  t.match(eventsSince(mark, 'message.read'), [{ kind: 'message.read', userId: b, conversationId, readerId: a, seq: sent[6]?.seq, messageId: sent[6]?.id }], 'a read receipt to the sender')
  t.equal((await chat.unreadCounts({ actorId: a })).conversations.find((c) => c.conversationId === conversationId)?.count, 53)

  const dflt = await chat.takeUnread({ actorId: a, conversationId })
  t.equal(dflt.messages.length, 50, 'default limit 50')
  t.equal(dflt.messages[0]?.id, sent[7]?.id)
  t.equal(dflt.remaining, 3)
  const rest = await chat.takeUnread({ actorId: a, conversationId, limit: 100 })
  t.same(rest.messages.map((m) => m.id), sent.slice(57).map((m) => m.id), 'the last three; not the own message')
  t.notOk(rest.messages.some((m) => m.id === mine.message.id))
  t.equal(rest.remaining, 0)

  mark = world.events.length
  t.same(await chat.takeUnread({ actorId: a, conversationId }), { messages: [], remaining: 0 }, 'nothing left')
  t.same(eventsSince(mark), [], 'and nothing published')
  t.same((await chat.history({ actorId: a, conversationId, limit: 1 })).messages.map((m) => m.id), [mine.message.id], 'history unchanged')

  // Cleared messages are not unread.
  await sendMany(b, a, 3, 'pre')
  await chat.clear({ actorId: a, peerId: b })
  const post = await sendMany(b, a, 2, 'post')
  const afterClear = await chat.takeUnread({ actorId: a, conversationId })
  t.same(afterClear.messages.map((m) => m.id), post.map((m) => m.id), 'only after the clear')
})

t.test('unread.take in a room', async (t) => {
  const owner = fx.user()
  const member = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'TakeRoom' })
  await rooms.join({ actorId: member, roomId: room.id })
  const sent: Message[] = []
  for (let i = 0; i < 4; i++) sent.push((await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: `r${i}` })).message)
  t.equal(await code(chat.takeUnread({ actorId: fx.user(), conversationId: room.id })), 'CHAT_NOT_MEMBER')
  const got = await chat.takeUnread({ actorId: member, conversationId: room.id, limit: 3 })
  t.same(got.messages.map((m) => m.id), sent.slice(0, 3).map((m) => m.id))
  t.equal(got.remaining, 1)
  const last = await chat.takeUnread({ actorId: member, conversationId: room.id, limit: 3 })
  t.same(last.messages.map((m) => m.id), [sent[3]?.id])
  t.equal(last.remaining, 0)
})

t.test('unread.take: concurrent takes from two devices through two replicas', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const sent = await sendMany(b, a, 120, 'c')
  const conversationId = sent[0]?.conversationId as number
  const replica = await fx.replica()
  const services = [main.chat, replica.chat]
  const taken: Array<{ ids: number[], remaining: number }> = []
  const errors: string[] = []
  // Three concurrent loops per replica (six devices' worth of pressure).
  await Promise.all(Array.from({ length: 6 }, async (_, w) => {
    const svc = services[w % 2] as typeof chat
    for (;;) {
      let ids: number[]
      try {
        const r = await svc.takeUnread({ actorId: a, conversationId, limit: 7 })
        ids = r.messages.map((m) => m.id)
        taken.push({ ids, remaining: r.remaining })
      } catch (err) {
        errors.push(String(err))
        return
      }
      if (ids.length === 0) return
    }
  }))
  t.same(errors, [], 'no take failed')
  const all = taken.flatMap((x) => x.ids)
  t.equal(all.length, 120, 'every message returned once in all')
  t.equal(new Set(all).size, 120, 'no duplicates')
  t.same([...all].sort((x, y) => x - y), sent.map((m) => m.id).sort((x, y) => x - y), 'exactly the 120 messages')
  for (const x of taken) t.ok(x.ids.length <= 7, 'at most the limit')
  const nonEmpty = taken.filter((x) => x.ids.length > 0)
  t.equal(nonEmpty.length, Math.ceil(120 / 7), 'full pages until the last')
  t.same(nonEmpty.map((x) => x.remaining).sort((x, y) => y - x), Array.from({ length: 18 }, (_, i) => Math.max(0, 120 - 7 * (i + 1))), 'remaining counts down to 0')
  t.equal(await chat.takeUnread({ actorId: a, conversationId }).then((r) => r.remaining), 0)
  t.notOk((await chat.unreadCounts({ actorId: a })).conversations.some((c) => c.conversationId === conversationId), 'nothing unread')
})

t.test('read: two devices marking at once through two replicas leave the newest count', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const replica = await fx.replica()
  // The replica's recount answers slowly, as on a loaded server: without the
  // per-(user, conversation) lock its stale count would land last.
  const source = replica.ports.unreadSource
  const countOne = source.countOne.bind(source)
  source.countOne = async (userId, conversationId) => {
    const n = await countOne(userId, conversationId)
    await new Promise((resolve) => setTimeout(resolve, 300))
    return n
  }
  t.teardown(() => { source.countOne = countOne })
  const sent = await sendMany(b, a, 6, 'r')
  const older = replica.chat.read({ actorId: a, messageId: (sent[1] as Message).id })
  await new Promise((resolve) => setTimeout(resolve, 100))
  const newer = main.chat.read({ actorId: a, messageId: (sent[5] as Message).id })
  await Promise.all([older, newer])
  const cached = (await chat.unreadCounts({ actorId: a })).conversations.find((c) => c.conversationId === sent[0]?.conversationId)
  t.equal(cached, undefined, 'the cached count is 0, not the slower recount\'s 4')
})

// --------------------------------------------------------------------- locks

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
