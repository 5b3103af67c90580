/**
 * Sending (src/chat/sending.ts) against the real MongoDB-wire server and
 * Redis: sequence numbers, retries, first messages, refusals, blocking,
 * and the bookkeeping a stored message causes.
 */
import t from 'tap'
import { type Message } from '@chat/contracts'
import { memberKey } from '../src/keys.js'
import { convStateKey } from '../src/send/state.js'
import { unreadKey } from '../src/unread.js'
import { code, counts, createFixture } from './fixtures/world.js'

const fx = await createFixture('sending')
t.teardown(() => fx.close())
const { world, main, atomicUpdates, user, text, summaryOf } = fx
const { chat } = main
const { conversations, messages, summaries } = main.ports
const { redis } = main
const events = world.events

t.test('sequence numbers are 1, 2, 3… and unique under concurrency', async (t) => {
  const a = user()
  const b = user()
  const first = await text(a, b, 'one')
  const second = await text(b, a, 'two')
  const third = await chat.send({ actorId: a, conversationId: first.message.conversationId, kind: 'text', content: 'three' })
  t.same([first, second, third].map((r) => r.message.seq), [1, 2, 3])
  t.equal(second.message.conversationId, first.message.conversationId)
  t.equal(first.message.recipientId, b)
  t.equal(second.message.recipientId, a)

  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => text(i % 2 ? a : b, i % 2 ? b : a, `m${i}`)))
  const seqs = many.map((r) => r.message.seq).sort((x, y) => x - y)
  t.same(seqs, Array.from({ length: 20 }, (_, i) => i + 4), 'distinct, no gaps')
  t.equal(await messages.latestSeq(first.message.conversationId), 23)
  t.equal(await messages.messages.countDocuments({ conversationId: first.message.conversationId }), 23)
  const conv = await conversations.byId(first.message.conversationId)
  if (atomicUpdates) {
    t.equal(conv?.seq, 23, 'the counter matches')
    t.equal(conv?.lastMessage?.seq, 23, 'lastMessage is the newest message')
  }
  // Sequential sends keep both exact everywhere.
  const next = await text(a, b, 'after the burst')
  t.equal(next.message.seq, 24)
  await summaries.drain() // written after the answer
  t.equal((await conversations.byId(first.message.conversationId))?.lastMessage?.id, next.message.id)
})

t.test('a retried send is stored and delivered once', async (t) => {
  const a = user()
  const b = user()
  const before = events.length
  const one = await text(a, b, 'hi', { clientMessageId: 'c-1', originConnectionId: 'gw1:1' })
  t.equal(one.duplicate, false)
  const newEvents = events.slice(before).filter((e) => e.kind === 'message.new')
  t.same(newEvents.map((e) => e.userId).sort(), [a, b].sort(), 'message.new to both members, sender included')
  t.ok(newEvents.every((e) => e.kind === 'message.new' && e.originConnectionId === 'gw1:1'))

  // With the recipient's count cached, the message's event carries it: one event per recipient.
  const [c, d] = [user(), user()]
  await text(c, d, 'opens the conversation')
  await chat.unreadCounts({ actorId: d })
  const warm = events.length
  await text(c, d, 'counted')
  await chat.unreadCounts({ actorId: c }) // waits for the background work of the send
  const sendEvents = events.slice(warm)
  const copies = sendEvents.filter((e) => e.kind === 'message.new')
  t.same(copies.map((e) => e.kind === 'message.new' && e.unread), [{ [d]: 2 }, { [d]: 2 }], 'both copies carry the recipient\'s count, and only theirs')
  t.same(sendEvents.filter((e) => e.kind === 'unread.changed'), [], 'no separate unread event')

  const mark = events.length
  const again = await text(a, b, 'hi', { clientMessageId: 'c-1' })
  t.equal(again.duplicate, true)
  t.equal(again.message.id, one.message.id)
  const repeated = events.slice(mark)
  t.same(repeated.map((e) => e.kind === 'message.new' && [e.userId, e.message.id, e.unread]), [[a, one.message.id, { [b]: 1 }], [b, one.message.id, { [b]: 1 }]],
    'a retry announces the stored message again (its replica may have died before announcing it), with the count as it is: nothing counted twice')
  t.equal(await messages.messages.countDocuments({ conversationId: one.message.conversationId }), 1)

  // The same client id from another sender is another message.
  const other = await text(b, a, 'hi', { clientMessageId: 'c-1' })
  t.equal(other.duplicate, false)

  // Concurrent retries: exactly one stores.
  const racing = await Promise.all(Array.from({ length: 6 }, () => text(a, b, 'race', { clientMessageId: 'c-2' })))
  t.equal(new Set(racing.map((r) => r.message.id)).size, 1, 'all replies name one message')
  t.equal(racing.filter((r) => !r.duplicate).length, 1, 'one reply is the original')
  t.equal(await messages.messages.countDocuments({ dedupeKey: `${a}:c-2` }), 1)
  if (atomicUpdates) {
    const conv = await conversations.byId(one.message.conversationId)
    t.equal(conv?.lastMessage?.id, racing[0]?.message.id, 'lastMessage names the stored message, not a lost retry')
  }
})

t.test('concurrent first messages from both sides make one conversation', async (t) => {
  for (let round = 0; round < 5; round++) {
    const a = user()
    const b = user()
    const replies = await Promise.all([text(a, b, 'hi b'), text(b, a, 'hi a'), text(a, b, 'again'), text(b, a, 'again')])
    t.equal(new Set(replies.map((r) => r.message.conversationId)).size, 1, `round ${round}: one conversation`)
    const key = `${Math.min(a, b)}:${Math.max(a, b)}`
    t.equal(await conversations.conversations.countDocuments({ directKey: key }), 1)
    const cid = replies[0]!.message.conversationId
    t.equal(await conversations.members.countDocuments({ conversationId: cid }), 2, 'both member documents')
    t.same(replies.map((r) => r.message.seq).sort(), [1, 2, 3, 4])
  }
})

