/**
 * Reading (src/chat/reading.ts), part 1, against the real MongoDB-wire
 * server and Redis: read receipts and unread.take, which is also run
 * concurrently through two replicas (separate MongoDB and Redis
 * connections), as are reads.
 */
import t from 'tap'
import { type Message } from '@chat/contracts'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('reading1')
t.teardown(() => fx.close())
const { world, main, eventsSince, sendMany } = fx
const { chat, rooms } = main

t.test('read receipts: to the peer when their messages are newly read', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const m1 = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'one' })
  const m2 = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'two' })
  const cid = m1.message.conversationId

  let mark = world.events.length
  await chat.read({ actorId: b, messageId: m1.message.id })
  t.same(eventsSince(mark, 'message.read'), [{ kind: 'message.read', userId: a, conversationId: cid, readerId: b, seq: 1, messageId: m1.message.id }])
  mark = world.events.length
  await chat.read({ actorId: b, peerId: a })
  t.same(eventsSince(mark, 'message.read'), [{ kind: 'message.read', userId: a, conversationId: cid, readerId: b, seq: 2, messageId: m2.message.id }])
  mark = world.events.length
  await chat.read({ actorId: b, conversationId: cid })
  t.same(eventsSince(mark, 'message.read'), [], 'nothing newly read')

  // Only the reader's own messages newly read: nobody to tell.
  const mine = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'mine' })
  await chat.read({ actorId: a, messageId: mine.message.id })
  const own = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'own' })
  mark = world.events.length
  await chat.read({ actorId: a, messageId: own.message.id })
  t.same(eventsSince(mark, 'message.read'), [], 'a read of one\'s own message sends no receipt')
})

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
