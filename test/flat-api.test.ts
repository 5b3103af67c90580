// Conformance of the `flat` API (document 004, WebSocket /ws/flat) on the
// real system with two gateway replicas: every request with its success and
// failure, every push, answers in request order, authorization, and
// delivery both ways with the `typed` API.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startSystem, type GatewayHandle } from './helpers/system.js'
import { registerUser, uniqueName, type TypedUser } from './helpers/typed.js'
import { connectWs, type Frame, type Matcher, type WsClient } from './helpers/ws.js'
import { REFUSED_MEDIA_URLS, WEB_MEDIA_URLS } from './helpers/media.js'

// ---------------------------------------------------------------- a tiny flat client

/** The response type of a request (only login and sign-up differ). */
const answerTypeOf = (type: string) => ({ REQUEST_LOGIN: 'RESPONSE_LOGIN', REQUEST_SIGNUP: 'RESPONSE_SIGNUP' } as Record<string, string>)[type] ?? type

interface Flat {
  ws: WsClient
  send: (frame: Record<string, unknown>) => void
  /** Sends a request and resolves with the next frame of its type (or the given match). */
  ask: (frame: Record<string, unknown>, match?: Matcher, timeoutMs?: number) => Promise<Frame>
  /** The next `n` frames of a type (or matching), in arrival order. */
  take: (n: number, match: Matcher, timeoutMs?: number) => Promise<Frame[]>
  next: WsClient['next']
  noFrame: WsClient['noFrame']
  close: () => Promise<unknown>
}

async function connectFlat (gw: GatewayHandle): Promise<Flat> {
  const ws = await connectWs(gw.wsUrl('/ws/flat'))
  const send = (frame: Record<string, unknown>) => ws.send(frame)
  return {
    ws,
    send,
    ask: async (frame, match, timeoutMs = 10_000) => {
      const type = String(frame.type)
      send(frame)
      return await ws.next(match ?? ((f) => f.type === type || f.type === answerTypeOf(type)), timeoutMs)
    },
    take: async (n, match, timeoutMs = 10_000) => {
      const out: Frame[] = []
      for (let i = 0; i < n; i++) out.push(await ws.next(match, timeoutMs))
      return out
    },
    next: ws.next,
    noFrame: ws.noFrame,
    close: async () => await ws.close(),
  }
}

/** A user registered through `typed` (for its id and token) and logged in on `flat`. */
interface Person extends TypedUser {
  flat: Flat
}

async function loginFlat (gw: GatewayHandle, username: string, password: string): Promise<Flat> {
  const flat = await connectFlat(gw)
  const res = await flat.ask({ type: 'REQUEST_LOGIN', login: username, pass: password })
  if (res.status !== 'LOGIN_OK') throw new Error(`flat login failed: ${JSON.stringify(res)}`)
  return flat
}

