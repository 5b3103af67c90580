/**
 * Integration test of the stores, the unread cache and the chat logic
 * against the real MongoDB-wire server and Redis (no NATS): a database and a
 * key prefix of its own, both removed at the end.
 */
import t from 'tap'
import { Redis as RawRedis } from 'ioredis'
import { ChatError, type SendMessageRequest } from '@chat/contracts'
import { connectMongo, createIdGenerator, createLogger, createRedis } from '@chat/runtime'
import { ChatService, type ChatEvent } from '../src/chat.js'
import { ConversationStore } from '../src/conversations.js'
import { FileStore } from '../src/files.js'
import { memberKey } from '../src/keys.js'
import { RedisLocks } from '../src/locks.js'
import { MessageStore } from '../src/messages.js'
import { RoomStore } from '../src/rooms.js'
import { MongoUnreadSource, UnreadCache, unreadKey } from '../src/unread.js'
import { DirectSender } from '../src/send/direct.js'
import { SendState } from '../src/send/state.js'
import { SummaryWriter } from '../src/send/summaries.js'

const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = `${process.pid}_${Date.now()}`
const prefix = `msgtest:${run}:`

const logger = createLogger('message-test', (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent')
const { client: mongo, db } = await connectMongo(MONGO_URL, `msgtest_${run}`, 'message-test')
const redis = createRedis(REDIS_URL, prefix)
const ids = await createIdGenerator(redis, logger)

/**
 * FerretDB v1 (the local stand-in for MongoDB) applies updates as
 * read-modify-write without isolation: concurrent updates of one document
 * can lose each other. Assertions that need MongoDB's single-document
 * atomicity run only against a server that has it; everything the service
 * must guarantee everywhere rests on unique indexes and runs always.
 */
const buildInfo = await db.admin().command({ buildInfo: 1 })
const atomicUpdates = buildInfo.ferretdbVersion === undefined

t.teardown(async () => {
  await ids.close()
  await db.dropDatabase()
  await mongo.close()
  // SCAN patterns do not get ioredis' keyPrefix, so clean up with a plain client.
  const raw = new RawRedis(REDIS_URL)
  const keys = await raw.keys(`${prefix}*`)
  if (keys.length > 0) await raw.del(...keys)
  raw.disconnect()
  redis.disconnect()
})

const conversations = new ConversationStore(db)
const messages = new MessageStore(db)
// Tiny chunks so the test exercises several of them.
const files = new FileStore(db, conversations, { maxBytes: 1000, chunkSize: 4 })
await Promise.all([conversations.init(), messages.init(), files.init()])
const locks = new RedisLocks(redis)
const summaries = new SummaryWriter(conversations, messages, locks, logger)
const unreadSource = new MongoUnreadSource(conversations, messages)
const unread = new UnreadCache(redis, unreadSource)
const events: ChatEvent[] = []
const knownUsers = new Set<number>()
const state = new SendState(redis, conversations, messages, { dedupeTtlSeconds: 600 })
const publish = (e: ChatEvent) => { events.push(e) }
const direct = new DirectSender({ redis, state, messages, unread, summaries, isBlocked: async () => false, newId: () => ids.next(), publish, logger })
const chat = new ChatService({
  conversations,
  messages,
  files,
  unread,
  state,
  direct,
  summaries,
  unreadSource,
  locks,
  newId: () => ids.next(),
  userExists: async (id) => knownUsers.has(id),
  // Rooms, blocking and profiles are covered by rooms.test.ts and lifecycle.test.ts.
  users: async () => [],
  isBlocked: async () => false,
  rooms: new RoomStore(db, conversations, { orphanGraceMs: 60_000 }),
  publish,
  publishRoom: () => undefined,
  joinRoom: async () => { throw new Error('rooms are not part of this test') },
  logger,
}, { maxLength: 4000, publicUrl: 'https://chat.example/api', replyBudgetBytes: 900_000 })

let nextUser = 1000
function user (): number {
  const id = nextUser++
  knownUsers.add(id)
  return id
}

function text (actorId: number, peerId: number, content: string, extra: Partial<SendMessageRequest> = {}) {
  return chat.send({ actorId, peerId, kind: 'text', content, ...extra })
}

/** Polls until `find` answers (events published after a send's answer). */
async function eventually<T> (find: () => T | undefined, timeoutMs = 5000): Promise<T | undefined> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const found = find()
    if (found !== undefined || Date.now() > until) return found
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function code (p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return err instanceof ChatError ? err.code : String(err)
  }
}

function counts (reply: { conversations: Array<{ conversationId: number, count: number }> }): Record<number, number> {
  return Object.fromEntries(reply.conversations.map((c) => [c.conversationId, c.count]))
}

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

  // With the recipient's count cached, their copy carries the new count: one event per recipient.
  const [c, d] = [user(), user()]
  await text(c, d, 'opens the conversation')
  await chat.unreadCounts({ actorId: d })
  const warm = events.length
  await text(c, d, 'counted')
  await chat.unreadCounts({ actorId: c }) // waits for the background work of the send
  const sendEvents = events.slice(warm)
  t.match(sendEvents.find((e) => e.kind === 'message.new' && e.userId === d), { unread: 2 }, 'the recipient\'s copy carries their count')
  t.notOk(sendEvents.some((e) => e.kind === 'message.new' && e.userId === c && e.unread !== undefined), 'the sender\'s copy carries none')
  t.same(sendEvents.filter((e) => e.kind === 'unread.changed'), [], 'no separate unread event')

  const mark = events.length
  const again = await text(a, b, 'hi', { clientMessageId: 'c-1' })
  t.equal(again.duplicate, true)
  t.equal(again.message.id, one.message.id)
  t.equal(events.length, mark, 'a retry publishes nothing')
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
  t.same(none.conversations, [{ conversationId: ab, messages: [], hasMore: false }])
})

