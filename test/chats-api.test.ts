// Conformance of the `chats` HTTP API (document 001 as API.md settles it)
// on the real system with two gateway replicas, requests spread across
// both: every route of /chats, /chats_v2 and /chat_rooms with success and
// failure, paging, list order, room capacity, the v2 consume semantics
// (also under concurrent takes from two devices), and delivery both ways
// with the `typed` WebSocket API.
import t from 'tap'
import { startSystem, type GatewayHandle } from './helpers/system.js'
import { http, type HttpResult } from './helpers/http.js'
import { registerUser, sendText, sleep, uniqueName, type TypedUser } from './helpers/typed.js'
import { REFUSED_MEDIA_URLS, WEB_MEDIA_URLS } from './helpers/media.js'
import { connectWs } from './helpers/ws.js'

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const MAX_LEN = 200

/** An HTTP client of one user against one replica. */
interface Api {
  get: (path: string) => Promise<HttpResult>
  post: (path: string, json?: unknown) => Promise<HttpResult>
  del: (path: string) => Promise<HttpResult>
  /** A raw request: any body text and headers. */
  raw: (method: string, path: string, body?: string, headers?: Record<string, string>) => Promise<HttpResult>
}

function apiOf (gw: GatewayHandle, token: string | undefined): Api {
  const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
  const raw = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.httpUrl}${path}`, { method, headers: { ...auth, ...headers }, body, signal: AbortSignal.timeout(15_000) })
    const text = await res.text()
    let parsed: unknown = text
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text)
    return { status: res.status, headers: res.headers, body: parsed, text }
  }
  return {
    get: (path) => http(`${gw.httpUrl}${path}`, { headers: auth, timeoutMs: 15_000 }),
    post: (path, json = {}) => http(`${gw.httpUrl}${path}`, { method: 'POST', json, headers: auth, timeoutMs: 15_000 }),
    del: (path) => http(`${gw.httpUrl}${path}`, { method: 'DELETE', headers: auth, timeoutMs: 15_000 }),
    raw,
  }
}

interface ChatsUser extends TypedUser {
  /** This user's client on replica a and on replica b. */
  a: Api
  b: Api
}

t.test('chats API', async (t) => {
  const sys = await startSystem(t, {
    gateways: 2,
    env: { HTTP_RATE_LIMIT_PER_MIN: '100000', WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000', MESSAGE_MAX_LENGTH: String(MAX_LEN) },
  })
  const [gwA, gwB] = sys.gateways as [GatewayHandle, GatewayHandle]
  const sockets: TypedUser[] = []
  t.teardown(() => Promise.all(sockets.map((u) => u.client.close())))

  /** A new user (registered over the typed API, whose socket stays open on replica a or b). */
  const user = async (prefix: string, on: GatewayHandle = gwA): Promise<ChatsUser> => {
    const u = await registerUser(on.wsUrl(), prefix)
    sockets.push(u)
    return { ...u, a: apiOf(gwA, u.token), b: apiOf(gwB, u.token) }
  }
  const send = async (from: ChatsUser, to: ChatsUser, message: string, via: Api = from.a): Promise<number> => {
    const r = await via.post('/chats', { receiver_id: to.userId, message, type: 'text' })
    if (r.status !== 201) throw new Error(`send failed: ${r.status} ${r.text}`)
    return r.body.chat_id
  }
  const contents = (r: HttpResult) => (r.body as Array<{ message: string }>).map((m) => m.message)
  const typedUnread = async (u: ChatsUser) => {
    const r = await u.client.request('LOAD_UNREAD', {})
    if (r.type !== 'UNREAD_LOADED') throw new Error(JSON.stringify(r))
    return r.payload.conversations as Array<{ conversationId: number, count: number }>
  }

  t.test('every route needs a session: 401 without one, 401 for a garbage token', async (t) => {
    const routes: Array<[string, string, unknown?]> = [
      ['POST', '/chats', { receiver_id: 1, message: 'x', type: 'text' }],
      ['GET', '/chats/unread'],
      ['GET', '/chats/1'],
      ['GET', '/chats/1/2'],
      ['POST', '/chats/read', { chat_id: 1 }],
      ['GET', '/chats'],
      ['DELETE', '/chats/1'],
      ['GET', '/chats/users/1/2'],
      ['POST', '/chats_v2', { receiver_id: 1, message: 'x', type: 'text' }],
      ['GET', '/chats_v2/unread'],
      ['GET', '/chats_v2/1'],
      ['GET', '/chats_v2/1/2'],
      ['GET', '/chats_v2'],
      ['DELETE', '/chats_v2/1'],
      ['GET', '/chats_v2/users/1/2'],
      ['POST', '/chat_rooms', { title: 'x' }],
      ['POST', '/chat_rooms/1/message', { message: 'x', type: 'text' }],
      ['GET', '/chat_rooms/message/unread'],
      ['POST', '/chat_rooms/1/message/read'],
      ['GET', '/chat_rooms'],
      ['GET', '/chat_rooms/1/users'],
    ]
    const anon = [apiOf(gwA, undefined), apiOf(gwB, undefined)]
    const garbage = [apiOf(gwA, 'not.a.token'), apiOf(gwB, 'not.a.token')]
    let i = 0
    for (const [method, path, body] of routes) {
      const json = body === undefined ? undefined : JSON.stringify(body)
      const headers = json === undefined ? undefined : { 'content-type': 'application/json' }
      const none = await anon[i % 2]!.raw(method, path, json, headers)
      t.equal(none.status, 401, `${method} ${path} without a token`)
      t.same(none.body, { error: 'unauthenticated', message: 'Login required' })
      const bad = await garbage[i++ % 2]!.raw(method, path, json, headers)
      t.equal(bad.status, 401, `${method} ${path} with a garbage token`)
      t.equal(bad.body.error, 'token_invalid')
    }
    const cookie = await user('cookie')
    const viaCookie = await fetch(`${gwB.httpUrl}/chats`, { headers: { cookie: `chat_session=${cookie.token}` } })
    t.equal(viaCookie.status, 200, 'the session cookie works too')
    t.same(await viaCookie.json(), [])
  })

  t.test('POST /chats sends; bad input is refused and changes nothing', async (t) => {
    const ann = await user('ann')
    const ben = await user('ben', gwB)
    const r = await ann.a.post('/chats', { receiver_id: ben.userId, message: 'hello ben', type: 'text' })
    t.equal(r.status, 201)
    t.same(Object.keys(r.body), ['chat_id'])
    const chatId: number = r.body.chat_id
    t.ok(Number.isSafeInteger(chatId) && chatId > 0)
    t.equal(await send(ben, ann, 'hello ann', ben.b), chatId, 'A→B and B→A are the same chat')
    t.equal(await send(ann, ben, 'again', ann.b), chatId, 'on either replica')
    const v2 = await ben.a.post('/chats_v2', { receiver_id: ann.userId, message: 'via v2', type: 'text' })
    t.same([v2.status, v2.body], [201, { chat_id: chatId }], 'POST /chats_v2 is the same')
    const stringId = await ann.b.post('/chats', { receiver_id: String(ben.userId), message: 'string id', type: 'text' })
    t.equal(stringId.status, 400, 'an id is a number, not a string of one')
    t.equal(stringId.body.error, 'bad_request')

    const kinds = await Promise.all([
      ann.a.post('/chats', { receiver_id: ben.userId, message: '{"latitude":52.5,"longitude":13.4}', type: 'location' }),
      ann.b.post('/chats', { receiver_id: ben.userId, message: '{"any":"thing"}', type: 'customize' }),
      ann.a.post('/chats', { receiver_id: ben.userId, message: 'smile-01', type: 'sticker' }),
      ann.b.post('/chats', { receiver_id: ben.userId, message: 'https://voice.example/1.ogg', type: 'audio' }),
    ])
    t.same(kinds.map((k) => k.status), [201, 201, 201, 201], 'location, customize, sticker and audio')
    const before = await ann.a.get(`/chats/${chatId}?count=100`)
    t.equal(before.status, 200)
    t.equal(before.body.length, 8)

    const bad: Array<[unknown, number, string]> = [
      [{ receiver_id: 987654321, message: 'x', type: 'text' }, 404, 'user_not_found'],
      [{ receiver_id: ann.userId, message: 'x', type: 'text' }, 400, 'self_target'],
      [{ receiver_id: ben.userId, message: 'x', type: 'file' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: 'x', type: 'video' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: 'x', type: 'TEXT' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: 'x' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, type: 'text' }, 400, 'bad_request'],
      [{ message: 'x', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: { $gt: '' }, message: 'x', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: { $gt: '' }, type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: 'x', type: { $ne: null } }, 400, 'bad_request'],
      [{ receiver_id: 'abc', message: 'x', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: 1.5, message: 'x', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: 0, message: 'x', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: -3, message: 'x', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: 2 ** 53, message: 'x', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: '', type: 'text' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: 'not a url', type: 'image' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: 'nowhere', type: 'location' }, 400, 'bad_request'],
      [{ receiver_id: ben.userId, message: 'x'.repeat(MAX_LEN + 1), type: 'text' }, 413, 'content_too_large'],
      [[1, 2], 400, 'bad_request'],
      ['just a string', 400, 'bad_request'],
    ]
    let i = 0
    for (const [body, status, error] of bad) {
      const r = await (i++ % 2 === 0 ? ann.a : ann.b).post('/chats', body)
      t.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} → ${status}`)
      t.equal(r.body.error, error)
      t.type(r.body.message, 'string')
    }
    const notJson = await ann.a.raw('POST', '/chats', '{"receiver_id": 1,', { 'content-type': 'application/json' })
    t.same([notJson.status, notJson.body.error], [400, 'bad_request'], 'invalid JSON')
    const huge = await ann.b.raw('POST', '/chats', JSON.stringify({ receiver_id: ben.userId, message: 'x'.repeat(1024 * 1024 + 10), type: 'text' }), { 'content-type': 'application/json' })
    t.same([huge.status, huge.body.error], [413, 'content_too_large'], 'a body over the 1 MiB limit')
    const exact = await ann.a.post('/chats', { receiver_id: ben.userId, message: 'y'.repeat(MAX_LEN), type: 'text' })
    t.equal(exact.status, 201, 'exactly the limit is fine')

    const after = await ben.b.get(`/chats/${chatId}?count=100`)
    t.same(after.body.slice(1), before.body.map((m: any) => ({ ...m, server_sent_timestamp: after.body[0].server_sent_timestamp })),
      'only the valid message was added')
    t.equal(after.body[0].message, 'y'.repeat(MAX_LEN))
    t.equal(after.body.length, 9)
  })

  t.test('GET /chats/:chat_id and /chats/:a/:b: newest first, 1-based offset, count 20 by default, at most 100', async (t) => {
    const cat = await user('cat')
    const dan = await user('dan', gwB)
    let chatId = 0
    for (let i = 1; i <= 25; i++) {
      const [from, to] = i % 3 === 0 ? [dan, cat] : [cat, dan]
      chatId = await send(from, to, `m${i}`, i % 2 === 0 ? from.a : from.b)
    }
    const names = (n: number[]) => n.map((i) => `m${i}`)
    const range = (hi: number, lo: number) => Array.from({ length: hi - lo + 1 }, (_, k) => hi - k)

    const first = await cat.a.get(`/chats/${chatId}`)
    t.equal(first.status, 200)
    t.same(contents(first), names(range(25, 6)), 'the 20 newest, newest first')
    t.same(contents(await dan.b.get(`/chats/${chatId}?offset=21`)), names(range(5, 1)), 'offset 21: the rest')
    t.same(contents(await cat.b.get(`/chats/${chatId}?offset=3&count=2`)), ['m23', 'm22'], 'offset 3, count 2')
    t.same(contents(await cat.a.get(`/chats/${chatId}?offset=1&count=1`)), ['m25'], 'offset 1 is the newest')
    t.same(contents(await cat.a.get(`/chats/${chatId}?count=100`)), names(range(25, 1)), 'count 100')
    t.same((await dan.a.get(`/chats/${chatId}?offset=26`)).body, [], 'past the end: empty')

    const m = first.body[0]
    t.same(Object.keys(m).sort(), ['chat_id', 'message', 'message_sender_id', 'message_sender_name', 'message_timestamp', 'message_type', 'server_sent_timestamp'])
    t.match(m, { chat_id: chatId, message: 'm25', message_sender_id: cat.userId, message_sender_name: cat.username, message_type: 'text' })
    t.match(first.body[1], { message: 'm24', message_sender_id: dan.userId, message_sender_name: dan.username })
    t.match(m.message_timestamp, ISO_MS)
    t.match(m.server_sent_timestamp, ISO_MS)
    t.ok(m.server_sent_timestamp >= m.message_timestamp, 'server_sent_timestamp is the response time')
    t.ok(first.body.every((x: any) => x.server_sent_timestamp === m.server_sent_timestamp), 'one response time')
    const times = first.body.map((x: any) => x.message_timestamp)
    t.same(times, [...times].sort().reverse(), 'timestamps descend')

    for (const [a, b] of [[cat.userId, dan.userId], [dan.userId, cat.userId]]) {
      const byPair = await cat.b.get(`/chats/${a}/${b}?offset=2&count=3`)
      t.equal(byPair.status, 200)
      t.same(contents(byPair), ['m24', 'm23', 'm22'], `by user ids ${a === cat.userId ? 'a/b' : 'b/a'}`)
    }
    t.same(contents(await dan.a.get(`/chats/${cat.userId}/${dan.userId}`)), names(range(25, 6)), 'the other side, defaults')

    const badQueries = ['count=101', 'count=0', 'count=-1', 'count=abc', 'count=1.5', 'offset=0', 'offset=-2', 'offset=x', 'count=1&count=2']
    for (const q of badQueries) {
      const r = await cat.a.get(`/chats/${chatId}?${q}`)
      t.same([r.status, r.body.error], [400, 'bad_request'], `?${q}`)
      const p = await cat.b.get(`/chats/${cat.userId}/${dan.userId}?${q}`)
      t.same([p.status, p.body.error], [400, 'bad_request'], `pair ?${q}`)
    }
    const injected = await cat.a.get(`/chats/${chatId}?count[$gt]=1&offset[$ne]=0`)
    t.same(contents(injected), names(range(25, 6)), 'unknown query parameters are ignored')
    for (const path of ['/chats/abc', '/chats/0', '/chats/1.5', '/chats/-1', '/chats/abc/1', `/chats/${cat.userId}/x`, '/chats/9007199254740992']) {
      const r = await cat.a.get(path)
      t.same([r.status, r.body.error], [400, 'bad_request'], `GET ${path}`)
    }

    const eve = await user('eve', gwB)
    const peek = await eve.a.get(`/chats/${chatId}`)
    t.same([peek.status, peek.body.error], [403, 'not_member'], 'a non-member cannot read the chat')
    const pair = await eve.b.get(`/chats/${cat.userId}/${dan.userId}`)
    t.same([pair.status, pair.body.error], [403, 'id_mismatch'], 'nor the chat of two others by user ids')
    const unknown = await cat.a.get('/chats/987654321')
    t.same([unknown.status, unknown.body.error], [404, 'conversation_not_found'])
    const never = await cat.b.get(`/chats/${eve.userId}/${cat.userId}`)
    t.same([never.status, never.body], [200, []], 'never chatted: an empty history')
    const ghost = await cat.a.get(`/chats/${cat.userId}/987654321`)
    t.same([ghost.status, ghost.body.error], [404, 'user_not_found'], 'an unknown peer')
    const self = await cat.a.get(`/chats/${cat.userId}/${cat.userId}`)
    t.same([self.status, self.body.error], [400, 'self_target'])
  })

  t.test('GET /chats/users/:a/:b answers the chat id, in either order', async (t) => {
    const fay = await user('fay')
    const gus = await user('gus', gwB)
    const hal = await user('hal')
    const chatId = await send(fay, gus, 'hi')
    for (const [path, who] of [[`/chats/users/${fay.userId}/${gus.userId}`, fay.a], [`/chats/users/${fay.userId}/${gus.userId}`, gus.b],
      [`/chats_v2/users/${gus.userId}/${fay.userId}`, fay.b]] as const) {
      const r = await who.get(path)
      t.same([r.status, r.body], [200, { chat_id: chatId }], path)
    }
    const never = await fay.a.get(`/chats/users/${fay.userId}/${hal.userId}`)
    t.same([never.status, never.body.error], [404, 'conversation_not_found'], 'never chatted: 404')
    const ghost = await fay.b.get(`/chats/users/987654321/${fay.userId}`)
    t.same([ghost.status, ghost.body.error], [404, 'user_not_found'], 'unknown user: 404')
    const others = await hal.a.get(`/chats/users/${fay.userId}/${gus.userId}`)
    t.same([others.status, others.body.error], [403, 'id_mismatch'], 'neither id is the caller: 403')
    const junk = await fay.a.get(`/chats/users/${fay.userId}/abc`)
    t.same([junk.status, junk.body.error], [400, 'bad_request'])
    t.same((await fay.a.get(`/chats/users/${fay.userId}/${hal.userId}`)).status, 404, 'the lookup created nothing')
    t.same((await hal.b.get('/chats')).body, [], 'nothing for hal either')
  })

  t.test('GET /chats and /chats/unread: newest last message first; POST /chats/read clears the count in every API', async (t) => {
    const ivy = await user('ivy')
    const jon = await user('jon', gwB)
    const kim = await user('kim')
    const leo = await user('leo', gwB)
    const withJon = await send(jon, ivy, 'from jon 1')
    await send(jon, ivy, 'from jon 2', jon.b)
    const withKim = await send(ivy, kim, 'to kim')
    const withLeo = await send(leo, ivy, 'from leo', leo.b)
    await sleep(5)

    const list = await ivy.b.get('/chats')
    t.equal(list.status, 200)
    t.same(list.body.map((c: any) => c.chat_id), [withLeo, withKim, withJon], 'newest last message first')
    const leoItem = list.body[0]
    t.same(Object.keys(leoItem).sort(), ['chat_id', 'last_message', 'last_message_sender_id', 'last_message_sender_name', 'last_message_timestamp',
      'last_message_type', 'server_sent_timestamp', 'unread_count', 'with_nick_name', 'with_user_id', 'with_user_name'])
    t.match(leoItem, {
      chat_id: withLeo,
      with_user_id: leo.userId,
      with_user_name: leo.username,
      with_nick_name: '',
      last_message: 'from leo',
      last_message_sender_id: leo.userId,
      last_message_sender_name: leo.username,
      last_message_type: 'text',
      unread_count: 1,
    })
    t.match(list.body[1], { chat_id: withKim, with_user_id: kim.userId, last_message: 'to kim', last_message_sender_id: ivy.userId, last_message_sender_name: ivy.username, unread_count: 0 })
    t.match(list.body[2], { chat_id: withJon, with_user_id: jon.userId, with_user_name: jon.username, last_message: 'from jon 2', unread_count: 2 })
    t.match(leoItem.last_message_timestamp, ISO_MS)
    t.match(leoItem.server_sent_timestamp, ISO_MS)
    t.ok(list.body[0].last_message_timestamp >= list.body[1].last_message_timestamp)
    t.same((await ivy.a.get('/chats_v2')).body.map((c: any) => c.chat_id), [withLeo, withKim, withJon], 'GET /chats_v2 is the same list')

    const unread = await ivy.a.get('/chats/unread')
    t.equal(unread.status, 200)
    t.same(unread.body.map((c: any) => [c.chat_id, c.unread_count]), [[withLeo, 1], [withJon, 2]], 'only chats with unread messages')
    t.same(Object.keys(unread.body[0]).sort(), ['chat_id', 'last_message', 'last_message_sender_id', 'last_message_sender_name', 'last_message_timestamp',
      'last_message_type', 'server_sent_timestamp', 'unread_count'])
    t.match(unread.body[1], { last_message: 'from jon 2', last_message_sender_id: jon.userId, last_message_sender_name: jon.username, last_message_type: 'text' })
    t.same((await ivy.b.get('/chats_v2/unread')).body.map((c: any) => c.chat_id), [withLeo, withJon], '/chats_v2/unread too')
    t.same((await typedUnread(ivy)).map((c) => [c.conversationId, c.count]).sort(), [[withJon, 2], [withLeo, 1]].sort(), 'the typed API counts the same')

    // A new message moves a chat to the top.
    await send(kim, ivy, 'kim answers')
    t.same((await ivy.b.get('/chats')).body.map((c: any) => c.chat_id), [withKim, withLeo, withJon])

    const read = await ivy.b.post('/chats/read', { chat_id: withJon })
    t.same([read.status, read.body], [201, {}])
    t.same((await ivy.a.get('/chats/unread')).body.map((c: any) => [c.chat_id, c.unread_count]), [[withKim, 1], [withLeo, 1]])
    t.notOk((await typedUnread(ivy)).some((c) => c.conversationId === withJon), 'read in the typed API too')
    t.equal((await ivy.client.next((f) => f.type === 'UNREAD_UPDATED' && f.payload.conversationId === withJon && f.payload.count === 0)).payload.count, 0,
      'the typed socket is told')
    t.same((await ivy.a.post('/chats/read', { chat_id: withJon })).status, 201, 'reading twice is fine')

    const badReads: Array<[unknown, number, string]> = [
      [{}, 400, 'bad_request'],
      [{ chat_id: 'abc' }, 400, 'bad_request'],
      [{ chat_id: { $gt: 0 } }, 400, 'bad_request'],
      [{ chat_id: 0 }, 400, 'bad_request'],
      [{ chat_id: 987654321 }, 404, 'conversation_not_found'],
      [{ chat_id: withKim }, 403, 'not_member'],
    ]
    for (const [body, status, error] of badReads) {
      const r = await jon.a.post('/chats/read', body)
      t.same([r.status, r.body.error], [status, error], `read ${JSON.stringify(body)}`)
    }
    t.same((await kim.b.get('/chats/unread')).body, [], "a stranger's read changed nothing of kim's")
    const v2read = await ivy.a.post('/chats_v2/read', { chat_id: withKim })
    t.same([v2read.status, v2read.body.error], [404, 'not_found'], 'there is no /chats_v2/read')
    t.same((await ivy.a.get('/chats/unread')).body.map((c: any) => c.chat_id), [withKim, withLeo], 'and it changed nothing')
  })

  t.test('DELETE /chats/:chat_id deletes the chat for both sides', async (t) => {
    const max = await user('max')
    const ned = await user('ned', gwB)
    const oli = await user('oli')
    const chatId = await send(max, ned, 'one')
    await send(ned, max, 'two', ned.b)
    await send(ned, max, 'three', ned.a)
    t.same((await max.a.get('/chats/unread')).body.map((c: any) => c.unread_count), [2])

    const forbidden = await oli.a.del(`/chats/${chatId}`)
    t.same([forbidden.status, forbidden.body.error], [403, 'not_member'], 'only a member may delete')
    const unknown = await max.b.del('/chats/987654321')
    t.same([unknown.status, unknown.body.error], [404, 'conversation_not_found'])
    const junk = await max.b.del('/chats/abc')
    t.same([junk.status, junk.body.error], [400, 'bad_request'])
    t.same(contents(await ned.a.get(`/chats/${chatId}`)), ['three', 'two', 'one'], 'refused deletes changed nothing')

    const del = await max.b.del(`/chats/${chatId}`)
    t.equal(del.status, 204)
    t.equal(del.text, '', 'no body')
    for (const u of [max, ned]) {
      const r = await u.a.get(`/chats/${chatId}`)
      t.same([r.status, r.body.error], [404, 'conversation_not_found'], 'gone for both')
      t.same((await u.b.get('/chats')).body, [], 'from the lists')
      t.same((await u.a.get(`/chats/${max.userId}/${ned.userId}`)).body, [], 'by user ids: an empty history')
    }
    t.same((await max.a.get('/chats/unread')).body, [], 'unread messages are not kept')
    t.same(await typedUnread(max), [])
    t.same((await ned.b.get(`/chats/users/${ned.userId}/${max.userId}`)).status, 404)
    const again = await ned.a.del(`/chats/${chatId}`)
    t.same([again.status, again.body.error], [404, 'conversation_not_found'], 'deleting twice: 404')

    const fresh = await send(ned, max, 'a new start')
    t.not(fresh, chatId, 'a later message starts a new chat')
    t.same(contents(await max.b.get(`/chats/${fresh}`)), ['a new start'])
    const v2 = await max.a.del(`/chats_v2/${fresh}`)
    t.equal(v2.status, 204, 'DELETE /chats_v2 works the same')
    t.same((await ned.b.get('/chats_v2')).body, [])
  })

  t.test('/chats_v2/:chat_id takes unread messages: 50, 50, 20 with unread_count 70, 20, 0', async (t) => {
    const pam = await user('pam')
    const quin = await user('quin', gwB)
    let chatId = 0
    for (let i = 1; i <= 3; i++) chatId = await send(quin, pam, `old${i}`, i % 2 === 0 ? quin.a : quin.b)
    // pam's own message reads everything before it; the 120 after it are what she has to take.
    await send(pam, quin, 'mine are never unread to me')
    for (let i = 1; i <= 120; i++) await send(quin, pam, `u${i}`, i % 2 === 0 ? quin.a : quin.b)
    t.same((await pam.b.get('/chats_v2/unread')).body.map((c: any) => [c.chat_id, c.unread_count]), [[chatId, 120]])

    const expectPage = async (api: Api, path: string, from: number, to: number, left: number) => {
      const r = await api.get(path)
      t.equal(r.status, 200)
      t.equal(r.headers.get('unread_count'), String(left), `unread_count ${left}`)
      t.same(contents(r), Array.from({ length: to - from + 1 }, (_, k) => `u${from + k}`), `u${from}…u${to}, oldest first`)
      return r
    }
    const p1 = await expectPage(pam.a, `/chats_v2/${chatId}`, 1, 50, 70)
    t.match(p1.body[0], { chat_id: chatId, message_sender_id: quin.userId, message_sender_name: quin.username, message_type: 'text' })
    t.match(p1.body[0].message_timestamp, ISO_MS)
    t.match(p1.body[0].server_sent_timestamp, ISO_MS)
    t.same((await typedUnread(pam)).map((c) => c.count), [70], 'the typed API sees the count drop')
    t.same((await pam.a.get('/chats/unread')).body.map((c: any) => c.unread_count), [70])
    await expectPage(pam.b, `/chats_v2/${pam.userId}/${quin.userId}`, 51, 100, 20)
    await expectPage(pam.a, `/chats_v2/${quin.userId}/${pam.userId}`, 101, 120, 0)
    await expectPage(pam.b, `/chats_v2/${chatId}`, 1, 0, 0)
    t.same((await pam.a.get('/chats/unread')).body, [], 'nothing unread afterwards')
    t.same((await pam.b.get('/chats_v2/unread')).body, [])
    t.same(await typedUnread(pam), [], 'nor in the typed API')
    t.equal((await pam.a.get('/chats')).body[0].unread_count, 0)
    t.same(contents(await pam.b.get(`/chats/${chatId}?count=3`)), ['u120', 'u119', 'u118'], 'history keeps what was taken')

    // What the sender sees is unaffected: their own messages are never unread to them.
    const quinTake = await quin.a.get(`/chats_v2/${chatId}`)
    t.same([quinTake.status, quinTake.body, quinTake.headers.get('unread_count')], [200, [], '0'])

    const rob = await user('rob', gwB)
    const peek = await rob.a.get(`/chats_v2/${chatId}`)
    t.same([peek.status, peek.body.error], [403, 'not_member'], 'a non-member cannot take')
    const pair = await rob.b.get(`/chats_v2/${pam.userId}/${quin.userId}`)
    t.same([pair.status, pair.body.error], [403, 'id_mismatch'])
    const never = await rob.a.get(`/chats_v2/${rob.userId}/${pam.userId}`)
    t.same([never.status, never.body, never.headers.get('unread_count')], [200, [], '0'], 'never chatted: empty, 0 unread')
    t.same((await rob.a.get(`/chats/users/${rob.userId}/${pam.userId}`)).status, 404, 'and nothing was created')
    for (const [path, status, error] of [['/chats_v2/987654321', 404, 'conversation_not_found'], [`/chats_v2/${rob.userId}/987654321`, 404, 'user_not_found'],
      ['/chats_v2/abc', 400, 'bad_request'], [`/chats_v2/${rob.userId}/${rob.userId}`, 400, 'self_target']] as const) {
      const r = await rob.b.get(path)
      t.same([r.status, r.body.error], [status, error], path)
    }
  })

  t.test('two devices taking at once through both replicas get every message exactly once', async (t) => {
    const sue = await user('sue')
    const tom = await user('tom', gwB)
    let chatId = 0
    for (let i = 1; i <= 120; i++) chatId = await send(tom, sue, `c${i}`, i % 2 === 0 ? tom.a : tom.b)
    const seen: string[] = []
    let rounds = 0
    for (;;) {
      rounds++
      const [x, y] = await Promise.all([sue.a.get(`/chats_v2/${chatId}`), sue.b.get(`/chats_v2/${chatId}`)])
      t.same([x.status, y.status], [200, 200], `round ${rounds}`)
      for (const r of [x, y]) {
        const got = contents(r)
        const nums = got.map((c) => Number(c.slice(1)))
        t.same(nums, [...nums].sort((p, q) => p - q), 'each page oldest first')
        seen.push(...got)
      }
      if (x.body.length === 0 && y.body.length === 0) break
      if (rounds > 10) break
    }
    t.ok(rounds <= 5, `drained in ${rounds} rounds`)
    t.equal(seen.length, 120, 'none twice')
    t.same([...seen].sort(), Array.from({ length: 120 }, (_, k) => `c${k + 1}`).sort(), 'every one')
    t.same(await typedUnread(sue), [], 'nothing left unread')
  })

  t.test('messages cross between this API and the typed WebSocket API', async (t) => {
    const uma = await user('uma', gwA)
    const vic = await user('vic', gwB)
    const chatId = await send(vic, uma, 'over http', vic.a)
    const live = await uma.client.next('MESSAGE_RECEIVED_OTHER')
    t.match(live.payload, { senderId: vic.userId, receiverId: uma.userId, content: 'over http', conversationId: chatId })
    t.match((await uma.client.next((f) => f.type === 'UNREAD_UPDATED' && f.payload.conversationId === chatId)).payload, { count: 1 })
    await vic.client.noFrame('MESSAGE_RECEIVED_OTHER', 200)

    const typed = await sendText(uma, vic, 'over the socket')
    t.equal(typed.type, 'MESSAGE_RECEIVED_SELF')
    t.equal(typed.payload.conversationId, chatId)
    const hist = await vic.b.get(`/chats/${chatId}`)
    t.same(contents(hist), ['over the socket', 'over http'])
    t.match(hist.body[0], { message_sender_id: uma.userId, message_sender_name: uma.username, message_timestamp: typed.payload.timestamp })
    t.same((await vic.a.get('/chats/unread')).body.map((c: any) => [c.chat_id, c.unread_count, c.last_message]), [[chatId, 1, 'over the socket']])
    t.same((await uma.b.get('/chats/unread')).body, [], 'sending over the socket read the chat for uma')

    const mark = await vic.client.request('MARK_READ', { messageId: typed.payload.id })
    t.equal(mark.payload.unread, 0)
    t.same((await vic.b.get('/chats/unread')).body, [], 'a typed MARK_READ clears it here')
    const taken = await vic.a.get(`/chats_v2/${chatId}`)
    t.same([taken.body, taken.headers.get('unread_count')], [[], '0'])
  })

  t.test('image and audio messages are web URLs, stored and delivered as sent; other schemes are refused', async (t) => {
    const ann = await user('ann', gwA)
    const ben = await user('ben', gwB)
    const chatId = await send(ann, ben, 'hi')
    await ben.client.next('MESSAGE_RECEIVED_OTHER')
    const sent: string[] = []
    let i = 0
    for (const url of WEB_MEDIA_URLS) {
      for (const type of ['image', 'audio']) {
        const via = i++ % 2 === 0 ? ann.a : ann.b
        const r = await via.post('/chats', { receiver_id: ben.userId, message: url, type })
        t.same([r.status, r.body], [201, { chat_id: chatId }], `${type} ${url}`)
        const live = await ben.client.next('MESSAGE_RECEIVED_OTHER')
        t.match(live.payload, { type, content: url }, 'the typed API on the other replica gets it unchanged')
        sent.unshift(url)
      }
    }
    for (const url of REFUSED_MEDIA_URLS) {
      for (const type of ['image', 'audio']) {
        const r = await ann.b.post('/chats', { receiver_id: ben.userId, message: url, type })
        t.same([r.status, r.body.error], [400, 'bad_request'], `${type} ${url} refused`)
        t.match(r.body.message, /URL/)
      }
    }
    const room = (await ann.a.post('/chat_rooms', { title: 'Pictures' })).body.chat_room_id as number
    const inRoom = await ann.b.post(`/chat_rooms/${room}/message`, { message: WEB_MEDIA_URLS[0], type: 'image' })
    t.equal(inRoom.status, 201, 'a room image')
    const badRoom = await ann.a.post(`/chat_rooms/${room}/message`, { message: 'javascript:alert(1)', type: 'image' })
    t.same([badRoom.status, badRoom.body.error], [400, 'bad_request'])

    const history = await ben.b.get(`/chats/${chatId}?count=100`)
    t.same(contents(history), [...sent, 'hi'], 'exactly the accepted messages, as sent')
    t.same(history.body.slice(0, 2).map((m: any) => m.message_type), ['audio', 'image'])
    const roomHistory = await ann.client.request('LOAD_ROOM_MESSAGES', { roomId: room })
    t.same(roomHistory.payload.map((m: any) => [m.content, m.type]), [[WEB_MEDIA_URLS[0], 'image']], 'the room image, as sent')
  })

  t.test('chat rooms: create, send (joining), participants, lists, unread, read', async (t) => {
    const wes = await user('wes')
    const xia = await user('xia', gwB)
    const yan = await user('yan')

    const created = await wes.a.post('/chat_rooms', { title: 'Lobby', geolocation: { latitude: 52.52, longitude: 13.405 } })
    t.equal(created.status, 201)
    t.same(Object.keys(created.body), ['chat_room_id'])
    const lobby: number = created.body.chat_room_id
    const plain = await wes.b.post('/chat_rooms', { title: 'Plain', capacity: 10 })
    t.equal(plain.status, 201)
    const plainId: number = plain.body.chat_room_id
    const nullGeo = await yan.a.post('/chat_rooms', { title: 'Null geo', geolocation: null })
    t.equal(nullGeo.status, 201, 'geolocation null means none')

    const list0 = await wes.a.get('/chat_rooms')
    t.equal(list0.status, 200)
    t.same(list0.body.map((r: any) => r.chat_room_id), [plainId, lobby], 'no messages yet: newest created first')
    const lobbyItem = list0.body[1]
    t.same(Object.keys(lobbyItem).sort(), ['chat_room_id', 'created_at', 'geolocation', 'last_message', 'last_message_sender_id', 'last_message_sender_name',
      'last_message_timestamp', 'last_message_type', 'server_sent_timestamp', 'title', 'unread_count', 'user_id'])
    t.same({ ...lobbyItem, created_at: 'x', server_sent_timestamp: 'y' }, {
      chat_room_id: lobby,
      title: 'Lobby',
      user_id: wes.userId,
      geolocation: { latitude: 52.52, longitude: 13.405 },
      last_message: null,
      last_message_sender_id: null,
      last_message_sender_name: null,
      last_message_type: null,
      last_message_timestamp: null,
      unread_count: 0,
      created_at: 'x',
      server_sent_timestamp: 'y',
    })
    t.match(lobbyItem.created_at, ISO_MS)
    t.equal(list0.body[0].geolocation, null, 'no geolocation: null')
    t.same((await xia.b.get('/chat_rooms')).body, [], 'xia takes part in none yet')

    const sent = await xia.b.post(`/chat_rooms/${lobby}/message`, { message: 'hi all', type: 'text' })
    t.same([sent.status, sent.body], [201, {}])
    t.same((await xia.a.get('/chat_rooms')).body.map((r: any) => r.chat_room_id), [lobby], 'sending made xia a participant')
    const members = await yan.b.get(`/chat_rooms/${lobby}/users`)
    t.equal(members.status, 200)
    t.same(members.body.map((m: any) => [m.chat_room_id, m.user_id]), [[lobby, wes.userId], [lobby, xia.userId]], 'in joining order')
    t.ok(members.body.every((m: any) => ISO_MS.test(m.created_at)), 'with when they joined')
    t.ok(members.body[0].created_at <= members.body[1].created_at)
    t.same(Object.keys(members.body[0]).sort(), ['chat_room_id', 'created_at', 'user_id'])
    t.equal((await xia.a.post(`/chat_rooms/${lobby}/message`, { message: 'me again', type: 'sticker' })).status, 201, 'joining is idempotent')
    t.equal((await wes.b.get(`/chat_rooms/${lobby}/users`)).body.length, 2)

    const list1 = await wes.b.get('/chat_rooms')
    t.same(list1.body.map((r: any) => r.chat_room_id), [lobby, plainId], 'a room with a message moves up')
    t.match(list1.body[0], { last_message: 'me again', last_message_sender_id: xia.userId, last_message_sender_name: xia.username, last_message_type: 'sticker', unread_count: 2 })
    t.match(list1.body[0].last_message_timestamp, ISO_MS)
    const unread = await wes.a.get('/chat_rooms/message/unread')
    t.same(unread.body.map((r: any) => [r.chat_room_id, r.unread_count]), [[lobby, 2]], 'only rooms with unread messages')
    t.same((await xia.b.get('/chat_rooms/message/unread')).body, [], 'own messages are not unread')
    t.same((await typedUnread(wes)).map((c) => [c.conversationId, c.count]), [[lobby, 2]], 'the typed API counts the same')
    t.same((await wes.a.get('/chats/unread')).body, [], 'rooms are not in the direct chat lists')
    t.same((await wes.a.get('/chats')).body, [])

    const read = await wes.b.raw('POST', `/chat_rooms/${lobby}/message/read`, '', { 'content-type': 'application/json' })
    t.same([read.status, read.body], [201, {}], 'a bodiless POST may say it is JSON')
    t.same((await wes.a.get('/chat_rooms/message/unread')).body, [])
    t.same(await typedUnread(wes), [])
    t.equal((await wes.b.get('/chat_rooms')).body[0].unread_count, 0)
    const noBody = await wes.a.raw('POST', `/chat_rooms/${lobby}/message/read`)
    t.same([noBody.status, noBody.body], [201, {}], 'or send nothing at all')
    const emptySend = await wes.a.raw('POST', `/chat_rooms/${lobby}/message`, '', { 'content-type': 'application/json' })
    t.same([emptySend.status, emptySend.body.error], [400, 'bad_request'], 'a route that needs a body still does')
    const proto = await wes.b.raw('POST', '/chat_rooms', '{"title": "p", "__proto__": {"x": 1}}', { 'content-type': 'application/json' })
    t.same([proto.status, proto.body.error], [400, 'bad_request'], 'prototype poisoning is refused')
    const del = await wes.b.del(`/chats/${lobby}`)
    t.same([del.status, del.body.error], [400, 'bad_request'], 'rooms are not deleted through /chats')
    t.same(contents(await xia.a.get(`/chats/${lobby}`)), ['me again', 'hi all'], "a member may read a room's messages by its id")
    const strangerRead = await yan.a.post(`/chat_rooms/${lobby}/message/read`)
    t.same([strangerRead.status, strangerRead.body.error], [403, 'not_member'], 'reading a room you are not in')
    for (const [path, status, error] of [['/chat_rooms/987654321/message/read', 404, 'conversation_not_found'], ['/chat_rooms/abc/message/read', 400, 'bad_request']] as const) {
      const r = await wes.a.post(path)
      t.same([r.status, r.body.error], [status, error], path)
    }
  })

  t.test('chat rooms: bad input, unknown rooms, capacity', async (t) => {
    const zed = await user('zed')
    const amy = await user('amy', gwB)
    const bob = await user('bob')
    const room = (await zed.a.post('/chat_rooms', { title: 'Pair', capacity: 2 })).body.chat_room_id as number
    t.ok(room > 0)

    const badCreates: unknown[] = [
      {}, { title: '' }, { title: { $gt: '' } }, { title: 'x'.repeat(129) }, { title: 'a\u0000b' }, { title: 'x', capacity: 0 }, { title: 'x', capacity: 'many' },
      { title: 'x', capacity: 1.5 }, { title: 'x', geolocation: { latitude: 100, longitude: 0 } }, { title: 'x', geolocation: 'here' },
      { title: 'x', geolocation: { latitude: 1 } }, [],
    ]
    for (const body of badCreates) {
      const r = await zed.b.post('/chat_rooms', body)
      t.same([r.status, r.body.error], [400, 'bad_request'], `create ${JSON.stringify(body)}`)
    }
    t.equal((await zed.a.get('/chat_rooms')).body.length, 1, 'no room was made by bad input')

    const badSends: Array<[unknown, number, string]> = [
      [{ message: 'x', type: 'customize' }, 400, 'bad_request'],
      [{ message: 'x', type: 'file' }, 400, 'bad_request'],
      [{ message: 'x' }, 400, 'bad_request'],
      [{ type: 'text' }, 400, 'bad_request'],
      [{ message: { $gt: '' }, type: 'text' }, 400, 'bad_request'],
      [{ message: '', type: 'text' }, 400, 'bad_request'],
      [{ message: 'x'.repeat(MAX_LEN + 1), type: 'text' }, 413, 'content_too_large'],
    ]
    for (const [body, status, error] of badSends) {
      const r = await amy.a.post(`/chat_rooms/${room}/message`, body)
      t.same([r.status, r.body.error], [status, error], `send ${JSON.stringify(body).slice(0, 60)}`)
    }
    t.same((await zed.b.get(`/chat_rooms/${room}/users`)).body.map((m: any) => m.user_id), [zed.userId], 'refused before joining: amy is not a participant')
    const textOnly = await amy.b.post(`/chat_rooms/${room}/message`, { message: 'x'.repeat(MAX_LEN + 1), type: 'text' })
    t.equal(textOnly.status, 413)

    for (const [path, status, error] of [['/chat_rooms/987654321/message', 404, 'conversation_not_found'], ['/chat_rooms/abc/message', 400, 'bad_request'],
      ['/chat_rooms/0/message', 400, 'bad_request']] as const) {
      const r = await amy.a.post(path, { message: 'x', type: 'text' })
      t.same([r.status, r.body.error], [status, error], path)
    }
    for (const [path, status, error] of [['/chat_rooms/987654321/users', 404, 'conversation_not_found'], ['/chat_rooms/x/users', 400, 'bad_request']] as const) {
      const r = await amy.b.get(path)
      t.same([r.status, r.body.error], [status, error], path)
    }
    // A direct chat id is not a room.
    const direct = await send(amy, bob, 'psst')
    const notRoom = await amy.a.post(`/chat_rooms/${direct}/message`, { message: 'x', type: 'text' })
    t.same([notRoom.status, notRoom.body.error], [404, 'conversation_not_found'], 'a direct chat is not a room')

    t.equal((await amy.b.post(`/chat_rooms/${room}/message`, { message: 'seat two', type: 'text' })).status, 201)
    const full = await bob.a.post(`/chat_rooms/${room}/message`, { message: 'seat three?', type: 'text' })
    t.equal(full.status, 403)
    t.equal(full.body.error, 'room_full')
    t.same((await zed.a.get(`/chat_rooms/${room}/users`)).body.map((m: any) => m.user_id), [zed.userId, amy.userId], 'bob did not get in')
    t.same((await bob.b.get('/chat_rooms')).body, [], 'nor is the room among his')
    const history = await zed.client.request('LOAD_ROOM_MESSAGES', { roomId: room })
    t.same(history.payload.map((m: any) => m.content), ['seat two'], 'and his message was not stored')
    t.equal((await amy.a.post(`/chat_rooms/${room}/message`, { message: 'still here', type: 'text' })).status, 201, 'participants still send')
  })

  t.test('room messages cross between this API and the typed WebSocket API', async (t) => {
    const cy = await user('cy', gwA)
    const di = await user('di', gwB)
    const roomId = (await cy.a.post('/chat_rooms', { title: 'Crossing' })).body.chat_room_id as number
    const join = await di.client.request('JOIN_ROOM', { roomId })
    t.equal(join.type, 'ROOM_JOINED')

    t.equal((await cy.b.post(`/chat_rooms/${roomId}/message`, { message: 'http to room', type: 'text' })).status, 201)
    const live = await di.client.next((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.roomId === roomId)
    t.match(live.payload, { senderId: cy.userId, content: 'http to room', conversationId: roomId })

    const typed = await di.client.request('SEND_ROOM_MESSAGE', { messageId: 'r1', senderId: di.userId, roomId, content: 'socket to room' })
    t.equal(typed.type, 'MESSAGE_RECEIVED_SELF')
    const list = await cy.a.get('/chat_rooms/message/unread')
    t.same(list.body.map((r: any) => [r.chat_room_id, r.unread_count, r.last_message, r.last_message_sender_name]), [[roomId, 1, 'socket to room', di.username]])
    t.same((await cy.b.get(`/chat_rooms/${roomId}/users`)).body.map((u: any) => u.user_id), [cy.userId, di.userId], 'a typed join makes a participant')
    const loaded = await cy.client.request('LOAD_ROOM_MESSAGES', { roomId })
    t.same(loaded.payload.map((m: any) => m.content), ['http to room', 'socket to room'])
    t.equal((await cy.a.post(`/chat_rooms/${roomId}/message/read`)).status, 201)
    t.same(await typedUnread(cy), [], 'read here, read there')
  })

  t.test('the README\'s first five minutes work as written, across replicas', async (t) => {
    const alice = { username: uniqueName('alice'), password: 'alice-secret', nickname: 'Alice' }
    const bob = { username: uniqueName('bob'), password: 'bob-secret', nickname: 'Bob' }
    // 1. Register (rooms API).
    for (const u of [alice, bob]) {
      const r = await http(`${gwA.httpUrl}/User`, { json: u })
      t.same([r.status, r.body], [201, { username: u.username, nickname: u.nickname }])
    }
    // 2. Log alice in: the session cookie.
    const login = await http(`${gwB.httpUrl}/Login`, { json: { username: alice.username, password: alice.password } })
    t.same(login.body, { status: true })
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c?.startsWith('chat_session='))
    t.ok(cookie, 'chat_session is set')
    // 3. Connect bob to the typed API and log in with a frame.
    const ws = await connectWs(gwA.wsUrl())
    t.teardown(() => ws.close())
    const bobLogin = await ws.request('LOGIN', { username: bob.username, password: bob.password })
    t.match(bobLogin, { type: 'LOGIN_SUCCESS', payload: { userId: Number, username: bob.username, token: String } })
    const bobId = bobLogin.payload.userId as number
    // 4. Alice sends through the chats API, with her cookie.
    const sent = await http(`${gwB.httpUrl}/chats`, { method: 'POST', json: { receiver_id: bobId, message: 'hi bob', type: 'text' }, headers: { cookie: cookie as string } })
    t.equal(sent.status, 201)
    const chatId = sent.body.chat_id as number
    // 5. Bob receives it live, with his unread count, and answers.
    const got = await ws.next('MESSAGE_RECEIVED_OTHER')
    t.match(got.payload, { receiverId: bobId, content: 'hi bob', type: 'text', status: 'sent', conversationId: chatId, seq: 1 })
    t.match((await ws.next('UNREAD_UPDATED')).payload, { conversationId: chatId, peerId: got.payload.senderId, count: 1 })
    ws.send({ type: 'SEND_MESSAGE', payload: { senderId: bobId, receiverId: got.payload.senderId, content: 'hi alice' } })
    t.match((await ws.next('MESSAGE_RECEIVED_SELF')).payload, { messageId: null, conversationId: chatId, seq: 2 })
    // 6. Alice reads the conversation, newest first.
    const read = await http(`${gwA.httpUrl}/chats/${chatId}`, { headers: { cookie: cookie as string } })
    t.same(read.body.map((m: any) => [m.message, m.message_sender_name]), [['hi alice', bob.username], ['hi bob', alice.username]])
  })

  t.test('the OpenAPI document describes every route', async (t) => {
    const doc = await http(`${gwB.httpUrl}/docs/json`)
    t.equal(doc.status, 200)
    const paths = doc.body.paths as Record<string, Record<string, any>>
    const expected: Array<[string, string, string, string]> = [
      ['/chats', 'post', 'chats', '201'],
      ['/chats', 'get', 'chats', '200'],
      ['/chats/unread', 'get', 'chats', '200'],
      ['/chats/{chat_id}', 'get', 'chats', '200'],
      ['/chats/{chat_id}', 'delete', 'chats', '204'],
      ['/chats/{user_a_id}/{user_b_id}', 'get', 'chats', '200'],
      ['/chats/read', 'post', 'chats', '201'],
      ['/chats/users/{user_a_id}/{user_b_id}', 'get', 'chats', '200'],
      ['/chats_v2', 'post', 'chats_v2', '201'],
      ['/chats_v2', 'get', 'chats_v2', '200'],
      ['/chats_v2/unread', 'get', 'chats_v2', '200'],
      ['/chats_v2/{chat_id}', 'get', 'chats_v2', '200'],
      ['/chats_v2/{chat_id}', 'delete', 'chats_v2', '204'],
      ['/chats_v2/{user_a_id}/{user_b_id}', 'get', 'chats_v2', '200'],
      ['/chats_v2/users/{user_a_id}/{user_b_id}', 'get', 'chats_v2', '200'],
      ['/chat_rooms', 'post', 'chat_rooms', '201'],
      ['/chat_rooms', 'get', 'chat_rooms', '200'],
      ['/chat_rooms/{chat_room_id}/message', 'post', 'chat_rooms', '201'],
      ['/chat_rooms/message/unread', 'get', 'chat_rooms', '200'],
      ['/chat_rooms/{chat_room_id}/message/read', 'post', 'chat_rooms', '201'],
      ['/chat_rooms/{chat_room_id}/users', 'get', 'chat_rooms', '200'],
    ]
    for (const [path, method, tag, status] of expected) {
      const op = paths[path]?.[method]
      t.ok(op, `${method.toUpperCase()} ${path} is described`)
      if (!op) continue
      t.same(op.tags, [tag], 'tagged')
      t.type(op.summary, 'string')
      t.same(op.security, [{ bearer: [] }, { cookie: [] }], 'needs a session')
      t.ok(op.responses[status], `documents ${status}`)
      t.ok(op.responses['401'], 'and 401')
    }
    t.notOk(paths['/chats_v2/read'], 'no /chats_v2/read')
    t.ok(paths['/chats_v2/{chat_id}']!.get.responses['200'].headers.unread_count, 'the unread_count header is described')
    t.match(paths['/chat_rooms']!.post.requestBody.content['application/json'].schema.required, ['title'])
    t.match(paths['/chats']!.post.requestBody.content['application/json'].schema.properties.type, { anyOf: Array })
  })
})