async function person (typedGw: GatewayHandle, flatGw: GatewayHandle, prefix: string): Promise<Person> {
  const user = await registerUser(typedGw.wsUrl(), prefix)
  return { ...user, flat: await loginFlat(flatGw, user.username, user.password) }
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const isRead = (f: Frame) => f.type === 'READ_MSG'
const closeAll = (...cs: Array<{ close: () => Promise<unknown> }>) => Promise.all(cs.map((c) => c.close()))

t.test('flat API', async (t) => {
  // Bursts of a hundred sends into one room: a socket's sends wait their turn
  // there longer than WS_SEND_QUEUE_LIMIT_MS on a busy CI machine.
  const sys = await startSystem(t, { gateways: 2, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000', WS_SEND_QUEUE_LIMIT_MS: '60000', MESSAGE_MAX_LENGTH: '200' } })
  const [a, b] = sys.gateways as [GatewayHandle, GatewayHandle]

  /** Opens the direct conversation between two people (from `p`'s flat socket). */
  const room = async (p: Person, customer: Person): Promise<number> => {
    const res = await p.flat.ask({ type: 'CREATE_ROOM', username: p.username, customer: customer.username })
    if (typeof res.id !== 'number') throw new Error(JSON.stringify(res))
    return res.id
  }
  const sendFlat = async (p: Person, roomId: number, message: string, msgType = 'TEXT') =>
    await p.flat.ask({ type: 'SND_MSG', username: p.username, room_id: roomId, message, msg_type: msgType })

  t.test('sign-up and login', async (t) => {
    const c = await connectFlat(a)
    t.teardown(() => c.close())
    const login = uniqueName('flat')
    const pass = `pw-${randomBytes(4).toString('hex')}`

    t.same(await c.ask({ type: 'REQUEST_SIGNUP', login, pass }), { type: 'RESPONSE_SIGNUP', status: 'SINGUP_OK' })
    const found = await c.ask({ type: 'SEARCH_USER', user: login })
    t.same(found, { type: 'SEARCH_USER', user: [login] }, 'signing up logs the socket in')
    t.same(await c.ask({ type: 'REQUEST_SIGNUP', login: login.toUpperCase(), pass: 'x' }), { type: 'RESPONSE_SIGNUP', status: 'SIGNUP_USER_EXIST' }, 'usernames are unique in any case')
    const bad = await c.ask({ type: 'REQUEST_SIGNUP', login: 'x'.repeat(65), pass: 'x' })
    t.match(bad, { type: 'RESPONSE_SIGNUP', status: 'SINGUP_FAIL', error: String }, 'a sign-up the service refuses')
    const malformed = await c.ask({ type: 'REQUEST_SIGNUP', login })
    t.match(malformed, { type: 'REQUEST_SIGNUP', status: 'FAIL', error: String }, 'a sign-up frame without pass')

    const d = await connectFlat(b)
    t.teardown(() => d.close())
    t.same(await d.ask({ type: 'REQUEST_LOGIN', login: uniqueName('nobody'), pass }), { type: 'RESPONSE_LOGIN', status: 'LOGIN_WRONG_USER' })
    t.same(await d.ask({ type: 'REQUEST_LOGIN', login, pass: pass + 'x' }), { type: 'RESPONSE_LOGIN', status: 'LOGIN_WRONG_PASS' })
    t.match(await d.ask({ type: 'SEARCH_USER', user: login }), { type: 'SEARCH_USER', status: 'FAIL', error: String }, 'still logged out')
    t.match(await d.ask({ type: 'REQUEST_LOGIN', login }), { type: 'REQUEST_LOGIN', status: 'FAIL', error: String })
    t.same(await d.ask({ type: 'REQUEST_LOGIN', login, pass }), { type: 'RESPONSE_LOGIN', status: 'LOGIN_OK' })
    t.same((await d.ask({ type: 'SEARCH_USER', user: login })).user, [login])
  })

  t.test('before login every other request fails and the socket stays open', async (t) => {
    const c = await connectFlat(b)
    t.teardown(() => c.close())
    const requests = [
      { type: 'CREATE_ROOM', username: 'a', customer: 'b' },
      { type: 'SND_MSG', username: 'a', room_id: 1, message: 'x', msg_type: 'TEXT' },
      { type: 'READ_MSG', read: 'ALL', room_id: 1 },
      { type: 'SEARCH_USER', user: 'a' },
      { type: 'DELETE_ROOM', id: 1 },
      { type: 'DELETE_MSG', id: 1 },
      { type: 'EDIT_MSG', id: 1, new_msg: 'x' },
      { type: 'OLD_DIALOGS', username: 'a' },
    ]
    for (const r of requests) {
      const res = await c.ask(r)
      t.match(res, { type: r.type, status: 'FAIL', error: String }, r.type)
      t.equal(res.code, 'CHAT_UNAUTHENTICATED')
    }
  })

  t.test('bad input gets the failure frame; the socket stays open', async (t) => {
    const alice = await person(a, a, 'alice')
    t.teardown(() => closeAll(alice.client, alice.flat))
    const c = alice.flat
    c.ws.sendRaw('{not json')
    t.match(await c.next(() => true), { type: 'ERROR', status: 'FAIL', error: String })
    c.ws.sendRaw('[1,2]')
    t.match(await c.next(() => true), { type: 'ERROR', status: 'FAIL' })
    c.ws.sendRaw(Buffer.from('{"type":"SEARCH_USER","user":"x"}'))
    t.match(await c.next(() => true), { status: 'FAIL' }, 'binary frames are refused')
    t.match(await c.ask({ type: 'NO_SUCH_THING' }), { type: 'NO_SUCH_THING', status: 'FAIL', code: 'CHAT_UNKNOWN_TYPE' })
    const bad: Array<Record<string, unknown>> = [
      { type: 'SND_MSG', username: alice.username, room_id: '5', message: 'x', msg_type: 'TEXT' },
      { type: 'SND_MSG', username: alice.username, room_id: 5, message: 'x', msg_type: 'VIDEO' },
      { type: 'SND_MSG', username: alice.username, room_id: 5, message: 'x', msg_type: 'text' },
      { type: 'SND_MSG', username: alice.username, room_id: 5, msg_type: 'TEXT' },
      { type: 'READ_MSG', read: 'SOME', room_id: 5 },
      { type: 'READ_MSG', read: 'ALL', room_id: -1 },
      { type: 'SEARCH_USER', user: { $gt: '' } },
      { type: 'SEARCH_USER', user: '' },
      { type: 'DELETE_MSG', id: 1.5 },
      { type: 'EDIT_MSG', id: 1 },
      { type: 'CREATE_ROOM', username: alice.username },
      { type: 'OLD_DIALOGS' },
    ]
    for (const frame of bad) {
      const res = await c.ask(frame)
      t.match(res, { type: frame.type, status: 'FAIL', error: String }, JSON.stringify(frame))
    }
    t.same((await c.ask({ type: 'SEARCH_USER', user: alice.username })).user, [alice.username], 'still works')
  })

  t.test('CREATE_ROOM opens a direct conversation and tells the customer', async (t) => {
    const alice = await person(a, a, 'alice')
    const bob = await person(b, b, 'bob')
    const bob2 = await loginFlat(a, bob.username, bob.password)
    const carol = await person(a, b, 'carol')
    t.teardown(() => closeAll(alice.client, alice.flat, bob.client, bob.flat, bob2, carol.client, carol.flat))

    const created = await alice.flat.ask({ type: 'CREATE_ROOM', username: alice.username, customer: bob.username.toUpperCase() })
    t.same(Object.keys(created).sort(), ['customer', 'id', 'type'])
    t.match(created, { type: 'CREATE_ROOM', id: Number, customer: bob.username })
    for (const c of [bob.flat, bob2]) {
      t.same(await c.next('CREATE_ROOM'), { type: 'CREATE_ROOM', id: created.id, customer: alice.username }, 'the customer hears of it, on every socket')
    }
    await alice.flat.noFrame('CREATE_ROOM', 300)

    const again = await bob.flat.ask({ type: 'CREATE_ROOM', username: bob.username, customer: alice.username })
    t.same(again, { type: 'CREATE_ROOM', id: created.id, customer: alice.username }, 'one conversation for the two')
    await alice.flat.noFrame('CREATE_ROOM', 300)

    // Another user's username: refused, and nothing is created.
    const spoof = await carol.flat.ask({ type: 'CREATE_ROOM', username: alice.username, customer: bob.username })
    t.match(spoof, { type: 'CREATE_ROOM', status: 'FAIL', code: 'CHAT_ID_MISMATCH' })
    await bob.flat.noFrame('CREATE_ROOM', 300)
    t.same((await carol.flat.ask({ type: 'OLD_DIALOGS', username: carol.username })).id, [])
    t.match(await carol.flat.ask({ type: 'CREATE_ROOM', username: carol.username, customer: uniqueName('ghost') }), { status: 'FAIL', code: 'CHAT_USER_NOT_FOUND' })
    t.match(await carol.flat.ask({ type: 'CREATE_ROOM', username: carol.username, customer: carol.username }), { status: 'FAIL', code: 'CHAT_SELF_TARGET' })
  })

  t.test('SND_MSG answers and delivers READ_MSG live to the other side only', async (t) => {
    const alice = await person(a, a, 'alice')
    const alice2 = await loginFlat(b, alice.username, alice.password)
    const bob = await person(b, b, 'bob')
    const bob2 = await loginFlat(a, bob.username, bob.password)
    const eve = await person(a, b, 'eve')
    t.teardown(() => closeAll(alice.client, alice.flat, alice2, bob.client, bob.flat, bob2, eve.client, eve.flat))
    const roomId = await room(alice, bob)
    await bob.flat.next('CREATE_ROOM')
    await bob2.next('CREATE_ROOM')

    const sent = await sendFlat(alice, roomId, 'hello bob')
    t.same(Object.keys(sent).sort(), ['date', 'message_id', 'room_id', 'status', 'type'])
    t.match(sent, { type: 'SND_MSG', status: 'OK', room_id: roomId, message_id: Number, date: ISO })
    for (const c of [bob.flat, bob2]) {
      t.same(await c.next('READ_MSG'), {
        type: 'READ_MSG', status: 'OK', room_id: roomId, message_id: sent.message_id, msg_type: 'TEXT', message: 'hello bob', date: sent.date, sender: alice.username,
      })
    }
    await Promise.all([alice.flat.noFrame(isRead, 400), alice2.noFrame(isRead, 400), eve.flat.noFrame(isRead, 400)])

    // A file message: its content is the URL of a file the sender uploaded.
    const up = await fetch(`${a.httpUrl}/files?name=notes.txt`, {
      method: 'POST', body: 'some notes', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'text/plain' },
    })
    const { url } = await up.json() as { url: string }
    const file = await sendFlat(alice, roomId, url, 'FILE')
    t.equal(file.status, 'OK')
    t.match(await bob.flat.next('READ_MSG'), { msg_type: 'FILE', message: url, message_id: file.message_id })
    t.match(await sendFlat(alice, roomId, 'not a url', 'IMAGE'), { type: 'SND_MSG', status: 'FAIL', code: 'CHAT_BAD_REQUEST' })
    t.match(await sendFlat(alice, roomId, 'x'.repeat(201)), { type: 'SND_MSG', status: 'FAIL', code: 'CHAT_CONTENT_TOO_LARGE' })

    // Failures change nothing and deliver nothing.
    const spoof = await alice.flat.ask({ type: 'SND_MSG', username: bob.username, room_id: roomId, message: 'spoofed', msg_type: 'TEXT' })
    t.match(spoof, { type: 'SND_MSG', status: 'FAIL', code: 'CHAT_ID_MISMATCH' })
    t.match(await sendFlat(eve, roomId, 'let me in'), { status: 'FAIL', code: 'CHAT_NOT_MEMBER' })
    t.match(await sendFlat(alice, 987654321, 'nowhere'), { status: 'FAIL' })
    await bob.flat.noFrame(isRead, 400)
    bob.flat.send({ type: 'READ_MSG', read: 'ALL', room_id: roomId })
    t.same((await bob.flat.take(2, isRead)).map((f) => f.message), ['hello bob', url])
    await bob.flat.noFrame(isRead, 300)
  })

  t.test('IMAGE and FILE messages are web URLs, delivered as sent to every API; other schemes FAIL', async (t) => {
    const alice = await person(a, a, 'alice')
    const bob = await person(b, b, 'bob')
    t.teardown(() => closeAll(alice.client, alice.flat, bob.client, bob.flat))
    const roomId = await room(alice, bob)
    await bob.flat.next('CREATE_ROOM')

    const sent: string[] = []
    for (const url of WEB_MEDIA_URLS) {
      for (const msgType of ['IMAGE', 'FILE']) {
        const r = await sendFlat(alice, roomId, url, msgType)
        t.match(r, { type: 'SND_MSG', status: 'OK', room_id: roomId }, `${msgType} ${url}`)
        t.match(await bob.flat.next('READ_MSG'), { msg_type: msgType, message: url, message_id: r.message_id }, 'flat on the other replica')
        t.match((await bob.client.next('MESSAGE_RECEIVED_OTHER')).payload, { type: msgType.toLowerCase(), content: url, id: r.message_id }, 'typed')
        sent.push(url)
      }
    }
    for (const url of REFUSED_MEDIA_URLS) {
      for (const msgType of ['IMAGE', 'FILE']) {
        t.match(await sendFlat(alice, roomId, url, msgType), { type: 'SND_MSG', status: 'FAIL', code: 'CHAT_BAD_REQUEST' }, `${msgType} ${url} refused`)
      }
    }
    await bob.flat.noFrame(isRead, 300)
    bob.flat.send({ type: 'READ_MSG', read: 'ALL', room_id: roomId })
    t.same((await bob.flat.take(sent.length, isRead)).map((f) => f.message), sent, 'only the accepted ones were stored, as sent')
    await bob.flat.noFrame(isRead, 300)
  })

  t.test('READ_MSG: ALL is the whole history, RESENT the unread (then read), EMPTY when none', async (t) => {
    const alice = await person(a, a, 'alice')
    const bob = await person(b, b, 'bob')
    const eve = await person(a, a, 'eve')
    t.teardown(() => closeAll(alice.client, alice.flat, bob.client, bob.flat, eve.client, eve.flat))
    const roomId = await room(alice, bob)
    await bob.flat.next('CREATE_ROOM')

    t.same(await bob.flat.ask({ type: 'READ_MSG', read: 'ALL', room_id: roomId }), { type: 'READ_MSG', status: 'EMPTY', room_id: roomId })
    t.same(await bob.flat.ask({ type: 'READ_MSG', read: 'RESENT', room_id: roomId }), { type: 'READ_MSG', status: 'EMPTY', room_id: roomId })

    // More than one page of each command, sent without waiting.
    const n = 130
    for (let i = 1; i <= n; i++) alice.flat.send({ type: 'SND_MSG', username: alice.username, room_id: roomId, message: `m${i}`, msg_type: 'TEXT' })
    const acks = await alice.flat.take(n, 'SND_MSG', 30_000)
    t.ok(acks.every((f) => f.status === 'OK'))
    await bob.flat.take(n, isRead, 30_000) // the live copies
    const unread = async () => (await bob.client.request('LOAD_UNREAD', {})).payload.conversations.find((c: any) => c.conversationId === roomId)?.count ?? 0
    t.equal(await unread(), n, 'live delivery does not mark anything read')

    bob.flat.send({ type: 'READ_MSG', read: 'RESENT', room_id: roomId })
    const taken = await bob.flat.take(n, isRead, 30_000)
    t.same(taken.map((f) => f.message), Array.from({ length: n }, (_, i) => `m${i + 1}`), 'every unread message, oldest first')
    t.same(taken.map((f) => f.message_id), acks.map((f) => f.message_id))
    t.ok(taken.every((f) => f.status === 'OK' && f.sender === alice.username && f.msg_type === 'TEXT' && f.room_id === roomId))
    t.equal(await unread(), 0, 'and now read, in every API')
    t.same(await bob.flat.ask({ type: 'READ_MSG', read: 'RESENT', room_id: roomId }), { type: 'READ_MSG', status: 'EMPTY', room_id: roomId })

    await sendFlat(bob, roomId, 'reply')
    t.equal((await alice.flat.next(isRead)).message, 'reply', 'the live copy first (pushes and answers share READ_MSG)')
    alice.flat.send({ type: 'READ_MSG', read: 'ALL', room_id: roomId })
    const all = await alice.flat.take(n + 1, isRead, 30_000)
    t.same(all.map((f) => f.message), [...Array.from({ length: n }, (_, i) => `m${i + 1}`), 'reply'])
    t.same(all.at(-1)?.sender, bob.username)
    await alice.flat.noFrame(isRead, 300)

    t.match(await eve.flat.ask({ type: 'READ_MSG', read: 'ALL', room_id: roomId }), { type: 'READ_MSG', status: 'FAIL', code: 'CHAT_NOT_MEMBER' })
    t.match(await eve.flat.ask({ type: 'READ_MSG', read: 'RESENT', room_id: roomId }), { type: 'READ_MSG', status: 'FAIL' })
  })

  t.test('SEARCH_USER: usernames containing the text, any case, at most 50', async (t) => {
    const c = await connectFlat(b)
    t.teardown(() => c.close())
    const stem = `many${randomBytes(3).toString('hex')}`
    const names = Array.from({ length: 52 }, (_, i) => `${stem}_${String(i).padStart(2, '0')}`)
    for (const login of names) c.send({ type: 'REQUEST_SIGNUP', login, pass: 'pw' })
    const signed = await c.take(names.length, 'RESPONSE_SIGNUP', 60_000)
    t.ok(signed.every((f) => f.status === 'SINGUP_OK'))
    const found = await c.ask({ type: 'SEARCH_USER', user: stem.toUpperCase() })
    const users = found.user as string[]
    t.equal(users.length, 50)
    t.ok(users.every((u) => names.includes(u)))
    t.same(Object.keys(found).sort(), ['type', 'user'])
    t.same((await c.ask({ type: 'SEARCH_USER', user: `${stem}_07` })).user, [`${stem}_07`])
    t.same((await c.ask({ type: 'SEARCH_USER', user: uniqueName('none') })).user, [])
    t.match(await c.ask({ type: 'SEARCH_USER', user: 'x'.repeat(65) }), { type: 'SEARCH_USER', status: 'FAIL' })
  })

  t.test('EDIT_MSG and DELETE_MSG: sender only; every member socket gets exactly one frame', async (t) => {
    const alice = await person(a, a, 'alice')
    const alice2 = await loginFlat(b, alice.username, alice.password)
    const bob = await person(b, b, 'bob')
    t.teardown(() => closeAll(alice.client, alice.flat, alice2, bob.client, bob.flat))
    const roomId = await room(alice, bob)
    const sent = await sendFlat(alice, roomId, 'first draft')
    await bob.flat.next('READ_MSG')

    const edited = await alice.flat.ask({ type: 'EDIT_MSG', id: sent.message_id, new_msg: 'final' })
    t.same(edited, { type: 'EDIT_MSG', id: sent.message_id, new_msg: 'final' })
    for (const c of [alice2, bob.flat]) t.same(await c.next('EDIT_MSG'), { type: 'EDIT_MSG', id: sent.message_id, new_msg: 'final' })
    await alice.flat.noFrame('EDIT_MSG', 400)

    const theirs = await bob.flat.ask({ type: 'EDIT_MSG', id: sent.message_id, new_msg: 'hacked' })
    t.match(theirs, { type: 'EDIT_MSG', status: 'FAIL', code: 'CHAT_FORBIDDEN' })
    t.match(await bob.flat.ask({ type: 'DELETE_MSG', id: sent.message_id }), { type: 'DELETE_MSG', status: 'FAIL', code: 'CHAT_FORBIDDEN' })
    await Promise.all([alice.flat.noFrame('EDIT_MSG', 300), alice2.noFrame((f) => f.type === 'EDIT_MSG' || f.type === 'DELETE_MSG', 300)])
    bob.flat.send({ type: 'READ_MSG', read: 'ALL', room_id: roomId })
    t.equal((await bob.flat.next('READ_MSG')).message, 'final', 'nothing changed')

    const deleted = await alice.flat.ask({ type: 'DELETE_MSG', id: sent.message_id })
    t.same(deleted, { type: 'DELETE_MSG', id: sent.message_id })
    for (const c of [alice2, bob.flat]) t.same(await c.next('DELETE_MSG'), { type: 'DELETE_MSG', id: sent.message_id })
    await alice.flat.noFrame('DELETE_MSG', 400)
    t.same(await bob.flat.ask({ type: 'READ_MSG', read: 'ALL', room_id: roomId }), { type: 'READ_MSG', status: 'EMPTY', room_id: roomId })
    t.match(await alice.flat.ask({ type: 'DELETE_MSG', id: sent.message_id }), { type: 'DELETE_MSG', status: 'FAIL', code: 'CHAT_MESSAGE_NOT_FOUND' })
    t.match(await alice.flat.ask({ type: 'EDIT_MSG', id: 987654321, new_msg: 'x' }), { type: 'EDIT_MSG', status: 'FAIL', code: 'CHAT_MESSAGE_NOT_FOUND' })
  })

  t.test('rooms made elsewhere: live messages, edits, deletes and DELETE_ROOM (owner only)', async (t) => {
    const owner = await person(a, a, 'owner')
    const owner2 = await loginFlat(b, owner.username, owner.password)
    const member = await person(b, b, 'member')
    const outsider = await person(a, b, 'outsider')
    t.teardown(() => closeAll(owner.client, owner.flat, owner2, member.client, member.flat, outsider.client, outsider.flat))
    const made = await owner.client.request('CREATE_ROOM', { name: uniqueName('room') })
    const roomId = made.payload.room.id as number
    t.equal((await member.client.request('JOIN_ROOM', { roomId })).type, 'ROOM_JOINED')

    const sent = await sendFlat(member, roomId, 'hi room')
    t.match(sent, { status: 'OK', room_id: roomId })
    for (const c of [owner.flat, owner2]) t.match(await c.next('READ_MSG'), { room_id: roomId, message_id: sent.message_id, sender: member.username })
    await member.flat.noFrame(isRead, 300)
    t.equal((await owner.client.next('MESSAGE_RECEIVED_OTHER')).payload.content, 'hi room', 'typed members get it too')

    await member.flat.ask({ type: 'EDIT_MSG', id: sent.message_id, new_msg: 'hi all' })
    for (const c of [owner.flat, owner2]) t.same(await c.next('EDIT_MSG'), { type: 'EDIT_MSG', id: sent.message_id, new_msg: 'hi all' })
    await member.flat.noFrame('EDIT_MSG', 300)
    await member.flat.ask({ type: 'DELETE_MSG', id: sent.message_id })
    for (const c of [owner.flat, owner2]) t.same(await c.next('DELETE_MSG'), { type: 'DELETE_MSG', id: sent.message_id })

    t.match(await member.flat.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', status: 'FAIL', code: 'CHAT_FORBIDDEN' })
    t.match(await outsider.flat.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', status: 'FAIL' })
    await Promise.all([owner.flat, owner2, member.flat].map((c) => c.noFrame('DELETE_ROOM', 300)))
    t.match(await sendFlat(member, roomId, 'still here'), { status: 'OK' }, 'the room survives')

    const gone = await owner.flat.ask({ type: 'DELETE_ROOM', id: roomId })
    t.same(gone, { type: 'DELETE_ROOM', id: roomId })
    for (const c of [owner2, member.flat]) t.same(await c.next('DELETE_ROOM'), { type: 'DELETE_ROOM', id: roomId })
    await owner.flat.noFrame('DELETE_ROOM', 500)
    t.match(await sendFlat(member, roomId, 'anyone?'), { status: 'FAIL' })
    t.match(await owner.flat.ask({ type: 'DELETE_ROOM', id: roomId }), { status: 'FAIL', code: 'CHAT_CONVERSATION_NOT_FOUND' })
  })

  t.test('DELETE_ROOM of a direct conversation: its owner, who opened it, deletes it for both', async (t) => {
    const alice = await person(a, a, 'alice')
    const bob = await person(b, b, 'bob')
    const bob2 = await loginFlat(a, bob.username, bob.password)
    const eve = await person(a, b, 'eve')
    t.teardown(() => closeAll(alice.client, alice.flat, bob.client, bob.flat, bob2, eve.client, eve.flat))
    const roomId = await room(alice, bob)
    await sendFlat(alice, roomId, 'soon gone')
    await sendFlat(bob, roomId, 'my reply')
    await Promise.all([bob.flat.next(isRead), bob2.next(isRead), alice.flat.next(isRead)])

    t.match(await eve.flat.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', status: 'FAIL', code: 'CHAT_NOT_MEMBER' })
    // The customer is not the owner, on either replica.
    t.match(await bob.flat.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', status: 'FAIL', code: 'CHAT_FORBIDDEN' })
    t.match(await bob2.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', status: 'FAIL', code: 'CHAT_FORBIDDEN' })
    await alice.flat.noFrame('DELETE_ROOM', 300)
    await bob.flat.noFrame('DELETE_ROOM', 100)
    bob.flat.send({ type: 'READ_MSG', read: 'ALL', room_id: roomId })
    t.same((await bob.flat.take(2, isRead)).map((f) => f.message), ['soon gone', 'my reply'], 'nothing changed')
    t.same((await bob2.ask({ type: 'OLD_DIALOGS', username: bob.username })).id, [roomId])

    t.same(await alice.flat.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', id: roomId })
    for (const c of [bob.flat, bob2]) t.same(await c.next('DELETE_ROOM'), { type: 'DELETE_ROOM', id: roomId })
    await alice.flat.noFrame('DELETE_ROOM', 500)
    t.match(await alice.flat.ask({ type: 'READ_MSG', read: 'ALL', room_id: roomId }), { status: 'FAIL' })
    t.same((await alice.flat.ask({ type: 'OLD_DIALOGS', username: alice.username })).id, [])
    t.same((await bob2.ask({ type: 'OLD_DIALOGS', username: bob.username })).id, [])
  })

  t.test('DELETE_ROOM of a direct conversation begun by a message elsewhere: the first sender owns it', async (t) => {
    const tina = await registerUser(a.wsUrl(), 'tina') // typed
    const fred = await person(b, b, 'fred')
    t.teardown(() => closeAll(tina.client, fred.client, fred.flat))
    const first = await tina.client.request('SEND_MESSAGE', { messageId: 1, senderId: tina.userId, receiverId: fred.userId, content: 'hello fred' })
    const roomId = first.payload.conversationId
    await fred.flat.next('READ_MSG')
    t.match(await fred.flat.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', status: 'FAIL', code: 'CHAT_FORBIDDEN' })
    const tinaFlat = await loginFlat(a, tina.username, tina.password)
    t.teardown(() => tinaFlat.close())
    t.same(await tinaFlat.ask({ type: 'DELETE_ROOM', id: roomId }), { type: 'DELETE_ROOM', id: roomId })
    t.same(await fred.flat.next('DELETE_ROOM'), { type: 'DELETE_ROOM', id: roomId })
  })

  t.test('OLD_DIALOGS: three aligned arrays, most recently active first', async (t) => {
    const alice = await person(a, a, 'alice')
    const bob = await person(b, b, 'bob')
    const carol = await person(a, b, 'carol')
    t.teardown(() => closeAll(alice.client, alice.flat, bob.client, bob.flat, carol.client, carol.flat))
    t.same(await alice.flat.ask({ type: 'OLD_DIALOGS', username: alice.username }), { type: 'OLD_DIALOGS', dialogs: [], id: [], first_massage_id: [] })

    const withBob = await room(alice, bob)
    const first = await sendFlat(alice, withBob, 'one')
    await sendFlat(bob, withBob, 'two')
    const made = await alice.client.request('CREATE_ROOM', { name: uniqueName('hall') })
    const hall = made.payload.room
    const withCarol = await room(alice, carol) // no message yet: the newest activity

    const dialogs = await alice.flat.ask({ type: 'OLD_DIALOGS', username: alice.username.toUpperCase() })
    t.same(dialogs, {
      type: 'OLD_DIALOGS',
      dialogs: [carol.username, hall.name, bob.username],
      id: [withCarol, hall.id, withBob],
      first_massage_id: [null, null, first.message_id],
    })
    const bobs = await bob.flat.ask({ type: 'OLD_DIALOGS', username: bob.username })
    t.same(bobs.dialogs, [alice.username], 'the other side sees the other username')
    t.match(await alice.flat.ask({ type: 'OLD_DIALOGS', username: bob.username }), { type: 'OLD_DIALOGS', status: 'FAIL', code: 'CHAT_ID_MISMATCH' })
  })

  t.test('answers come in request order, failures included', async (t) => {
    const alice = await person(a, a, 'alice')
    const bob = await person(b, b, 'bob')
    t.teardown(() => closeAll(alice.client, alice.flat, bob.client, bob.flat))
    const roomId = await room(alice, bob)

    const expected: Array<[string, string | undefined]> = []
    const texts: string[] = []
    for (let i = 0; i < 20; i++) {
      texts.push(`o${i}`)
      alice.flat.send({ type: 'SND_MSG', username: alice.username, room_id: roomId, message: `o${i}`, msg_type: 'TEXT' })
      expected.push(['SND_MSG', 'OK'])
      switch (i % 4) {
        case 0:
          alice.flat.send({ type: 'SEARCH_USER', user: alice.username })
          expected.push(['SEARCH_USER', undefined])
          break
        case 1:
          alice.flat.send({ type: 'SND_MSG', username: bob.username, room_id: roomId, message: 'spoof', msg_type: 'TEXT' })
          expected.push(['SND_MSG', 'FAIL'])
          break
        case 2:
          alice.flat.ws.sendRaw('nope')
          expected.push(['ERROR', 'FAIL'])
          break
        default:
          alice.flat.send({ type: 'OLD_DIALOGS', username: alice.username })
          expected.push(['OLD_DIALOGS', undefined])
      }
    }
    const got = await alice.flat.take(expected.length, () => true, 30_000)
    t.same(got.map((f) => [f.type, f.status]), expected)
    const ids = got.filter((f) => f.type === 'SND_MSG' && f.status === 'OK').map((f) => f.message_id as number)
    t.same([...ids].sort((x, y) => x - y), ids, 'stored in the order sent')
    alice.flat.send({ type: 'READ_MSG', read: 'ALL', room_id: roomId })
    t.same((await alice.flat.take(texts.length, isRead)).map((f) => f.message), texts)
  })

  t.test('cross-API: typed ↔ flat, both ways', async (t) => {
    const tina = await registerUser(a.wsUrl(), 'tina') // typed only
    const fred = await person(b, b, 'fred') // flat (and a typed socket we ignore)
    t.teardown(() => closeAll(tina.client, fred.client, fred.flat))

    const fromTyped = await tina.client.request('SEND_MESSAGE', { messageId: 1, senderId: tina.userId, receiverId: fred.userId, content: 'from typed' })
    t.equal(fromTyped.type, 'MESSAGE_RECEIVED_SELF')
    const roomId = fromTyped.payload.conversationId
    t.same(await fred.flat.next('READ_MSG'), {
      type: 'READ_MSG', status: 'OK', room_id: roomId, message_id: fromTyped.payload.id, msg_type: 'TEXT', message: 'from typed', date: fromTyped.payload.timestamp, sender: tina.username,
    })

    const fromFlat = await sendFlat(fred, roomId, 'from flat')
    const got = await tina.client.next('MESSAGE_RECEIVED_OTHER')
    t.match(got.payload, { id: fromFlat.message_id, senderId: fred.userId, receiverId: tina.userId, content: 'from flat', type: 'text', conversationId: roomId, timestamp: fromFlat.date })
    const history = await tina.client.request('LOAD_MESSAGES', { userId: tina.userId, targetId: fred.userId })
    t.same(history.payload.map((m: any) => m.content), ['from typed', 'from flat'])

    const dialogs = await fred.flat.ask({ type: 'OLD_DIALOGS', username: fred.username })
    t.same(dialogs.dialogs, [tina.username])
    t.same(dialogs.first_massage_id, [fromTyped.payload.id])

    // Edits and deletes cross too.
    await tina.client.request('EDIT_MESSAGE', { messageId: fromTyped.payload.id, content: 'edited in typed' })
    t.same(await fred.flat.next('EDIT_MSG'), { type: 'EDIT_MSG', id: fromTyped.payload.id, new_msg: 'edited in typed' })
    await fred.flat.ask({ type: 'EDIT_MSG', id: fromFlat.message_id, new_msg: 'edited in flat' })
    t.equal((await tina.client.next('MESSAGE_EDITED')).payload.content, 'edited in flat')
    await fred.flat.ask({ type: 'DELETE_MSG', id: fromFlat.message_id })
    t.equal((await tina.client.next('MESSAGE_DELETED')).payload.messageId, fromFlat.message_id)

    // Reading through flat lowers the count the typed API shows.
    await tina.client.request('SEND_MESSAGE', { messageId: 2, senderId: tina.userId, receiverId: fred.userId, content: 'unread one' })
    await fred.flat.next((f) => f.type === 'READ_MSG' && f.message === 'unread one')
    // (Sending marked everything before it read for fred, so one is unread.)
    const before = await fred.client.request('LOAD_UNREAD', {})
    t.same(before.payload.conversations, [{ conversationId: roomId, peerId: tina.userId, count: 1 }])
    const taken = await fred.flat.ask({ type: 'READ_MSG', read: 'RESENT', room_id: roomId })
    t.equal(taken.message, 'unread one')
    await fred.flat.noFrame(isRead, 300)
    const unread = await fred.client.request('LOAD_UNREAD', {})
    t.same(unread.payload.conversations, [])

    // An image sent through typed shows as IMAGE with its URL.
    const png = Buffer.from('89504e470d0a1a0a', 'hex').toString('base64')
    const img = await tina.client.request('SEND_IMAGE', { messageId: 3, senderId: tina.userId, receiverId: fred.userId, imageName: 'dot.png', imageContent: [png] })
    t.equal(img.type, 'MESSAGE_RECEIVED_SELF')
    t.match(await fred.flat.next('READ_MSG'), { msg_type: 'IMAGE', message: /\/files\/\d+$/, message_id: img.payload.id })

    // A conversation opened in flat is announced to a typed client.
    const tina2 = await registerUser(a.wsUrl(), 'tina2')
    t.teardown(() => tina2.client.close())
    const opened = await fred.flat.ask({ type: 'CREATE_ROOM', username: fred.username, customer: tina2.username })
    t.same((await tina2.client.next('CONVERSATION_CREATED')).payload, { conversationId: opened.id, userId: fred.userId })
  })
})
