/**
 * The message lifecycle in direct conversations against the real
 * MongoDB-wire server and Redis: edit, delete, conversation delete, typing,
 * read receipts, blocking and the conversation list.
 */
import t from 'tap'
import type { ChatEvent } from '../src/chat.js'
import { unreadKey } from '../src/unread.js'
import { code, counts, createFixture, spyRedis } from './fixtures/world.js'

const fx = await createFixture('lifecycle')
t.teardown(() => fx.close())
const { world, main } = fx
const { chat, rooms } = main

function eventsSince (mark: number, kind?: ChatEvent['kind']): ChatEvent[] {
  return world.events.slice(mark).filter((e) => kind === undefined || e.kind === kind)
}

async function upload (owner: number): Promise<number> {
  const file = await main.ports.files.create(main.ports.newId(), owner, 'a.png', 'image/png', 3)
  await main.ports.files.putChunk(owner, file._id, 0, Buffer.from('abc').toString('base64'))
  await main.ports.files.commit(owner, file._id)
  return file._id
}

t.test('edit: sender only, text-like kinds only, content validated', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const sent = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'helo' })
  t.equal(await code(chat.edit({ actorId: b, messageId: sent.message.id, content: 'mine now' })), 'CHAT_FORBIDDEN')
  t.equal(await code(chat.edit({ actorId: fx.user(), messageId: sent.message.id, content: 'x' })), 'CHAT_FORBIDDEN')
  t.equal(await code(chat.edit({ actorId: a, messageId: 999_999_999, content: 'x' })), 'CHAT_MESSAGE_NOT_FOUND')
  t.equal(await code(chat.edit({ actorId: a, messageId: sent.message.id, content: '' })), 'CHAT_BAD_REQUEST')
  t.equal(await code(chat.edit({ actorId: a, messageId: sent.message.id, content: 'x'.repeat(4001) })), 'CHAT_CONTENT_TOO_LARGE')

  const mark = world.events.length
  const { message } = await chat.edit({ actorId: a, messageId: sent.message.id, content: 'hello', originConnectionId: 'gw:2' })
  t.match(message, { id: sent.message.id, seq: sent.message.seq, content: 'hello', createdAt: sent.message.createdAt })
  t.ok(message.editedAt && Date.parse(message.editedAt) >= Date.parse(sent.message.createdAt))
  const edited = eventsSince(mark, 'message.edited')
  t.same(edited.map((e) => e.userId).sort(), [a, b].sort(), 'both users are told')
  t.ok(edited.every((e) => e.kind === 'message.edited' && e.message.content === 'hello' && e.originConnectionId === 'gw:2'))
  const h = await chat.history({ actorId: b, peerId: a })
  t.equal(h.messages[0]?.content, 'hello')
  t.equal(h.messages[0]?.editedAt, message.editedAt)
  t.equal((await main.ports.conversations.byId(sent.message.conversationId))?.lastMessage?.content, 'hello', 'the list shows the edit')

  const loc = await chat.send({ actorId: a, peerId: b, kind: 'location', content: '{"latitude":1,"longitude":2}' })
  t.equal(await code(chat.edit({ actorId: a, messageId: loc.message.id, content: 'not json' })), 'CHAT_BAD_REQUEST', 'validated per kind')
  t.equal((await chat.edit({ actorId: a, messageId: loc.message.id, content: '{"latitude":3,"longitude":4}' })).message.kind, 'location')
  const img = await chat.send({ actorId: a, peerId: b, kind: 'image', content: `/files/${await upload(a)}` })
  t.equal(await code(chat.edit({ actorId: a, messageId: img.message.id, content: `/files/${await upload(a)}` })), 'CHAT_BAD_REQUEST', 'a file reference is not editable')
})

