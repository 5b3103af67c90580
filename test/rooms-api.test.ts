// Conformance of the `rooms` API (document 002 as API.md settles it) on the
// real system with two gateway replicas, requests spread across both: the
// HTTP routes with success and failure, the session cookie and bearer
// tokens, logout everywhere, single-use room tickets, the /ws/room socket
// (answers, pushes, bad frames, capacity, deletion) and delivery both ways
// with the `typed` API.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startSystem, type GatewayHandle } from './helpers/system.js'
import { http, type HttpResult } from './helpers/http.js'
import { connectWs, type Frame, type WsClient } from './helpers/ws.js'
import { registerUser, sleep, uniqueName } from './helpers/typed.js'
import { WEB_MEDIA_URLS } from './helpers/media.js'

// ------------------------------------------------------------------ helpers

const COOKIE = 'chat_session'
const TICKET = /^[0-9a-f]{40}$/

interface RoomsUser {
  username: string
  password: string
  nickname: string
  /** `chat_session=<jwt>`, for a Cookie header. */
  cookie: string
  /** The JWT the cookie carries. */
  token: string
  id: number
}

/** The user id (`sub`) of a JWT. */
const subOf = (jwt: string): number => Number(JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).sub)

/** The session cookie a response sets, as `name=value`, and its attributes. */
function sessionCookie (res: HttpResult): { pair: string, value: string, attrs: string[] } | undefined {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim())
    if (pair?.startsWith(`${COOKIE}=`)) return { pair, value: pair.slice(COOKIE.length + 1), attrs }
  }
  return undefined
}

/** A client's MD5-like pre-hash: an opaque string to us. */
const prehash = () => randomBytes(20).toString('hex')

/** Sends raw text as a JSON body (for malformed JSON). */
async function rawPost (url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  return { status: res.status, body: text === '' ? text : JSON.parse(text) }
}

/** POST /User on one replica, POST /Login on the other. */
async function roomsUser (reg: GatewayHandle, login: GatewayHandle, prefix = 'ru'): Promise<RoomsUser> {
  const username = uniqueName(prefix)
  const password = prehash()
  const nickname = `${prefix} ${randomBytes(2).toString('hex')} 昵称`
  const created = await http(`${reg.httpUrl}/User`, { json: { username, password, nickname } })
  if (created.status !== 201) throw new Error(`POST /User: ${created.status} ${created.text}`)
  const res = await http(`${login.httpUrl}/Login`, { json: { username, password } })
  const cookie = sessionCookie(res)
  if (res.status !== 200 || !cookie) throw new Error(`POST /Login: ${res.status} ${res.text}`)
  return { username, password, nickname, cookie: cookie.pair, token: cookie.value, id: subOf(cookie.value) }
}

const withCookie = (u: { cookie: string }) => ({ cookie: u.cookie })
const withBearer = (u: { token: string }) => ({ authorization: `Bearer ${u.token}` })

/** POST /Room → the room. */
async function createRoom (gw: GatewayHandle, u: RoomsUser, name = uniqueName('room')): Promise<{ id: number, name: string }> {
  const res = await http(`${gw.httpUrl}/Room`, { json: { name }, headers: withCookie(u) })
  if (res.status !== 201) throw new Error(`POST /Room: ${res.status} ${res.text}`)
  return res.body
}

/** GET /Room/:id → the ticket. */
async function ticketFor (gw: GatewayHandle, u: { cookie: string } | { token: string }, roomId: number): Promise<string> {
  const res = await http(`${gw.httpUrl}/Room/${roomId}`, { headers: 'cookie' in u ? withCookie(u) : withBearer(u) })
  if (res.status !== 200) throw new Error(`GET /Room/${roomId}: ${res.status} ${res.text}`)
  return res.body.token
}

const isStatus = (f: Frame) => 'status' in f && !('type' in f)
const isPush = (type: 0 | 1) => (f: Frame) => (f.type as unknown) === type

/** The next answer of a /ws/room socket. */
const answer = (c: WsClient, timeoutMs?: number) => c.next(isStatus, timeoutMs)

/**
 * Opens /ws/room and sends the ticket. The entry is not answered, so two
 * frames that are refused follow it: a socket that entered answers both
 * `{status: false}`, one whose ticket was refused answers once and closes.
 */
async function enter (gw: GatewayHandle, ticket: string): Promise<WsClient> {
  const c = await connectWs(gw.wsUrl('/ws/room'))
  c.send({ token: ticket })
  c.send({})
  c.send({})
  for (let i = 0; i < 2; i++) {
    const f = await answer(c)
    if (f.status !== false) throw new Error(`unexpected answer ${JSON.stringify(f)}`)
  }
  return c
}

