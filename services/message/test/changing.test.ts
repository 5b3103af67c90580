/**
 * Changing what was said (src/chat/changing.ts) against the real
 * MongoDB-wire server and Redis: edit, delete, conversation delete and
 * typing.
 */
import t from 'tap'
import { unreadKey } from '../src/unread.js'
import { code, counts, createFixture } from './fixtures/world.js'

const fx = await createFixture('changing')
t.teardown(() => fx.close())
const { world, main, eventsSince } = fx
const { chat, rooms } = main

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

  // The newest message deleted: lastMessage falls back, and its seq is never
  // reused; each deletion took a place of its own (4 and 5).
  await chat.deleteMessage({ actorId: a, messageId: m3.message.id })
  t.equal((await main.ports.conversations.byId(cid))?.lastMessage?.id, m1.message.id)
  const m4 = await chat.send({ actorId: b, peerId: a, kind: 'text', content: 'four' })
  t.equal(m4.message.seq, 6, 'a deleted message\'s number stays used, and so do the deletions\'')
  t.same((await chat.sync({ actorId: b, cursors: [{ conversationId: cid, afterSeq: 3 }] })).conversations[0]!.changes?.map((c) => [c.seq, c.kind, c.messageSeq]),
    [[4, 'deleted', 2], [5, 'deleted', 3]], 'sync tells who had them of both deletions')

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
  t.same(eventsSince(mark, 'conversation.deleted').sort((x, y) => (x.userId ?? 0) - (y.userId ?? 0)), [
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

t.test('a last message whose summary still waits is listed as edits and deletions left it', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const last = async () => (await chat.listConversations({ actorId: b })).conversations[0]?.lastMessage
  // The conversation's first message takes the general path, which writes
  // its summary itself; the second one's is the summary writer's first for
  // it, written at once, and starts the interval.
  await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'zero' })
  await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'one' })
  t.equal((await last())?.content, 'one', 'a summary after a quiet spell is written at once')
  // The next ones wait for the conversation's interval (SUMMARY_EVERY_MS, 5 s).
  const two = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'two' })
  await chat.edit({ actorId: a, messageId: two.message.id, content: 'two, edited' })
  t.equal((await last())?.content, 'two, edited', 'an edit made while it waited: the new content')
  const three = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'three' })
  await chat.deleteMessage({ actorId: a, messageId: three.message.id })
  const shown = await last()
  t.equal(shown?.id, two.message.id, 'a deletion made while it waited: the newest message left')
  t.equal(shown?.content, 'two, edited')
})