t.test('delete: sender only; gone from history, sync and unread', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const m1 = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'one' })
  const m2 = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'two' })
  const m3 = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'three' })
  const cid = m1.message.conversationId
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cid]: 3 })

  t.equal(await code(chat.deleteMessage({ actorId: b, messageId: m2.message.id })), 'CHAT_FORBIDDEN')
  const mark = world.events.length
  t.same(await chat.deleteMessage({ actorId: a, messageId: m2.message.id, originConnectionId: 'gw:3' }), { conversationId: cid, messageId: m2.message.id })
  const deleted = eventsSince(mark, 'message.deleted')
  t.same(deleted.map((e) => e.userId).sort(), [a, b].sort())
  t.ok(deleted.every((e) => e.kind === 'message.deleted' && e.messageId === m2.message.id && e.conversationId === cid && e.originConnectionId === 'gw:3'))
  t.match(eventsSince(mark, 'unread.changed'), [{ userId: b, conversationId: cid, peerId: a, count: 2 }])
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cid]: 2 })
  t.same((await chat.history({ actorId: b, peerId: a })).messages.map((m) => m.content), ['one', 'three'])
  t.same((await chat.sync({ actorId: b, cursors: [{ conversationId: cid, afterSeq: 0 }] })).conversations[0]!.messages.map((m) => m.seq), [1, 3])
  await main.redis.del(unreadKey(b))
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cid]: 2 }, 'a rebuild agrees')
  t.equal(await code(chat.deleteMessage({ actorId: a, messageId: m2.message.id })), 'CHAT_MESSAGE_NOT_FOUND', 'deleting twice')
  t.equal(await code(chat.read({ actorId: b, messageId: m2.message.id })), 'CHAT_MESSAGE_NOT_FOUND')

  // The newest message deleted: lastMessage falls back, and its seq is never reused.
  await chat.deleteMessage({ actorId: a, messageId: m3.message.id })
  t.equal((await main.ports.conversations.byId(cid))?.lastMessage?.id, m1.message.id)
  const m4 = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'four' })
  t.equal(m4.message.seq, 4, 'a deleted message\'s number stays used')

  // A message the peer had read: deleting it changes no count.
  await chat.read({ actorId: a, peerId: b })
  const mark2 = world.events.length
  await chat.deleteMessage({ actorId: b, messageId: m4.message.id })
  t.same(eventsSince(mark2, 'unread.changed'), [])
  t.same(counts(await chat.unreadCounts({ actorId: a })), {})
  await chat.deleteMessage({ actorId: a, messageId: m1.message.id })
  t.notOk((await main.ports.conversations.byId(cid))?.lastMessage, 'no messages left, no lastMessage')
})

t.test('conversation delete: both sides, everything, and a fresh start', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const c = fx.user()
  for (let i = 0; i < 3; i++) await chat.send({ actorId: a, peerId: b, kind: 'text', content: `a${i}` })
  const last = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'b0' })
  const cid = last.message.conversationId
  await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'a3' })
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cid]: 1 })
  t.same(counts(await chat.unreadCounts({ actorId: a })), {})

  t.equal(await code(chat.deleteConversation({ actorId: c, conversationId: cid })), 'CHAT_NOT_MEMBER')
  t.equal(await code(chat.deleteConversation({ actorId: a })), 'CHAT_BAD_REQUEST')
  t.equal(await code(chat.deleteConversation({ actorId: a, peerId: c })), 'CHAT_CONVERSATION_NOT_FOUND')
  const room = await rooms.create({ actorId: a, name: 'not direct' })
  t.equal(await code(chat.deleteConversation({ actorId: a, conversationId: room.room.id })), 'CHAT_BAD_REQUEST')

  const mark = world.events.length
  t.same(await chat.deleteConversation({ actorId: a, peerId: b }), { conversationId: cid, peerId: b })
  t.same(eventsSince(mark, 'conversation.deleted').sort((x, y) => x.userId - y.userId), [
    { kind: 'conversation.deleted', userId: a, conversationId: cid, peerId: b },
    { kind: 'conversation.deleted', userId: b, conversationId: cid, peerId: a },
  ].sort((x, y) => x.userId - y.userId))
  t.match(eventsSince(mark, 'unread.changed'), [{ userId: b, conversationId: cid, count: 0 }], 'only b had a count')
  t.same(counts(await chat.unreadCounts({ actorId: b })), {})
  t.same(await chat.history({ actorId: a, peerId: b }), { conversationId: null, messages: [], hasMore: false })
  t.same(await chat.history({ actorId: b, peerId: a }), { conversationId: null, messages: [], hasMore: false })
  t.equal(await code(chat.history({ actorId: a, conversationId: cid })), 'CHAT_CONVERSATION_NOT_FOUND')
  t.equal(await main.ports.messages.messages.countDocuments({ conversationId: cid }), 0)
  t.equal(await main.ports.conversations.members.countDocuments({ conversationId: cid }), 0)
  t.equal(await code(chat.deleteConversation({ actorId: b, conversationId: cid })), 'CHAT_CONVERSATION_NOT_FOUND')

  const fresh = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'start over' })
  t.not(fresh.message.conversationId, cid, 'a new conversation')
  t.equal(fresh.message.seq, 1)
  t.same(counts(await chat.unreadCounts({ actorId: a })), { [fresh.message.conversationId]: 1 })
  await main.redis.del(unreadKey(a))
  t.same(counts(await chat.unreadCounts({ actorId: a })), { [fresh.message.conversationId]: 1 }, 'rebuilt without the old one')
})