t.test('send refuses what it must', async (t) => {
  const a = user()
  const b = user()
  const c = user()
  t.equal(await code(text(a, a, 'me')), 'CHAT_SELF_TARGET')
  t.equal(await code(text(a, 999_999_999, 'ghost')), 'CHAT_USER_NOT_FOUND')
  t.equal(await code(chat.send({ actorId: a, kind: 'text', content: 'x' })), 'CHAT_BAD_REQUEST', 'no target')
  t.equal(await code(chat.send({ actorId: a, peerId: b, conversationId: 1, kind: 'text', content: 'x' })), 'CHAT_BAD_REQUEST', 'two targets')
  t.equal(await code(text(a, b, '')), 'CHAT_BAD_REQUEST')
  t.equal(await code(text(a, b, 'x'.repeat(4001))), 'CHAT_CONTENT_TOO_LARGE')
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'location', content: '{"latitude":91,"longitude":0}' })), 'CHAT_BAD_REQUEST')
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'image', content: 'javascript:alert(1)' })), 'CHAT_BAD_REQUEST')
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'image', content: '/files/123456' })), 'CHAT_FILE_NOT_FOUND')
  const { message } = await text(a, b, 'hello')
  t.equal(await code(chat.send({ actorId: c, conversationId: message.conversationId, kind: 'text', content: 'intrude' })), 'CHAT_NOT_MEMBER')
  t.equal(await code(chat.send({ actorId: c, conversationId: 424242, kind: 'text', content: 'x' })), 'CHAT_CONVERSATION_NOT_FOUND')
  t.equal(await code(chat.history({ actorId: c, conversationId: message.conversationId })), 'CHAT_NOT_MEMBER')
  t.equal(await code(chat.read({ actorId: c, messageId: message.id })), 'CHAT_NOT_MEMBER')
  t.equal(await code(chat.read({ actorId: a, messageId: 123 })), 'CHAT_MESSAGE_NOT_FOUND')
  t.equal(await code(chat.sync({ actorId: c, cursors: [{ conversationId: message.conversationId, afterSeq: 0 }] })), 'CHAT_NOT_MEMBER')
  const loc = await chat.send({ actorId: a, peerId: b, kind: 'location', content: '{"latitude":1.5,"longitude":-2}' })
  t.equal(loc.message.kind, 'location')
})

t.test('a missing member document heals and still counts', async (t) => {
  const a = user()
  const b = user()
  const first = await text(a, b, 'one')
  const cid = first.message.conversationId
  await conversations.members.deleteOne({ _id: memberKey(cid, b) })
  t.equal((await chat.history({ actorId: b, conversationId: cid })).messages.length, 1, 'still a member of a direct conversation')
  await text(a, b, 'two')
  await summaries.drain() // member documents are written after the answer
  t.ok(await conversations.member(cid, b), 'recreated by the next send')
  await redis.del(unreadKey(b))
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [cid]: 2 })
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

t.test('Redis lost a quiet conversation\'s counter: numbering goes on without reading its messages, and a lagging seq costs a retry, not a duplicate', async (t) => {
  const [a, b] = [user(), user()]
  const sent = await fx.sendMany(a, b, 3, 'q')
  const cid = sent[0]!.conversationId
  await summaries.drain()
  const quiet = async (seq: number) => {
    await conversations.conversations.updateOne({ _id: cid }, { $set: { seq, lastActivityAt: new Date(Date.now() - 120_000) } })
    await redis.del(convStateKey(cid))
  }
  let scans = 0
  const latestSeq = messages.latestSeq.bind(messages)
  messages.latestSeq = async (id: number) => { scans++; return latestSeq(id) }
  t.teardown(() => { messages.latestSeq = latestSeq })

  await quiet(3)
  t.equal((await text(a, b, 'q4')).message.seq, 4)
  t.equal(scans, 0, 'the persisted seq of a quiet conversation is enough')

  await summaries.drain()
  await quiet(1) // as if the summary writer had crashed before writing 2…4
  t.equal((await text(a, b, 'q5')).message.seq, 5, 'the taken numbers are refused and the next free one used')
  const seqs = (await chat.history({ actorId: a, peerId: b, limit: 50 })).messages.map((m) => m.seq).sort((x, y) => x - y)
  t.same(seqs, [1, 2, 3, 4, 5], 'no number twice, none skipped')
})

t.test('a first message (or an open) leaves the pair\'s state in Redis: the next ones read no conversation from MongoDB', async (t) => {
  const [a, b, c] = [user(), user(), user()]
  await text(a, b, 'first')
  await chat.openConversation({ actorId: a, peerId: c })
  const reads: string[] = []
  // The pair's conversation id and the conversation's state (the summary writer reads the document once, after the answer).
  const spied = ['byDirectKey', 'byIds'] as const
  const originals = spied.map((name) => conversations[name])
  spied.forEach((name, i) => {
    (conversations as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      reads.push(name)
      return (originals[i] as (...a: unknown[]) => Promise<unknown>).apply(conversations, args)
    }
  })
  t.teardown(() => spied.forEach((name, i) => { (conversations as unknown as Record<string, unknown>)[name] = originals[i] }))
  const second = await text(a, b, 'second')
  const reply = await text(b, a, 'reply')
  t.same([second.message.seq, reply.message.seq], [2, 3])
  t.equal((await text(c, a, 'after the open')).message.seq, 1)
  t.same(reads, [], 'both sides take the hot path at once')
})