/** A ticket from one replica, used on the other. */
async function enterRoom (ticketGw: GatewayHandle, wsGw: GatewayHandle, u: RoomsUser, roomId: number): Promise<WsClient> {
  return enter(wsGw, await ticketFor(ticketGw, u, roomId))
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

// ------------------------------------------------------------------- suite

t.test('rooms API', async (t) => {
  const sys = await startSystem(t, {
    gateways: 2,
    env: {
      WS_RATE_LIMIT_PER_SEC: '1000',
      WS_RATE_LIMIT_BURST: '1000',
      MESSAGE_MAX_LENGTH: '200',
      WS_MAX_FRAME_BYTES: '65536',
      HTTP_RATE_LIMIT_PER_MIN: '100000',
    },
  })
  const [a, b] = sys.gateways as [GatewayHandle, GatewayHandle]

  t.test('POST /User and GET /User/:username', async (t) => {
    const username = uniqueName('Zhang')
    const password = prehash()
    const created = await http(`${a.httpUrl}/User`, { json: { username, password, nickname: 'I\'m angry' } })
    t.equal(created.status, 201)
    t.same(created.body, { username, nickname: 'I\'m angry' })
    t.equal(sessionCookie(created), undefined, 'creating a user does not log in')

    const taken = await http(`${b.httpUrl}/User`, { json: { username: username.toUpperCase(), password, nickname: 'x' } })
    t.equal(taken.status, 409, 'taken in any case, on the other replica')
    t.same(taken.body, { error: 'username_taken', message: 'The username is taken' })

    const bare = uniqueName('bare')
    const noNick = await http(`${b.httpUrl}/User`, { json: { username: bare, password } })
    t.equal(noNick.status, 201)
    t.same(noNick.body, { username: bare, nickname: '' }, 'nickname is optional')

    const viewer = await roomsUser(b, a, 'viewer')
    const got = await http(`${b.httpUrl}/User/${encodeURIComponent(username)}`, { headers: withCookie(viewer) })
    t.equal(got.status, 200)
    t.same(got.body, { username, nickname: 'I\'m angry' })
    const anyCase = await http(`${a.httpUrl}/User/${encodeURIComponent(username.toLowerCase())}`, { headers: withBearer(viewer) })
    t.same(anyCase.body, { username, nickname: 'I\'m angry' }, 'looked up in any case, with a bearer token')
    const self = await http(`${a.httpUrl}/User/${viewer.username}`, { headers: withCookie(viewer) })
    t.same(self.body, { username: viewer.username, nickname: viewer.nickname }, 'a nickname with spaces and CJK survives')

    const ghost = await http(`${a.httpUrl}/User/${uniqueName('ghost')}`, { headers: withCookie(viewer) })
    t.equal(ghost.status, 404)
    t.same(ghost.body, { error: 'user_not_found', message: 'No such user' })
    const anon = await http(`${a.httpUrl}/User/${username}`)
    t.equal(anon.status, 401, 'a session is needed')
    t.same(anon.body, { error: 'unauthenticated', message: 'Login required' })
    const tooLong = await http(`${a.httpUrl}/User/${'x'.repeat(65)}`, { headers: withCookie(viewer) })
    t.equal(tooLong.status, 400)

    // Bad bodies are 400 and create nobody.
    const bad: Array<[string, unknown]> = [
      ['username of the wrong type', { username: 5, password, nickname: 'n' }],
      ['operator injection', { username: { $gt: '' }, password, nickname: 'n' }],
      ['password of the wrong type', { username: uniqueName('p'), password: 12345, nickname: 'n' }],
      ['nickname of the wrong type', { username: uniqueName('n'), password, nickname: ['x'] }],
      ['no password', { username: uniqueName('np'), nickname: 'n' }],
      ['no username', { password, nickname: 'n' }],
      ['empty username', { username: '', password, nickname: 'n' }],
      ['control character', { username: 'a\u0007b', password, nickname: 'n' }],
      ['a 65-character username', { username: 'u'.repeat(65), password, nickname: 'n' }],
      ['an array', [username, password]],
    ]
    for (const [what, body] of bad) {
      const res = await http(`${a.httpUrl}/User`, { json: body })
      t.equal(res.status, 400, what)
      t.equal(res.body.error, 'bad_request', what)
      t.type(res.body.message, 'string')
    }
    const broken = await rawPost(`${b.httpUrl}/User`, '{"username": "x", ')
    t.equal(broken.status, 400, 'invalid JSON')
    t.equal(broken.body.error, 'bad_request')
    const stillFree = await http(`${a.httpUrl}/User/${uniqueName('p')}`, { headers: withCookie(viewer) })
    t.equal(stillFree.status, 404)
  })

  t.test('POST /Login sets the session cookie; it works on the other replica; bearer tokens too', async (t) => {
    const username = uniqueName('login')
    const password = prehash()
    t.equal((await http(`${a.httpUrl}/User`, { json: { username, password, nickname: 'n' } })).status, 201)

    const wrong = await http(`${b.httpUrl}/Login`, { json: { username, password: prehash() } })
    t.equal(wrong.status, 200)
    t.same(wrong.body, { status: false }, 'wrong password')
    t.same(wrong.headers.getSetCookie(), [], 'and no cookie')
    const unknown = await http(`${a.httpUrl}/Login`, { json: { username: uniqueName('nobody'), password } })
    t.equal(unknown.status, 200)
    t.same(unknown.body, { status: false }, 'unknown user')

    const bad: Array<[string, unknown]> = [
      ['operator injection in username', { username: { $gt: '' }, password }],
      ['operator injection in password', { username, password: { $ne: null } }],
      ['numbers', { username: 1, password: 2 }],
      ['no password', { username }],
      ['null', null],
    ]
    for (const [what, body] of bad) {
      const res = await http(`${b.httpUrl}/Login`, { json: body })
      t.equal(res.status, 400, what)
      t.equal(res.body.error, 'bad_request', what)
      t.same(res.headers.getSetCookie(), [], `${what}: no cookie`)
    }
    t.equal((await rawPost(`${a.httpUrl}/Login`, '{username: x}')).status, 400, 'invalid JSON')
    t.equal((await rawPost(`${a.httpUrl}/Login`, '')).status, 400, 'empty body')

    // Plain HTTP, and a forwarded-proto header from nobody we trust: not Secure.
    const ok = await http(`${a.httpUrl}/Login`, { json: { username, password }, headers: { 'x-forwarded-proto': 'https' } })
    t.equal(ok.status, 200)
    t.same(ok.body, { status: true })
    const cookie = sessionCookie(ok)!
    t.ok(cookie, 'a session cookie is set')
    t.match(cookie.value, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the cookie is a JWT')
    const attrs = cookie.attrs.map((s) => s.toLowerCase())
    t.ok(attrs.includes('httponly'), 'HttpOnly')
    t.ok(attrs.includes('samesite=lax'), 'SameSite=Lax')
    t.ok(attrs.includes('path=/'), 'Path=/')
    t.notOk(attrs.includes('secure'), 'not Secure over plain HTTP')
    const maxAge = Number(attrs.find((s) => s.startsWith('max-age='))?.slice(8))
    t.ok(maxAge > 60, 'expires with the token')
    t.equal(subOf(cookie.value) > 0, true)

    const user = { cookie: cookie.pair, token: cookie.value }
    const listed = await http(`${b.httpUrl}/Room`, { headers: withCookie(user) })
    t.equal(listed.status, 200, 'the cookie works on the other replica')
    t.ok(Array.isArray(listed.body))
    const bearer = await http(`${b.httpUrl}/Room`, { headers: withBearer(user) })
    t.equal(bearer.status, 200, 'the same token as a bearer token')

    // A token from another API's login is the same kind of token.
    const typed = await registerUser(b.wsUrl(), 'typed')
    t.teardown(() => typed.client.close())
    const typedGet = await http(`${a.httpUrl}/User/${username}`, { headers: withBearer(typed) })
    t.same(typedGet.body, { username, nickname: 'n' }, 'a typed-API token works as a bearer token')
    // Login with the e-mail address of an account works too (API.md: `username` is the username; the e-mail is a convenience).
    const byMail = await http(`${b.httpUrl}/Login`, { json: { username: typed.email, password: typed.password } })
    t.same(byMail.body, { status: true })

    const garbage: Array<[string, Record<string, string>]> = [
      ['a garbage cookie', { cookie: `${COOKIE}=not-a-token` }],
      ['a garbage bearer token', { authorization: 'Bearer abc.def.ghi' }],
      ['a forged signature', { authorization: `Bearer ${cookie.value.slice(0, -4)}AAAA` }],
      ['a Basic header', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['another cookie name', { cookie: `session=${cookie.value}` }],
    ]
    for (const [what, headers] of garbage) {
      for (const gw of [a, b]) {
        const res = await http(`${gw.httpUrl}/Room`, { headers })
        t.equal(res.status, 401, what)
        t.match(res.body, { error: /^(token_invalid|unauthenticated)$/ }, what)
      }
    }
    const none = await http(`${a.httpUrl}/Room`)
    t.same(none.body, { error: 'unauthenticated', message: 'Login required' })
  })

  t.test('POST /Logout revokes the session on both replicas', async (t) => {
    const u = await roomsUser(a, b, 'out')
    const other = await http(`${a.httpUrl}/Login`, { json: { username: u.username, password: u.password } })
    const second = sessionCookie(other)!
    t.not(second.value, u.token, 'each login is its own session')

    const out = await http(`${b.httpUrl}/Logout`, { method: 'POST', headers: withCookie(u) })
    t.equal(out.status, 200)
    t.same(out.body, { status: true })
    const cleared = sessionCookie(out)!
    t.ok(cleared, 'the cookie is cleared')
    t.equal(cleared.value, '')
    t.ok(cleared.attrs.some((s) => /^expires=thu, 01 jan 1970/i.test(s) || /^max-age=0$/i.test(s)), 'expired')

    for (const gw of [a, b]) {
      t.equal((await http(`${gw.httpUrl}/Room`, { headers: withCookie(u) })).status, 401, 'the cookie is dead on every replica')
      t.equal((await http(`${gw.httpUrl}/Room`, { headers: withBearer(u) })).status, 401, 'so is the token')
      t.equal((await http(`${gw.httpUrl}/User/${u.username}`, { headers: withCookie(u) })).status, 401)
    }
    const revoked = await http(`${a.httpUrl}/Room/1`, { headers: withCookie(u) })
    t.same(revoked.body, { error: 'token_invalid', message: 'The token was revoked' })
    t.equal((await http(`${a.httpUrl}/Room`, { headers: { cookie: second.pair } })).status, 200, 'the user\'s other session lives on')

    // Logging out again, or without any session, is still {status: true}.
    t.same((await http(`${a.httpUrl}/Logout`, { method: 'POST', headers: withCookie(u) })).body, { status: true })
    const anon = await http(`${b.httpUrl}/Logout`, { method: 'POST' })
    t.equal(anon.status, 200)
    t.same(anon.body, { status: true })
    t.same((await http(`${b.httpUrl}/Logout`, { method: 'POST', headers: { authorization: 'Bearer nonsense' } })).body, { status: true })

    // A bearer logout revokes that token.
    const byBearer = await http(`${b.httpUrl}/Logout`, { method: 'POST', headers: { authorization: `Bearer ${second.value}` } })
    t.same(byBearer.body, { status: true })
    t.equal((await http(`${a.httpUrl}/Room`, { headers: { cookie: second.pair } })).status, 401)
  })

  t.test('GET /Room, POST /Room, DELETE /Room/:id', async (t) => {
    const owner = await roomsUser(a, b, 'owner')
    const guest = await roomsUser(b, a, 'guest')
    const typedOwner = await registerUser(a.wsUrl(), 'typedowner')
    t.teardown(() => typedOwner.client.close())

    for (const [method, path] of [['GET', '/Room'], ['POST', '/Room'], ['DELETE', '/Room/1'], ['GET', '/Room/1']] as const) {
      const res = await http(`${b.httpUrl}${path}`, { method, ...(method === 'POST' ? { json: { name: 'x' } } : {}) })
      t.equal(res.status, 401, `${method} ${path} needs a session`)
      t.same(res.body, { error: 'unauthenticated', message: 'Login required' })
    }

    const created = await http(`${a.httpUrl}/Room`, { json: { name: 'zhangjiagou的聊天室的名字' }, headers: withCookie(owner) })
    t.equal(created.status, 201)
    t.same(Object.keys(created.body).sort(), ['id', 'name'])
    t.equal(created.body.name, 'zhangjiagou的聊天室的名字')
    t.ok(Number.isSafeInteger(created.body.id) && created.body.id > 0, 'a numeric id')
    const r1 = created.body as { id: number, name: string }
    const r2 = await createRoom(b, owner)
    const r3 = await createRoom(a, guest)
    const priv = await typedOwner.client.request('CREATE_ROOM', { name: uniqueName('private'), visibility: 'private' })
    t.equal(priv.type, 'ROOM_CREATED')
    const privId = priv.payload.room.id as number

    const seen = await http(`${b.httpUrl}/Room`, { headers: withCookie(guest) })
    t.equal(seen.status, 200)
    const ids = (seen.body as Array<{ id: number }>).map((r) => r.id)
    t.same(seen.body.filter((r: { id: number }) => [r1.id, r2.id, r3.id].includes(r.id)), [r3, r2, r1], 'exactly {id, name}, newest first')
    t.same(ids, [...ids].sort((x, y) => y - x), 'the whole list is newest first')
    t.notOk(ids.includes(privId), 'others\' private rooms are not listed')
    const typedList = await http(`${a.httpUrl}/Room`, { headers: withBearer(typedOwner) })
    t.same(typedList.body[0], { id: privId, name: priv.payload.room.name }, 'the user\'s own private room is')

    const badBodies: Array<[string, unknown]> = [
      ['no name', {}],
      ['a number', { name: 5 }],
      ['empty', { name: '' }],
      ['operator injection', { name: { $gt: '' } }],
      ['too long', { name: 'n'.repeat(129) }],
      ['control characters', { name: 'a\nb' }],
    ]
    for (const [what, body] of badBodies) {
      const res = await http(`${a.httpUrl}/Room`, { json: body, headers: withCookie(owner) })
      t.equal(res.status, 400, what)
      t.equal(res.body.error, 'bad_request', what)
    }
    t.equal((await rawPost(`${a.httpUrl}/Room`, '{"name":', withCookie(owner))).status, 400, 'invalid JSON')

    for (const id of ['abc', '1e3', '0', '-5', '1.5', '0x10', '99999999999999999999']) {
      const del = await http(`${b.httpUrl}/Room/${id}`, { method: 'DELETE', headers: withCookie(owner) })
      t.equal(del.status, 400, `DELETE /Room/${id}`)
      t.equal(del.body.error, 'bad_request')
      t.equal((await http(`${a.httpUrl}/Room/${id}`, { headers: withCookie(owner) })).status, 400, `GET /Room/${id}`)
    }
    const notOwner = await http(`${b.httpUrl}/Room/${r1.id}`, { method: 'DELETE', headers: withCookie(guest) })
    t.equal(notOwner.status, 403)
    t.same(notOwner.body, { error: 'forbidden', message: 'Only the owner may delete the room' })
    const ghost = await http(`${a.httpUrl}/Room/987654321`, { method: 'DELETE', headers: withCookie(owner) })
    t.equal(ghost.status, 404)
    t.equal(ghost.body.error, 'conversation_not_found')

    const del = await http(`${b.httpUrl}/Room/${r1.id}`, { method: 'DELETE', headers: withCookie(owner) })
    t.equal(del.status, 204)
    t.equal(del.text, '')
    t.equal((await http(`${a.httpUrl}/Room/${r1.id}`, { method: 'DELETE', headers: withCookie(owner) })).status, 404, 'gone')
    const after = await http(`${a.httpUrl}/Room`, { headers: withCookie(owner) })
    t.notOk(after.body.some((r: { id: number }) => r.id === r1.id), 'no longer listed')
    t.ok(after.body.some((r: { id: number }) => r.id === r2.id))

    // GET /Room/:id: a ticket for rooms the user may see.
    const ticket = await http(`${b.httpUrl}/Room/${r2.id}`, { headers: withCookie(guest) })
    t.equal(ticket.status, 200)
    t.same(Object.keys(ticket.body), ['token'])
    t.match(ticket.body.token, TICKET, '40 hex characters, like the document\'s')
    const another = await http(`${a.httpUrl}/Room/${r2.id}`, { headers: withCookie(guest) })
    t.not(another.body.token, ticket.body.token, 'a new ticket each time')
    const privTicket = await http(`${a.httpUrl}/Room/${privId}`, { headers: withCookie(guest) })
    t.equal(privTicket.status, 403, 'not for someone else\'s private room')
    t.equal(privTicket.body.error, 'not_member')
    const goneTicket = await http(`${a.httpUrl}/Room/${r1.id}`, { headers: withCookie(guest) })
    t.equal(goneTicket.status, 404, 'not for a deleted room')
    t.equal(goneTicket.body.error, 'conversation_not_found')
  })

  t.test('/ws/room: tickets are single-use, work on any replica, and stand for one room', async (t) => {
    const owner = await roomsUser(a, b, 'tkowner')
    const user = await roomsUser(b, a, 'tkuser')
    const roomA = await createRoom(a, owner)
    const roomB = await createRoom(b, owner)
    const inA = await enterRoom(a, b, owner, roomA.id)
    const inB = await enterRoom(b, a, owner, roomB.id)
    t.teardown(() => Promise.all([inA.close(), inB.close()]))

    // The user holds tickets for both rooms; the socket is in the room of the one it sent.
    const ticketA = await ticketFor(a, user, roomA.id)
    await ticketFor(b, user, roomB.id)
    const c = await enter(b, ticketA)
    t.teardown(() => c.close())
    const entry = await inA.next(isPush(1))
    t.same(entry, { type: 1, username: user.username, nickname: user.nickname, action: 1, time: entry.time }, 'entering room A is announced in A')
    t.ok(Math.abs((entry.time as number) - nowSeconds()) <= 2, 'at about now, in seconds')
    c.send({ msg: 'which room?' })
    t.same(await answer(c), { status: true })
    t.equal((await inA.next(isPush(0))).msg, 'which room?', 'the message went to the ticket\'s room')
    await inB.noFrame(() => true, 300)

    // Spent: a second use fails on either replica, and closes that socket.
    for (const gw of [a, b]) {
      const again = await connectWs(gw.wsUrl('/ws/room'))
      again.send({ token: ticketA })
      t.same(await answer(again), { status: false }, 'a used ticket is refused')
      t.equal((await again.closed).code, 1008, 'and the socket closed')
    }

    // Garbage tickets, and a second ticket on a socket already in a room.
    for (const token of ['8c510c418bc52a780b11ab153f1f488b6154df10', 'nonsense', 5, null, { $gt: '' }, '']) {
      const bad = await connectWs(a.wsUrl('/ws/room'))
      bad.send({ token })
      t.same(await answer(bad), { status: false }, `token ${JSON.stringify(token)}`)
      t.equal((await bad.closed).code, 1008)
    }
    const spare = await ticketFor(a, user, roomB.id)
    c.send({ token: spare })
    t.same(await answer(c), { status: false }, 'one room per socket')
    c.send({ msg: 'still here' })
    t.same(await answer(c), { status: true }, 'the socket stays in its room')
    t.equal((await inA.next(isPush(0))).msg, 'still here')
    const other = await enter(a, spare)
    t.teardown(() => other.close())
    other.send({ msg: 'in B' })
    t.same(await answer(other), { status: true }, 'the refused ticket was not spent')
    t.equal((await inB.next(isPush(0))).msg, 'in B')

    // The first frame must be a good {token}: anything else is refused and closes, on either replica.
    for (const [gw, first] of [[b, { msg: 'too soon' }], [a, 'not json'], [b, { token: 5 }], [a, { token: 'x', msg: 'both' }]] as const) {
      const bad = await connectWs(gw.wsUrl('/ws/room'))
      if (typeof first === 'string') bad.sendRaw(first)
      else bad.send(first)
      t.same(await answer(bad), { status: false }, `first frame ${JSON.stringify(first)}`)
      t.equal((await bad.closed).code, 1008, `first frame ${JSON.stringify(first)}: closed`)
    }
    await inA.noFrame((f) => (f as any).msg === 'too soon', 200)
    const early = await connectWs(b.wsUrl('/ws/room'))
    t.teardown(() => early.close())
    early.send({ token: await ticketFor(a, user, roomA.id) })
    early.send({ msg: 'now' })
    t.same(await answer(early), { status: true })
    t.equal((await inA.next(isPush(0))).msg, 'now')

    // A token at the upgrade logs the socket in but enters no room: the first frame is still the ticket.
    const upgraded = await connectWs(`${a.wsUrl('/ws/room')}?token=${encodeURIComponent(user.token)}`)
    t.teardown(() => upgraded.close())
    upgraded.send({ token: await ticketFor(b, user, roomB.id) })
    upgraded.send({ msg: 'now in B' })
    t.same(await answer(upgraded), { status: true })
    t.equal((await inB.next(isPush(0))).msg, 'now in B')

    // A ticket dies with the session it was issued for.
    const doomed = await ticketFor(b, user, roomA.id)
    t.same((await http(`${a.httpUrl}/Logout`, { method: 'POST', headers: withCookie(user) })).body, { status: true })
    const late = await connectWs(a.wsUrl('/ws/room'))
    late.send({ token: doomed })
    t.same(await answer(late), { status: false }, 'the session was revoked')
    t.equal((await late.closed).code, 1008)
    // ...and so do the sockets opened with it.
    for (const s of [c, early]) t.equal((await s.closed).code, 4001, 'logout closes the user\'s room sockets')
    const left = await inA.next((f) => (f.type as unknown) === 1 && f.action === 0)
    t.equal(left.username, user.username, 'and others see the user leave')
  })

  t.test('/ws/room: messages and entering/leaving between replicas', async (t) => {
    const owner = await roomsUser(a, b, 'host')
    const ann = await roomsUser(b, a, 'ann')
    const room = await createRoom(a, owner)
    const observer = await registerUser(a.wsUrl(), 'observer')
    t.teardown(() => observer.client.close())
    t.equal((await observer.client.request('JOIN_ROOM', { roomId: room.id })).type, 'ROOM_JOINED')

    const host = await enterRoom(b, a, owner, room.id)
    t.teardown(() => host.close())
    await host.noFrame(isPush(1), 200)
    await observer.client.noFrame('ROOM_MEMBER_JOINED', 100)

    const annSock = await enterRoom(a, b, ann, room.id)
    t.teardown(() => annSock.close())
    const joinedTyped = await observer.client.next('ROOM_MEMBER_JOINED')
    t.equal(joinedTyped.payload.userId, ann.id)
    const entered = await host.next(isPush(1))
    t.same(entered, { type: 1, username: ann.username, nickname: ann.nickname, action: 1, time: Math.floor(Date.parse(joinedTyped.payload.at) / 1000) }, 'others see the entry')
    await annSock.noFrame(isPush(1), 200)

    const before = nowSeconds()
    annSock.send({ msg: '今天天气好好啊' })
    t.same(await answer(annSock), { status: true })
    const typedCopy = await observer.client.next('MESSAGE_RECEIVED_OTHER')
    t.match(typedCopy.payload, { senderId: ann.id, roomId: room.id, content: '今天天气好好啊', type: 'text' })
    const got = await host.next(isPush(0))
    t.same(got, { type: 0, msg: '今天天气好好啊', username: ann.username, nickname: ann.nickname, time: Math.floor(Date.parse(typedCopy.payload.timestamp) / 1000) })
    t.ok((got.time as number) >= before && (got.time as number) <= nowSeconds(), 'time is Unix seconds')
    await annSock.noFrame(isPush(0), 300)

    // The sender's other socket in the room gets no copy either; a second visit is no new entry.
    const annPhone = await enterRoom(b, b, ann, room.id)
    t.teardown(() => annPhone.close())
    await host.noFrame(isPush(1), 200)
    host.send({ msg: 'hi ann' })
    t.same(await answer(host), { status: true })
    const hiAt = Math.floor(Date.parse((await observer.client.next((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.content === 'hi ann')).payload.timestamp) / 1000)
    for (const s of [annSock, annPhone]) {
      t.same(await s.next(isPush(0)), { type: 0, msg: 'hi ann', username: owner.username, nickname: owner.nickname, time: hiAt }, 'every socket of every other member')
    }
    annPhone.send({ msg: 'from the phone' })
    t.same(await answer(annPhone), { status: true })
    t.equal((await host.next(isPush(0))).msg, 'from the phone')
    await annSock.noFrame(isPush(0), 300)

    // Leaving: the last visit ends the membership the visits made.
    await annPhone.close()
    await host.noFrame(isPush(1), 300)
    await annSock.close()
    const leftTyped = await observer.client.next('ROOM_MEMBER_LEFT')
    t.equal(leftTyped.payload.userId, ann.id)
    t.same(await host.next(isPush(1)), { type: 1, username: ann.username, nickname: ann.nickname, action: 0, time: Math.floor(Date.parse(leftTyped.payload.at) / 1000) })
    const members = await observer.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id })
    t.same(members.payload.members.map((m: any) => m.userId).sort(), [owner.id, observer.userId].sort(), 'ann is no member any more')
    // The owner was a member before the visit and stays one after it.
    await host.close()
    await observer.client.noFrame('ROOM_MEMBER_LEFT', 300)
  })

  t.test('/ws/room: bad frames answer {status: false} in order and the socket keeps working', async (t) => {
    const owner = await roomsUser(a, b, 'badhost')
    const room = await createRoom(b, owner)
    const u = await roomsUser(a, a, 'bad')
    const listener = await enterRoom(a, a, owner, room.id)
    const s = await enterRoom(b, b, u, room.id)
    t.teardown(() => Promise.all([listener.close(), s.close()]))
    await listener.next(isPush(1))

    s.send({ msg: 5 })
    s.sendRaw('{"msg": "unterminated')
    s.send({ msg: { $gt: '' } })
    s.send({ msg: 'first' })
    s.sendRaw(JSON.stringify([{ msg: 'x' }]))
    s.send({})
    s.send({ msg: null })
    s.send({ msg: 'x', token: 'y' })
    s.sendRaw(Buffer.from('{"msg":"binary"}'))
    s.send({ msg: '' })
    s.send({ msg: 'x'.repeat(201) })
    s.send({ msg: 'second', extra: true })
    const answers = []
    for (let i = 0; i < 12; i++) answers.push((await answer(s)).status)
    t.same(answers, [false, false, false, true, false, false, false, false, false, false, false, true], 'each frame answered, in order')
    t.same((await listener.next(isPush(0))).msg, 'first')
    t.same((await listener.next(isPush(0))).msg, 'second')
    await listener.noFrame(isPush(0), 300)

    // Over WS_MAX_FRAME_BYTES: closed with 1009.
    s.send({ msg: 'y'.repeat(70_000) })
    t.equal((await s.closed).code, 1009)
    t.same((await listener.next((f) => (f.type as unknown) === 1 && f.action === 0)).username, u.username, 'and the visit ended')
  })

  t.test('/ws/room: a full room refuses entry', async (t) => {
    const typedOwner = await registerUser(b.wsUrl(), 'capowner')
    t.teardown(() => typedOwner.client.close())
    const created = await typedOwner.client.request('CREATE_ROOM', { name: uniqueName('small'), capacity: 2 })
    t.equal(created.type, 'ROOM_CREATED')
    const roomId = created.payload.room.id as number
    const first = await roomsUser(a, b, 'first')
    const second = await roomsUser(b, a, 'second')

    const in1 = await enterRoom(a, b, first, roomId)
    t.match((await typedOwner.client.next('ROOM_MEMBER_JOINED')).payload, { roomId, userId: first.id })
    const ticket = await ticketFor(b, second, roomId)
    const refused = await connectWs(a.wsUrl('/ws/room'))
    refused.send({ token: ticket })
    t.same(await answer(refused), { status: false }, 'the room is full')
    t.equal((await refused.closed).code, 1008)
    const members = await typedOwner.client.request('LOAD_ROOM_MEMBERS', { roomId })
    t.same(members.payload.members.map((m: any) => m.userId), [typedOwner.userId, first.id], 'the refused visitor is no member')

    await in1.close()
    await typedOwner.client.next('ROOM_MEMBER_LEFT')
    const in2 = await enterRoom(a, b, second, roomId)
    t.teardown(() => in2.close())
    in2.send({ msg: 'a seat was free again' })
    t.same(await answer(in2), { status: true })
    t.equal((await typedOwner.client.next('MESSAGE_RECEIVED_OTHER')).payload.content, 'a seat was free again')
  })

  t.test('/ws/room: deleting the room closes its sockets on both replicas with 4004', async (t) => {
    const owner = await roomsUser(a, b, 'delowner')
    const guest = await roomsUser(b, a, 'delguest')
    const room = await createRoom(a, owner)
    const keep = await createRoom(a, owner)
    const s1 = await enterRoom(a, a, owner, room.id)
    const s2 = await enterRoom(a, b, guest, room.id)
    const s3 = await enterRoom(b, a, guest, keep.id)
    t.teardown(() => Promise.all([s1.close(), s2.close(), s3.close()]))
    await s1.next(isPush(1))

    t.equal((await http(`${b.httpUrl}/Room/${room.id}`, { method: 'DELETE', headers: withBearer(owner) })).status, 204)
    const [c1, c2] = await Promise.all([s1.closed, s2.closed])
    t.equal(c1.code, 4004, 'on the replica the DELETE did not reach')
    t.equal(c2.code, 4004, 'and on the one it did')
    s3.send({ msg: 'the other room lives' })
    t.same(await answer(s3), { status: true }, 'sockets of other rooms stay')
    const ticket = await http(`${a.httpUrl}/Room/${room.id}`, { headers: withCookie(guest) })
    t.equal(ticket.status, 404)
  })

  t.test('/ws/room and the typed API: one room, both ways', async (t) => {
    const owner = await roomsUser(a, b, 'xowner')
    const room = await createRoom(b, owner)
    const typed = await registerUser(a.wsUrl(), 'xtyped')
    t.teardown(() => typed.client.close())
    t.equal((await typed.client.request('JOIN_ROOM', { roomId: room.id })).type, 'ROOM_JOINED')

    const walker = await roomsUser(b, a, 'walker')
    const ticket = await ticketFor(a, walker, room.id)
    const s = await enter(b, ticket)
    t.teardown(() => s.close())
    t.match((await typed.client.next('ROOM_MEMBER_JOINED')).payload, { roomId: room.id, userId: walker.id, username: walker.username, nickname: walker.nickname })
    const members = await typed.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id })
    t.same(members.payload.members.map((m: any) => m.userId), [owner.id, typed.userId, walker.id], 'entering made the walker a member')

    s.send({ msg: 'hello typed' })
    t.same(await answer(s), { status: true })
    t.match((await typed.client.next('MESSAGE_RECEIVED_OTHER')).payload, { senderId: walker.id, roomId: room.id, content: 'hello typed' })

    const sent = await typed.client.request('SEND_ROOM_MESSAGE', { messageId: 1, senderId: typed.userId, roomId: room.id, content: 'hello rooms' })
    t.equal(sent.type, 'MESSAGE_RECEIVED_SELF')
    t.same(await s.next(isPush(0)), { type: 0, msg: 'hello rooms', username: typed.username, nickname: '', time: Math.floor(Date.parse(sent.payload.timestamp) / 1000) })

    // Other kinds arrive with their content as msg: a location's JSON here (a file's URL likewise).
    const where = JSON.stringify({ latitude: 31.23, longitude: 121.47 })
    const located = await typed.client.request('SEND_ROOM_MESSAGE', { messageId: 2, senderId: typed.userId, roomId: room.id, content: where, type: 'location' })
    t.equal(located.type, 'MESSAGE_RECEIVED_SELF')
    t.same(await s.next(isPush(0)), { type: 0, msg: where, username: typed.username, nickname: '', time: Math.floor(Date.parse(located.payload.timestamp) / 1000) })

    // Image, file and audio messages sent as web URLs arrive with the URL as sent.
    for (const [i, type] of (['image', 'file', 'audio'] as const).entries()) {
      const url = WEB_MEDIA_URLS[i % WEB_MEDIA_URLS.length] as string
      const media = await typed.client.request('SEND_ROOM_MESSAGE', { messageId: 10 + i, senderId: typed.userId, roomId: room.id, content: url, type })
      t.equal(media.type, 'MESSAGE_RECEIVED_SELF', type)
      t.same(await s.next(isPush(0)), { type: 0, msg: url, username: typed.username, nickname: '', time: Math.floor(Date.parse(media.payload.timestamp) / 1000) }, `${type} on the other replica`)
    }

    const history = await typed.client.request('LOAD_ROOM_MESSAGES', { roomId: room.id })
    t.ok(history.payload.some((m: any) => m.content === 'hello typed' && m.senderId === walker.id), 'the rooms message is in the room\'s history')

    await s.close()
    t.match((await typed.client.next('ROOM_MEMBER_LEFT')).payload, { roomId: room.id, userId: walker.id })
    const after = await typed.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id })
    t.same(after.payload.members.map((m: any) => m.userId), [owner.id, typed.userId])
  })

  t.test('a Room id may be a direct conversation: its two members talk through /ws/room', async (t) => {
    const ru = await roomsUser(a, b, 'dru')
    const stranger = await roomsUser(b, a, 'dstr')
    const pal = await registerUser(a.wsUrl(), 'dpal')
    t.teardown(() => pal.client.close())
    const first = await pal.client.request('SEND_MESSAGE', { messageId: 1, senderId: pal.userId, receiverId: ru.id, content: 'first' })
    t.equal(first.type, 'MESSAGE_RECEIVED_SELF')
    const chat = await http(`${b.httpUrl}/chats/users/${ru.id}/${pal.userId}`, { headers: withCookie(ru) })
    t.equal(chat.status, 200)
    const chatId: number = chat.body.chat_id

    t.equal((await http(`${a.httpUrl}/Room/${chatId}`, { headers: withCookie(stranger) })).body.error, 'not_member', 'no ticket for others')
    const notRoom = await http(`${a.httpUrl}/Room/${chatId}`, { method: 'DELETE', headers: withCookie(ru) })
    t.same([notRoom.status, notRoom.body.error], [403, 'forbidden'], 'a direct conversation is no room one owns')
    const hidden = await http(`${b.httpUrl}/Room/${chatId}`, { method: 'DELETE', headers: withCookie(stranger) })
    t.same([hidden.status, hidden.body.error], [404, 'conversation_not_found'], 'and others learn nothing of it')
    const listed = await http(`${a.httpUrl}/Room`, { headers: withCookie(ru) })
    t.notOk(listed.body.some((r: { id: number }) => r.id === chatId), 'GET /Room lists rooms only')

    const s = await enterRoom(b, a, ru, chatId)
    t.teardown(() => s.close())
    const hi = await pal.client.request('SEND_MESSAGE', { messageId: 2, senderId: pal.userId, receiverId: ru.id, content: 'hi ru' })
    t.same(await s.next(isPush(0)), { type: 0, msg: 'hi ru', username: pal.username, nickname: '', time: Math.floor(Date.parse(hi.payload.timestamp) / 1000) })
    s.send({ msg: 'hi pal' })
    t.same(await answer(s), { status: true })
    t.match((await pal.client.next('MESSAGE_RECEIVED_OTHER')).payload, { senderId: ru.id, content: 'hi pal' })
    await s.noFrame(isPush(0), 300)

    const history = await http(`${a.httpUrl}/chats/${chatId}`, { headers: withCookie(ru) })
    t.same(history.body.map((m: { message: string }) => m.message), ['hi pal', 'hi ru', 'first'], 'one conversation in every API')
    t.equal((await pal.client.request('LOAD_ROOM_MEMBERS', { roomId: chatId })).type, 'ROOM_MEMBERS_LOAD_FAILURE', 'entering joined nothing: it is no room')

    const deleted = await pal.client.request('DELETE_CONVERSATION', { userId: pal.userId, targetUserId: ru.id })
    t.equal(deleted.type, 'CONVERSATION_DELETED')
    t.equal((await s.closed).code, 4004, 'its sockets close when it is deleted')
  })

  t.test('the OpenAPI document describes the routes', async (t) => {
    const doc = await http(`${a.httpUrl}/docs/json`)
    t.equal(doc.status, 200)
    const paths = doc.body.paths
    for (const [path, method] of [['/User', 'post'], ['/User/{username}', 'get'], ['/Login', 'post'], ['/Logout', 'post'], ['/Room', 'get'], ['/Room', 'post'], ['/Room/{id}', 'get'], ['/Room/{id}', 'delete']]) {
      t.same(paths[path!]?.[method!]?.tags, ['rooms'], `${method} ${path}`)
    }
    t.ok(paths['/Room'].get.security.length > 0, 'GET /Room needs a session')
    t.notOk(paths['/Login'].post.security, '/Login does not')
    t.same(paths['/Logout'].post.security.at(-1), {}, '/Logout takes one if there is one')
    t.same(Object.keys(paths['/Room/{id}'].get.responses).sort(), ['200', '400', '401', '403', '404', '429'])
  })
})