t.test('files: chunked upload, commit, attach, access rules', async (t) => {
  const a = user()
  const b = user()
  const c = user()
  const content = Buffer.from('hello, file!!') // 13 bytes: chunks of 4, 4, 4, 1
  const file = await files.create(ids.next(), a, 'hello.txt', 'text/plain', content.length)
  const chunk = (n: number) => content.subarray(n * 4, n * 4 + 4).toString('base64')

  t.equal(await code(files.putChunk(b, file._id, 0, chunk(0))), 'CHAT_FORBIDDEN', 'owner only')
  t.equal(await code(files.putChunk(a, file._id, 4, chunk(0))), 'CHAT_BAD_REQUEST', 'n out of range')
  t.equal(await code(files.putChunk(a, file._id, 3, chunk(0))), 'CHAT_BAD_REQUEST', 'wrong length for the last chunk')
  t.equal(await code(files.putChunk(a, file._id, 0, '!!!!')), 'CHAT_BAD_REQUEST', 'not base64')
  await files.putChunk(a, file._id, 3, chunk(3))
  await files.putChunk(a, file._id, 0, chunk(0))
  await files.putChunk(a, file._id, 0, chunk(0)) // a resent chunk is fine
  t.equal(await code(files.commit(a, file._id)), 'CHAT_BAD_REQUEST', 'chunks missing')
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'file', content: `/files/${file._id}` })), 'CHAT_FILE_NOT_FOUND', 'incomplete file')
  await Promise.all([files.putChunk(a, file._id, 1, chunk(1)), files.putChunk(a, file._id, 2, chunk(2))])
  const done = await files.commit(a, file._id)
  t.equal(done.metadata.complete, true)
  t.equal((await files.commit(a, file._id)).metadata.complete, true, 'commit is idempotent')
  t.equal(await code(files.putChunk(a, file._id, 0, chunk(0))), 'CHAT_BAD_REQUEST', 'no writes after commit')

  t.equal(await code(files.readable(b, file._id)), 'CHAT_FORBIDDEN', 'not shared yet')
  t.equal(await code(chat.send({ actorId: b, peerId: a, kind: 'image', content: `/files/${file._id}` })), 'CHAT_FILE_NOT_FOUND', 'only the owner attaches')
  const sent = await chat.send({ actorId: a, peerId: b, kind: 'file', content: `https://chat.example/api/files/${file._id}` })
  t.equal(sent.message.kind, 'file')
  t.same((await files.byId(file._id))?.metadata.conversationIds, [sent.message.conversationId])
  await chat.send({ actorId: a, peerId: b, kind: 'audio', content: `/files/${file._id}` })
  t.same((await files.byId(file._id))?.metadata.conversationIds, [sent.message.conversationId], 'linked once')

  t.equal((await files.readable(b, file._id)).filename, 'hello.txt', 'the peer may read it now')
  const parts = await Promise.all([0, 1, 2, 3].map((n) => files.getChunk(b, file._id, n)))
  t.same(Buffer.concat(parts.map((p) => Buffer.from(p, 'base64'))), content)
  t.equal(await code(files.readable(c, file._id)), 'CHAT_FORBIDDEN', 'a stranger may not')
  t.equal(await code(files.getChunk(c, file._id, 0)), 'CHAT_FORBIDDEN')
  t.equal(await code(files.getChunk(b, file._id, 9)), 'CHAT_BAD_REQUEST')
  t.equal(await code(files.readable(a, 987654321)), 'CHAT_FILE_NOT_FOUND')
  t.equal(await code(files.create(ids.next(), a, 'big', 'application/octet-stream', 1001)), 'CHAT_CONTENT_TOO_LARGE')

  const empty = await files.create(ids.next(), a, 'empty', 'text/plain', 0)
  t.equal((await files.commit(a, empty._id)).metadata.complete, true, 'an empty file has nothing to upload')
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
