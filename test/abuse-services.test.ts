// Abuse the services resist, on the real system: names that would display
// as other names, a blocked user reaching the blocker by typing or editing,
// and syncs that ask for the same conversation many times or for too much.
// The services are checked both through the `typed` API and over NATS
// directly (the services validate every command themselves).
import t from 'tap'
import { Commands, createSubjects, SYNC_TOTAL_MAX, type TypingEvent } from '../packages/contracts/src/index.js'
import { connectMongo, connectNats, createCommandClient, createLogger } from '../packages/runtime/src/index.js'
import { outcome } from '../packages/runtime/src/testing.js'
import { http } from './helpers/http.js'
import { startSystem } from './helpers/system.js'
import { connectWs } from './helpers/ws.js'
import { registerUser, sendText, uniqueName } from './helpers/typed.js'

const CONTROL_NAMES = {
  'right-to-left override': 'nimda\u202e',
  'left-to-right isolate': 'a\u2066b',
  'right-to-left mark': '\u200fbob',
  'Arabic letter mark': 'x\u061cy',
  'C1 control (NEL)': 'x\u0085y',
  'C1 control (CSI)': 'x\u009b31m',
}

t.test('abuse the services resist', async (t) => {
  const sys = await startSystem(t, {
    gateways: 2,
    env: {
      WS_RATE_LIMIT_PER_SEC: '1000',
      WS_RATE_LIMIT_BURST: '1000',
      // Login throttling without delays, so its subtest is quick.
      LOGIN_THROTTLE_ACCOUNT_MAX: '4',
      LOGIN_THROTTLE_DELAY_MS: '0',
      LOGIN_THROTTLE_LOCK_SECONDS: '600',
    },
  })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const logger = createLogger('abuse-test', 'silent')
  const nc = await connectNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', 'abuse-test', logger)
  t.teardown(() => nc.drain())
  const services = createCommandClient(nc, { prefix: sys.env.NATS_PREFIX as string, timeoutMs: 20_000 })

  t.test('names with control or bidi characters are refused with CHAT_BAD_REQUEST, and nothing changes', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    t.teardown(() => alice.client.close())
    for (const [what, bad] of Object.entries(CONTROL_NAMES)) {
      const reg = await alice.client.request('REGISTER', { username: bad, password: 'secret-pw' })
      t.match(reg, { type: 'REGISTER_FAILURE', payload: { code: 'CHAT_BAD_REQUEST' } }, `typed REGISTER: ${what}`)
      const rename = await alice.client.request('UPDATE_PROFILE', { userId: alice.userId, username: bad })
      t.match(rename, { type: 'PROFILE_UPDATE_FAILURE', payload: { code: 'CHAT_BAD_REQUEST' } }, `typed UPDATE_PROFILE: ${what}`)
      const room = await alice.client.request('CREATE_ROOM', { name: bad })
      t.match(room, { type: 'ROOM_CREATE_FAILURE', payload: { code: 'CHAT_BAD_REQUEST' } }, `typed CREATE_ROOM: ${what}`)

      // The services refuse them whatever the gateway lets through.
      t.equal(await outcome(services.call(Commands.auth.register, { username: bad, password: 'secret-pw' })), 'CHAT_BAD_REQUEST', `auth.register username: ${what}`)
      t.equal(await outcome(services.call(Commands.auth.register, { username: uniqueName('nick'), password: 'secret-pw', nickname: bad })), 'CHAT_BAD_REQUEST', `auth.register nickname: ${what}`)
      t.equal(await outcome(services.call(Commands.auth.updateProfile, { actorId: alice.userId, username: bad })), 'CHAT_BAD_REQUEST', `auth.profile.update username: ${what}`)
      t.equal(await outcome(services.call(Commands.auth.updateProfile, { actorId: alice.userId, nickname: bad })), 'CHAT_BAD_REQUEST', `auth.profile.update nickname: ${what}`)
      t.equal(await outcome(services.call(Commands.message.roomCreate, { actorId: alice.userId, name: bad })), 'CHAT_BAD_REQUEST', `message.room.create: ${what}`)
    }
    const [me] = (await services.call(Commands.auth.getUsers, { ids: [alice.userId] })).users
    t.match(me, { username: alice.username, nickname: '' }, 'the profile is unchanged')
    t.same((await services.call(Commands.message.roomList, { actorId: alice.userId, scope: 'mine' })).rooms, [], 'no room was made')
    const fine = await alice.client.request('UPDATE_PROFILE', { userId: alice.userId, username: `${alice.username}\u00e9\u4e00` })
    t.equal(fine.type, 'PROFILE_UPDATED_SUCCESS', 'other non-ASCII names still pass')
  })

  t.test('a blocked user cannot reach the blocker by typing or by editing old messages', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const carol = await registerUser(a.wsUrl(), 'carol')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), carol.client.close()]))
    const old = await sendText(alice, bob, 'before the block')
    await bob.client.next('MESSAGE_RECEIVED_OTHER')
    await sendText(carol, bob, 'carol here')
    await bob.client.next('MESSAGE_RECEIVED_OTHER')
    const conversationId = old.payload.conversationId as number
    // Bob's typing notices as the message service publishes them, in order.
    const typingToBob: TypingEvent[] = []
    const seen = nc.subscribe(createSubjects(sys.env.NATS_PREFIX as string).userEvent(bob.userId, 'typing'), {
      callback: (_err, msg) => { typingToBob.push(msg.json<TypingEvent>()) },
    })
    t.teardown(() => seen.unsubscribe())
    await nc.flush()

    t.equal((await bob.client.request('BLOCK_USER', { userId: bob.userId, targetId: alice.userId })).type, 'USER_BLOCKED')

    // Typing: answered as usual, delivered to nobody.
    const typing = await alice.client.request('TYPING', { targetId: bob.userId, typing: true })
    t.equal(typing.type, 'TYPING_SENT', 'typing is dropped, not refused')
    t.same(await services.call(Commands.message.typing, { actorId: alice.userId, conversationId, typing: true }), {}, 'by conversation id too')
    // Carol's notice comes after Alice's two from the same publisher, so
    // when it arrives Alice's would have arrived first.
    await carol.client.request('TYPING', { targetId: bob.userId, typing: true })
    t.match((await bob.client.next('TYPING')).payload, { userId: carol.userId, typing: true }, 'the first notice bob gets is carol\'s')
    for (let i = 0; i < 50 && !typingToBob.some((e) => e.fromUserId === carol.userId); i++) await nc.flush()
    t.same(typingToBob.map((e) => e.fromUserId), [carol.userId], 'the message service published none of alice\'s')

    // Editing an old message: refused like a send, and nothing changes.
    const edit = await alice.client.request('EDIT_MESSAGE', { messageId: old.payload.id, content: 'sneaky' })
    t.match(edit, { type: 'MESSAGE_EDIT_FAILURE', payload: { code: 'CHAT_BLOCKED' } })
    const send = await alice.client.request('SEND_MESSAGE', { senderId: alice.userId, receiverId: bob.userId, content: 'hey' })
    t.equal(send.payload.code, edit.payload.code, 'the same error a send gets')
    const history = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.match(history.payload, [{ id: old.payload.id, content: 'before the block' }], 'the message is unchanged')
    t.notOk(history.payload[0].editedAt)

    // One-way: bob may still type to and edit for alice.
    const mine = await sendText(bob, alice, 'mine')
    t.equal((await bob.client.request('EDIT_MESSAGE', { messageId: mine.payload.id, content: 'mine, edited' })).type, 'MESSAGE_EDITED')
    await bob.client.request('TYPING', { targetId: alice.userId, typing: true })
    t.match((await alice.client.next('TYPING')).payload, { userId: bob.userId })

    // Unblocking restores both.
    await bob.client.request('UNBLOCK_USER', { userId: bob.userId, targetId: alice.userId })
    await alice.client.request('TYPING', { targetId: bob.userId, typing: false })
    t.match((await bob.client.next('TYPING')).payload, { userId: alice.userId, typing: false })
    t.equal((await alice.client.request('EDIT_MESSAGE', { messageId: old.payload.id, content: 'after the unblock' })).type, 'MESSAGE_EDITED')
  })

  t.test('sync: duplicate cursors count once, from the lowest afterSeq; the total is capped', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const carol = await registerUser(a.wsUrl(), 'carol')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), carol.client.close()]))
    const send = (actorId: number, peerId: number, content: string) =>
      services.call(Commands.message.send, { actorId, peerId, kind: 'text', content })

    const first = await send(alice.userId, bob.userId, 'm1')
    for (const c of ['m2', 'm3', 'm4']) await send(alice.userId, bob.userId, c)
    const ab = first.message.conversationId
    const cursors = Array.from({ length: 100 }, (_, i) => ({ conversationId: ab, afterSeq: 3 - (i % 3) }))
    const dup = await services.call(Commands.message.sync, { actorId: bob.userId, cursors })
    t.equal(dup.conversations.length, 1, '100 copies of one cursor are one conversation')
    t.same(dup.conversations[0]?.messages.map((m) => m.content), ['m2', 'm3', 'm4'], 'from the lowest afterSeq given')
    t.equal(dup.conversations[0]?.hasMore, false)
    const typed = await bob.client.request('SYNC', { cursors: cursors.map((c) => ({ conversationId: c.conversationId, lastSeq: c.afterSeq })) })
    t.equal(typed.payload.conversations.length, 1, 'the same through the typed API')

    // More than SYNC_TOTAL_MAX messages in two conversations, each within the
    // per-conversation limit. Each conversation is made by a real send; the
    // bulk is written straight into the message service's database (sending
    // a thousand messages one by one would only make the test slow).
    const inFirst = 700
    const inSecond = SYNC_TOTAL_MAX - inFirst + 100
    const cb = (await send(carol.userId, bob.userId, 'c1')).message.conversationId
    const mongo = await connectMongo(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017', sys.env.MONGO_DB as string, 'abuse-test')
    t.teardown(() => mongo.client.close())
    const bulk = (conversationId: number, senderId: number, fromSeq: number, toSeq: number) =>
      Array.from({ length: toSeq - fromSeq + 1 }, (_, i) => ({
        _id: 8e15 + conversationId % 1e6 * 1e4 + fromSeq + i,
        conversationId,
        seq: fromSeq + i,
        senderId,
        recipientId: bob.userId,
        kind: 'text',
        content: `bulk ${fromSeq + i}`,
        createdAt: new Date(),
        dedupeKey: `abuse-test:${conversationId}:${fromSeq + i}`,
      }))
    await mongo.db.collection<{ _id: number }>('messages').insertMany([...bulk(ab, alice.userId, 5, inFirst), ...bulk(cb, carol.userId, 2, inSecond)])
    const big = await services.call(Commands.message.sync, {
      actorId: bob.userId,
      cursors: [{ conversationId: ab, afterSeq: 0 }, { conversationId: cb, afterSeq: 0 }, { conversationId: ab, afterSeq: 0 }],
      limit: 1000,
    })
    const counts = big.conversations.map((c) => [c.conversationId, c.messages.length, c.hasMore])
    t.same(counts, [[ab, inFirst, false], [cb, SYNC_TOTAL_MAX - inFirst, true]], `at most ${SYNC_TOTAL_MAX} in all; the cut conversation says hasMore`)
    const rest = await services.call(Commands.message.sync, {
      actorId: bob.userId,
      cursors: [{ conversationId: cb, afterSeq: big.conversations[1]?.messages.at(-1)?.seq ?? 0 }],
      limit: 1000,
    })
    t.equal(rest.conversations[0]?.messages.length, inSecond - (SYNC_TOTAL_MAX - inFirst), 'syncing again from there gets the rest')
    t.equal(rest.conversations[0]?.hasMore, false)
  })

  t.test('failed logins are throttled across APIs and replicas; HTTP says Retry-After', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    await alice.client.close()
    const [one, two] = [await connectWs(a.wsUrl()), await connectWs(b.wsUrl())]
    t.teardown(() => Promise.all([one.close(), two.close()]))
    // Wrong passwords on two replicas and two APIs all count for one account.
    t.match(await one.request('LOGIN', { username: alice.username, password: 'wrong' }), { type: 'LOGIN_FAILURE', payload: { code: 'CHAT_BAD_CREDENTIALS' } })
    t.match(await two.request('LOGIN', { username: alice.username, password: 'wrong' }), { type: 'LOGIN_FAILURE', payload: { code: 'CHAT_BAD_CREDENTIALS' } })
    t.same((await http(`${a.httpUrl}/Login`, { json: { username: alice.username, password: 'wrong' } })).body, { status: false })
    t.same((await http(`${b.httpUrl}/Login`, { json: { username: alice.email, password: 'wrong' } })).body, { status: false })

    const locked = await http(`${a.httpUrl}/Login`, { json: { username: alice.username, password: alice.password } })
    t.equal(locked.status, 429, 'locked: the right password is refused too')
    t.equal(locked.body.error, 'login_throttled')
    const retryAfter = Number(locked.headers.get('retry-after'))
    t.ok(retryAfter > 0 && retryAfter <= 600, `Retry-After: ${locked.headers.get('retry-after')}`)
    t.match(await two.request('LOGIN', { username: alice.username, password: alice.password }), { type: 'LOGIN_FAILURE', payload: { code: 'CHAT_LOGIN_THROTTLED' } }, 'on the other replica and API too')
    t.equal(await outcome(services.call(Commands.auth.login, { login: alice.username, password: alice.password })), 'CHAT_LOGIN_THROTTLED')
  })
})