t.test('behind a trusted TLS proxy, with short-lived tickets', async (t) => {
  const sys = await startSystem(t, { gateways: 1, env: { TRUST_PROXY: '1', ROOM_TICKET_TTL_MS: '1000' } })
  const gw = sys.gateways[0]!
  const u = await roomsUser(gw, gw, 'tls')

  const secure = await http(`${gw.httpUrl}/Login`, { json: { username: u.username, password: u.password }, headers: { 'x-forwarded-proto': 'https' } })
  t.same(secure.body, { status: true })
  const attrs = sessionCookie(secure)!.attrs.map((s) => s.toLowerCase())
  t.ok(attrs.includes('secure'), 'Secure when the proxy says https')
  t.ok(attrs.includes('httponly') && attrs.includes('samesite=lax') && attrs.includes('path=/'))
  const plain = await http(`${gw.httpUrl}/Login`, { json: { username: u.username, password: u.password }, headers: { 'x-forwarded-proto': 'http' } })
  t.notOk(sessionCookie(plain)!.attrs.map((s) => s.toLowerCase()).includes('secure'), 'not when it says http')
  const out = await http(`${gw.httpUrl}/Logout`, { method: 'POST', headers: { ...withCookie(u), 'x-forwarded-proto': 'https' } })
  t.ok(sessionCookie(out)!.attrs.map((s) => s.toLowerCase()).includes('secure'), 'the clearing cookie matches')

  const v = await roomsUser(gw, gw, 'ttl')
  const room = await createRoom(gw, v)
  const fresh = await ticketFor(gw, v, room.id)
  const stale = await ticketFor(gw, v, room.id)
  const ok = await enter(gw, fresh)
  t.teardown(() => ok.close())
  await sleep(1300)
  const late = await connectWs(gw.wsUrl('/ws/room'))
  late.send({ token: stale })
  t.same(await answer(late), { status: false }, 'an expired ticket is refused')
  t.equal((await late.closed).code, 1008)
  ok.send({ msg: 'entered in time' })
  t.same(await answer(ok), { status: true }, 'a socket that entered in time stays')
})
