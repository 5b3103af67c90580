/**
 * The conversation list and conversation.open (src/chat/listing.ts)
 * against the real MongoDB-wire server and Redis, opens also through two
 * replicas.
 */
import t from 'tap'
import { unreadKey } from '../src/unread.js'
import { code, createFixture, spyRedis } from './fixtures/world.js'

const fx = await createFixture('listing')
t.teardown(() => fx.close())
const { world, main, eventsSince, sendMany, summaryOf } = fx
const { chat, rooms } = main

t.test('conversation list: newest activity first, paged, names and unread', async (t) => {
  const me = fx.user()
  const peers = Array.from({ length: 5 }, () => fx.user())
  const cids: number[] = []
  for (const p of peers) {
    cids.push((await chat.send({ actorId: p, peerId: me, kind: 'text', content: `from ${p}` })).message.conversationId)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const { room } = await rooms.create({ actorId: fx.user(), name: 'The Room' })
  await rooms.join({ actorId: me, roomId: room.id })
  await new Promise((resolve) => setTimeout(resolve, 5))
  await chat.send({ actorId: room.ownerId, conversationId: room.id, kind: 'text', content: 'room news' })
  await new Promise((resolve) => setTimeout(resolve, 5))
  // Activity moves the oldest conversation to the top.
  await chat.send({ actorId: me, peerId: peers[0]!, kind: 'text', content: 'reply' })
  await chat.unreadCounts({ actorId: me })

  const spy = spyRedis(main.redis)
  const all = await chat.listConversations({ actorId: me })
  const calls = spy.calls()
  spy.restore()
  t.equal((calls.hmget ?? 0) + (calls.hgetall ?? 0), 1, 'unread counts in one Redis read')
  t.same(all.conversations.map((c) => c.conversationId), [cids[0], room.id, cids[4], cids[3], cids[2], cids[1]])
  t.equal(all.next, null)
  const top = all.conversations[0]!
  t.match(top, { kind: 'direct', peerId: peers[0], name: `user${peers[0]}`, unread: 0, lastMessage: { senderId: me, kind: 'text', content: 'reply' } })
  t.notOk('seq' in (top.lastMessage ?? {}), 'the wire lastMessage has no seq')
  t.match(all.conversations[1], { kind: 'room', name: 'The Room', unread: 1, lastMessage: { content: 'room news' } })
  t.notOk('peerId' in all.conversations[1]!)
  t.match(all.conversations[2], { peerId: peers[4], unread: 1, lastMessage: { content: `from ${peers[4]}` } })
  const times = all.conversations.map((c) => Date.parse(c.lastActivityAt))
  t.same(times, [...times].sort((x, y) => y - x), 'newest activity first')

  const seen: number[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await chat.listConversations({ actorId: me, limit: 2, ...(cursor === undefined ? {} : { cursor }) })
    seen.push(...page.conversations.map((c) => c.conversationId))
    cursor = page.next ?? undefined
    pages++
  } while (cursor !== undefined && pages < 10)
  t.equal(pages, 3)
  t.same(seen, all.conversations.map((c) => c.conversationId), 'pages add up to the whole list')

  // Hash missing: rebuilt, same counts.
  await main.redis.del(unreadKey(me))
  t.same((await chat.listConversations({ actorId: me })).conversations.map((c) => c.unread), all.conversations.map((c) => c.unread))

  // A cleared conversation hides its last message from the one who cleared.
  await chat.clear({ actorId: me, peerId: peers[4]! })
  const afterClear = await chat.listConversations({ actorId: me })
  t.match(afterClear.conversations.find((c) => c.conversationId === cids[4]), { lastMessage: null, unread: 0 })

  t.equal(await code(chat.listConversations({ actorId: me, cursor: 'nonsense!' })), 'CHAT_BAD_REQUEST')
  t.same(await chat.listConversations({ actorId: fx.user() }), { conversations: [], next: null })
})

t.test('the conversation list stays index-bound for a user with many conversations', async (t) => {
  const me = fx.user()
  const n = 120
  const docs = Array.from({ length: n }, (_, i) => {
    const peer = fx.user()
    const conversationId = main.ports.newId()
    return { peer, conversationId, at: new Date(Date.UTC(2026, 0, 1) + i * 1000) }
  })
  // Bulk-made conversations (no messages) so the test stays quick on FerretDB.
  await main.ports.conversations.conversations.insertMany(docs.map((d) => ({
    _id: d.conversationId, kind: 'direct' as const, directKey: `${Math.min(me, d.peer)}:${Math.max(me, d.peer)}`, memberIds: [Math.min(me, d.peer), Math.max(me, d.peer)], seq: 0, lastActivityAt: d.at, createdAt: d.at,
  })))
  await main.ports.conversations.members.insertMany(docs.map((d) => ({
    _id: `${d.conversationId}:${me}`, conversationId: d.conversationId, userId: me, peerId: d.peer, lastReadSeq: 0, clearedSeq: 0, joinedAt: d.at, lastActivityAt: d.at,
  })))
  let calls = 0
  const users = main.ports.users
  main.ports.users = async (ids) => { calls++; return users(ids) }
  const seen: number[] = []
  let cursor: string | undefined
  do {
    const page = await chat.listConversations({ actorId: me, limit: 50, ...(cursor === undefined ? {} : { cursor }) })
    t.ok(page.conversations.length <= 50)
    t.ok(page.conversations.every((c) => c.name === `user${c.peerId}`))
    seen.push(...page.conversations.map((c) => c.conversationId))
    cursor = page.next ?? undefined
  } while (cursor !== undefined)
  main.ports.users = users
  t.equal(calls, 3, 'one auth call per page')
  t.same(seen, [...docs].reverse().map((d) => d.conversationId))
  // On MongoDB the page is one index range with no in-memory sort; FerretDB
  // (the local stand-in) plans differently, so this is checked there only.
  const buildInfo = await main.db.admin().command({ buildInfo: 1 })
  if (buildInfo.ferretdbVersion === undefined) {
    const plan = JSON.stringify(await main.ports.conversations.members.find({ userId: me })
      .sort({ lastActivityAt: -1, conversationId: -1 }).limit(51).explain())
    t.match(plan, /user_activity_conversation/, 'uses the activity index')
    t.notMatch(plan, /"stage":"SORT"/, 'no blocking sort')
  }
})

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
