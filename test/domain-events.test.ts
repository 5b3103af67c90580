// The message service's domain events in JetStream, across two gateway
// replicas: every stored creation, edit and deletion once, under its event
// id, valid against the published schemas, in order per conversation; the
// events of changes made while the stream was gone, once it is back; and
// what a replica that died between storing and publishing left in the outbox.
import t from 'tap'
import { createValidator, DomainEventSchemas, domainEventNames, type DomainEvent } from '../packages/contracts/src/index.js'
import { composeId, connectMongo } from '../packages/runtime/src/index.js'
import { readDomainEvents, removeDomainStreams } from '../packages/runtime/src/testing.js'
import { startSystem } from './helpers/system.js'
import { directHistory, registerUser, sleep, type TypedUser } from './helpers/typed.js'

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017'

type Created = Extract<DomainEvent, { type: 'message.created' }>

t.test('domain events', async (t) => {
  const sys = await startSystem(t, { env: { OUTBOX_ORPHAN_AFTER_MS: '3000', OUTBOX_SWEEP_MS: '200', WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000' } })
  const prefix = sys.env.NATS_PREFIX!
  const [a, b] = sys.gateways
  const alice = await registerUser(a!.wsUrl(), 'alice')
  const bob = await registerUser(b!.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice, bob].map((u) => u.client.close())))

  const read = () => readDomainEvents(NATS_URL, prefix, 'message')
  /** Polls the stream until `done` holds of its events (or 15 s passed), then returns them. */
  const until = async (done: (events: DomainEvent[]) => boolean) => {
    let events: DomainEvent[] = []
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(200)) {
      events = (await read().catch(() => [])).map((e) => e.event)
      if (done(events)) break
    }
    return events
  }
  const createdIds = (events: DomainEvent[]) => events.filter((e): e is Created => e.type === 'message.created').map((e) => e.data.message.id)
  const send = (from: TypedUser, to: TypedUser, content: string) =>
    from.client.request('SEND_MESSAGE', { senderId: from.userId, receiverId: to.userId, content, messageId: content })

  t.test('every change once, under its id, valid, in order', async (t) => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 2 === 0 ? alice : bob, i % 2 === 0 ? bob : alice, `e${i}`)))
    t.ok(answers.every((f) => f.type === 'MESSAGE_RECEIVED_SELF'))
    const again = await send(alice, bob, 'e0') // a retry: the same message, no new event
    t.equal(again.type, 'MESSAGE_RECEIVED_SELF')
    const history = await directHistory(alice, bob)
    const edited = history.find((m) => m.content === 'e2')!
    t.equal((await alice.client.request('EDIT_MESSAGE', { messageId: edited.id, content: 'e2, edited' })).type, 'MESSAGE_EDITED')
    const deleted = history.find((m) => m.content === 'e4')!
    t.equal((await alice.client.request('DELETE_MESSAGE', { messageId: deleted.id })).type, 'MESSAGE_DELETED')

    const events = await until((es) => es.some((e) => e.type === 'message.deleted'))
    const stored = await read()
    t.same(stored.map((s) => s.msgId), events.map((e) => e.id), 'each stored under its event id (Nats-Msg-Id)')
    t.same(stored.map((s) => s.subject), events.map((e) => domainEventNames(prefix).subject(e.type)), 'on its type\'s subject')
    const invalid = events.filter((e) => {
      try {
        createValidator(DomainEventSchemas[e.type])(e)
        return false
      } catch {
        return true
      }
    })
    t.same(invalid.map((e) => e.id), [], 'every event valid against its schema')
    const created = events.filter((e): e is Created => e.type === 'message.created')
    t.same(created.map((e) => e.data.message.id).sort(), history.map((m) => m.id).sort(), 'one creation per stored message, the retry none')
    t.same(created.map((e) => e.data.message.seq), history.map((m) => m.seq), 'creations in the conversation\'s order')
    t.match(created[0], { version: 1, data: { conversation: { id: created[0]!.data.message.conversationId, kind: 'direct' } } })
    t.ok(created.every((e) => e.data.message.recipientId !== undefined), 'direct messages name their recipient')
    const lastSeq = Math.max(...history.map((m) => m.seq))
    t.match(events.filter((e) => e.type === 'message.edited'), [{ data: { messageId: edited.id, content: 'e2, edited', senderId: alice.userId, seq: lastSeq + 1 } }], 'an edit takes the next place in the conversation')
    t.match(events.filter((e) => e.type === 'message.deleted'), [{ data: { messageId: deleted.id, senderId: alice.userId, seq: lastSeq + 2 } }], 'so does a deletion')
    t.ok(events.findIndex((e) => e.type === 'message.edited') > events.findIndex((e) => e.type === 'message.created' && e.data.message.id === edited.id), 'an edit after its creation')
  })

  t.test('changes made while the stream was gone are published once it is back', async (t) => {
    await removeDomainStreams(NATS_URL, prefix)
    const answers = await Promise.all(['g1', 'g2', 'g3'].map((c) => send(alice, bob, c)))
    t.ok(answers.every((f) => f.type === 'MESSAGE_RECEIVED_SELF'), 'sending does not wait for the stream')
    const ids = (await directHistory(alice, bob)).filter((m) => m.content.startsWith('g')).map((m) => m.id)
    const events = await until((es) => ids.every((id) => createdIds(es).includes(id)))
    t.same(ids.filter((id) => !createdIds(events).includes(id)), [], 'the stream was made again and holds them')
  })

  t.test('a replica that died between storing and publishing: the sweep publishes what was stored, nothing else', async (t) => {
    const mongo = await connectMongo(MONGO_URL, sys.env.MONGO_DB!, 'test')
    t.teardown(() => mongo.client.close())
    // What a replica leaves when it dies after its insert, before publishing:
    // the message stored, the outbox entry still there. And one that died
    // before its insert: an entry whose message was never stored.
    const [template] = (await directHistory(alice, bob)).slice(-1)
    const conversationId = (await mongo.db.collection('messages').findOne({ _id: template!.id as never }))!.conversationId as number
    const now = new Date()
    const orphanDoc = { _id: 9_000_000_001, conversationId, seq: 100_000, senderId: alice.userId, recipientId: bob.userId, kind: 'text', content: 'orphan', createdAt: now, dedupeKey: 'orphan-test' }
    await mongo.db.collection('messages').insertOne(orphanDoc as never)
    const event = (id: number, seq: number, content: string): Created => ({
      id: `message.created:${id}`,
      type: 'message.created',
      version: 1,
      time: now.toISOString(),
      data: { conversation: { id: conversationId, kind: 'direct' }, message: { id, conversationId, seq, senderId: alice.userId, recipientId: bob.userId, kind: 'text', content, createdAt: now.toISOString() } },
    })
    await mongo.db.collection('outbox').insertOne({
      _id: 'left-by-a-dead-replica' as never,
      owner: 'dead',
      at: new Date(Date.now() - 60_000),
      events: [event(9_000_000_001, 100_000, 'orphan'), event(9_000_000_002, 100_001, 'never stored')],
    })
    const events = await until((es) => createdIds(es).includes(9_000_000_001))
    t.ok(createdIds(events).includes(9_000_000_001), 'the stored message\'s event was published')
    await sleep(500)
    t.notOk(createdIds((await read()).map((e) => e.event)).includes(9_000_000_002), 'the change that was never stored was not')
    for (const deadline = Date.now() + 5000; Date.now() < deadline && await mongo.db.collection('outbox').countDocuments() > 0;) await sleep(100)
    t.equal(await mongo.db.collection('outbox').countDocuments(), 0, 'the entry is gone')

    // A sent message leaves no entry: its document names its writer, and the
    // writer's mark says how far it published. A dead writer's stale mark:
    // what it stored since is published (its other messages were already).
    // A real id: made now (a writer's messages are looked for by the time their id was made).
    const trackedId = composeId(Date.now(), 63, 0)
    const mine = { ...orphanDoc, _id: trackedId, seq: 100_002, content: 'tracked', dedupeKey: 'tracked-test', writer: 'dead-writer' }
    await mongo.db.collection('messages').insertOne(mine as never)
    await mongo.db.collection('outbox_writers').insertOne({ _id: 'dead-writer' as never, at: new Date(Date.now() - 60_000), from: Date.now() - 1000 })
    const after = await until((es) => createdIds(es).includes(trackedId))
    t.ok(createdIds(after).includes(trackedId), 'what the dead writer stored after its mark was published')
    for (const deadline = Date.now() + 5000; Date.now() < deadline && await mongo.db.collection('outbox_writers').countDocuments({ _id: 'dead-writer' as never }) > 0;) await sleep(100)
    t.equal(await mongo.db.collection('outbox_writers').countDocuments({ _id: 'dead-writer' as never }), 0, 'its mark is gone')
  })

  t.test('conversations and room memberships: each change once, in order; a dead replica\'s only if made', async (t) => {
    const kinds = new Set(['conversation.created', 'conversation.deleted', 'member.joined', 'member.left'])
    const room = (await alice.client.request('CREATE_ROOM', { name: 'events', capacity: 5 })).payload.room
    t.equal((await bob.client.request('JOIN_ROOM', { roomId: room.id })).type, 'ROOM_JOINED')
    t.equal((await bob.client.request('JOIN_ROOM', { roomId: room.id })).type, 'ROOM_JOINED', 'joining again changes nothing')
    t.equal((await bob.client.request('LEAVE_ROOM', { roomId: room.id })).type, 'ROOM_LEFT')
    t.equal((await bob.client.request('LEAVE_ROOM', { roomId: room.id })).type, 'ROOM_LEAVE_FAILURE', 'leaving twice changes nothing')
    await sleep(5) // the next membership starts at another millisecond
    t.equal((await bob.client.request('JOIN_ROOM', { roomId: room.id })).type, 'ROOM_JOINED')
    t.equal((await bob.client.request('DELETE_ROOM', { roomId: room.id })).type, 'ROOM_DELETE_FAILURE', 'only the owner deletes it')
    t.equal((await alice.client.request('DELETE_ROOM', { roomId: room.id })).type, 'ROOM_DELETED')

    const about = (id: number) => (e: DomainEvent) => kinds.has(e.type) && (e.data as { conversation: { id: number } }).conversation.id === id
    const inRoom = (await until((es) => es.some((e) => e.type === 'conversation.deleted'))).filter(about(room.id))
    t.same(inRoom.map((e) => e.type + (e.type.startsWith('member.') ? ` ${(e.data as { userId: number }).userId}` : '')), [
      'conversation.created',
      `member.joined ${alice.userId}`,
      `member.joined ${bob.userId}`,
      `member.left ${bob.userId}`,
      `member.joined ${bob.userId}`,
      'conversation.deleted',
    ], 'the room\'s life, in order (its deletion ends every membership: no member.left for them)')
    t.equal(new Set(inRoom.map((e) => e.id)).size, inRoom.length, 'each change its own id: a rejoin is a new membership')
    t.match(inRoom[0], { data: { conversation: { id: room.id, kind: 'room' }, createdBy: alice.userId, memberIds: [], room: { name: 'events', visibility: 'public', capacity: 5 } } })
    t.match(inRoom[5], { data: { deletedBy: alice.userId } })
    t.same(inRoom.filter((e) => {
      try {
        createValidator(DomainEventSchemas[e.type])(e)
        return false
      } catch {
        return true
      }
    }).map((e) => e.id), [], 'every event valid against its schema')

    // A direct conversation: created by its first message, named with both users.
    const carol = await registerUser(b!.wsUrl(), 'carol')
    t.teardown(() => carol.client.close())
    const first = await Promise.all([send(alice, carol, 'c1'), send(carol, alice, 'c2')])
    const conversationId = first[0].payload.conversationId as number
    t.equal(first[1].payload.conversationId, conversationId)
    t.equal((await alice.client.request('DELETE_CONVERSATION', { userId: alice.userId, targetUserId: carol.userId })).type, 'CONVERSATION_DELETED')
    const direct = (await until((es) => es.some((e) => e.type === 'conversation.deleted' && e.data.conversation.id === conversationId))).filter(about(conversationId))
    t.match(direct, [
      { type: 'conversation.created', data: { conversation: { id: conversationId, kind: 'direct' }, memberIds: [Math.min(alice.userId, carol.userId), Math.max(alice.userId, carol.userId)] } },
      { type: 'conversation.deleted', data: { deletedBy: alice.userId } },
    ], 'created once, by whichever first message won, then deleted')
    t.equal(direct.length, 2)

    // Entries a dead replica left: only the changes the database shows as made are published.
    const mongo = await connectMongo(MONGO_URL, sys.env.MONGO_DB!, 'test')
    t.teardown(() => mongo.client.close())
    const other = (await alice.client.request('CREATE_ROOM', { name: 'still here' })).payload.room
    const now = new Date()
    const base = { version: 1, time: now.toISOString() }
    const joinedAt = (await mongo.db.collection('members').findOne({ _id: `${other.id}:${alice.userId}` as never }))!.joinedAt as Date
    const made = { ...base, id: 'member.joined:made', type: 'member.joined', data: { conversation: { id: other.id, kind: 'room' }, userId: alice.userId, joinedAt: joinedAt.toISOString() } }
    const notLeft = { ...base, id: 'member.left:not-made', type: 'member.left', data: { conversation: { id: other.id, kind: 'room' }, userId: alice.userId, joinedAt: joinedAt.toISOString() } }
    const neverCreated = { ...base, id: 'conversation.created:not-made', type: 'conversation.created', data: { conversation: { id: 9_000_000_010, kind: 'room' }, createdBy: alice.userId, memberIds: [], createdAt: now.toISOString() } }
    await mongo.db.collection('outbox').insertOne({ _id: 'members-left-by-a-dead-replica' as never, owner: 'dead', at: new Date(Date.now() - 60_000), events: [made, notLeft, neverCreated] })
    const ids = (await until((es) => es.some((e) => e.id === 'member.joined:made'))).map((e) => e.id)
    t.ok(ids.includes('member.joined:made'), 'a membership that exists: published')
    await sleep(500)
    const later = (await read()).map((e) => e.event.id)
    t.notOk(later.includes('member.left:not-made'), 'a leave whose membership is still there: not')
    t.notOk(later.includes('conversation.created:not-made'), 'a conversation that does not exist: not')
  })
})