t.test('conversation delete with openerOnly: only the member who opened it', async (t) => {
  const a = fx.user()
  const b = fx.user()
  // Opened explicitly by a; b answers.
  const { conversationId: opened } = await chat.openConversation({ actorId: a, peerId: b })
  await chat.send({ actorId: b, conversationId: opened, kind: 'text', content: 'hi' })
  t.equal((await main.ports.conversations.byId(opened))?.openedBy, a)
  t.equal(await code(chat.deleteConversation({ actorId: b, conversationId: opened, openerOnly: true })), 'CHAT_FORBIDDEN')
  t.equal(await code(chat.deleteConversation({ actorId: b, peerId: a, openerOnly: true })), 'CHAT_FORBIDDEN', 'named by peer too')
  t.equal(await main.ports.messages.messages.countDocuments({ conversationId: opened }), 1, 'nothing deleted')
  t.same(await chat.deleteConversation({ actorId: a, conversationId: opened, openerOnly: true }), { conversationId: opened, peerId: b })

  // Opened by b's first message: b is the opener now.
  const first = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'again' })
  const cid = first.message.conversationId
  t.equal((await main.ports.conversations.byId(cid))?.openedBy, b)
  t.equal(await code(chat.deleteConversation({ actorId: a, conversationId: cid, openerOnly: true })), 'CHAT_FORBIDDEN')

  // Without openerOnly either member may, as before.
  t.same(await chat.deleteConversation({ actorId: a, conversationId: cid }), { conversationId: cid, peerId: b })

  // A conversation stored before openers were recorded: either member.
  const legacy = (await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'old' })).message.conversationId
  await main.ports.conversations.conversations.updateOne({ _id: legacy }, { $unset: { openedBy: '' } })
  t.same(await chat.deleteConversation({ actorId: b, conversationId: legacy, openerOnly: true }), { conversationId: legacy, peerId: a })
})

t.test('typing: to the peer, nothing stored', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const c = fx.user()
  t.equal(await code(chat.typing({ actorId: a, peerId: b, typing: true })), 'CHAT_CONVERSATION_NOT_FOUND', 'no conversation yet')
  const sent = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'hi' })
  const cid = sent.message.conversationId
  const before = await main.ports.conversations.members.find({ conversationId: cid }).toArray()
  const mark = world.events.length
  await chat.typing({ actorId: a, peerId: b, typing: true })
  await chat.typing({ actorId: b, conversationId: cid, typing: false })
  t.same(eventsSince(mark), [
    { kind: 'typing', userId: b, conversationId: cid, fromUserId: a, typing: true },
    { kind: 'typing', userId: a, conversationId: cid, fromUserId: b, typing: false },
  ])
  t.same(await main.ports.conversations.members.find({ conversationId: cid }).toArray(), before, 'no writes')
  t.equal(await code(chat.typing({ actorId: c, conversationId: cid, typing: true })), 'CHAT_NOT_MEMBER')
  t.equal(await code(chat.typing({ actorId: a, peerId: a, typing: true })), 'CHAT_SELF_TARGET')
  t.equal(await code(chat.typing({ actorId: a, typing: true })), 'CHAT_BAD_REQUEST')
})

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

t.test('blocking: a blocked sender stores nothing', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const first = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'hi' })
  world.blocks.add(`${b}:${a}`)
  const before = await main.ports.messages.messages.countDocuments({ conversationId: first.message.conversationId })
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'text', content: 'let me talk' })), 'CHAT_BLOCKED')
  t.equal(await code(chat.send({ actorId: a, conversationId: first.message.conversationId, kind: 'text', content: 'by id' })), 'CHAT_BLOCKED')
  t.equal(await main.ports.messages.messages.countDocuments({ conversationId: first.message.conversationId }), before)
  t.ok((await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'I may still talk' })).message, 'the blocker is not blocked')

  const c = fx.user()
  world.blocks.add(`${c}:${a}`)
  t.equal(await code(chat.send({ actorId: a, peerId: c, kind: 'text', content: 'hello stranger' })), 'CHAT_BLOCKED')
  t.equal(await main.ports.conversations.byDirectKey(a, c), null, 'not even an empty conversation')

  world.contactDown = true
  t.equal(await code(chat.send({ actorId: b, peerId: a, kind: 'text', content: 'contact is down' })), 'CHAT_UNAVAILABLE', 'fails closed, retryable')
  world.contactDown = false
  world.blocks.delete(`${b}:${a}`)
  t.ok((await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'unblocked' })).message)
})

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
