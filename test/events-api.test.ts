// Conformance of the `events` API (document 000 as API.md settles it) on
// the real system with two gateway replicas: every request with success and
// failure, every push, answers in request order, authorization, bad input,
// and delivery both ways with the `typed` API.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import WebSocket from 'ws'
import { startSystem } from './helpers/system.js'
import { connectWs } from './helpers/ws.js'
import { registerUser, sleep, uniqueName } from './helpers/typed.js'
import { WEB_MEDIA_URLS } from './helpers/media.js'

// ------------------------------------------------------------ events client

interface EvFrame { event: string, data?: any }

/**
 * A client of the `events` API. Answers (OK/FAIL) carry no request id, so
 * they are consumed strictly in arrival order; pushes (NOTIFY_*) are
 * buffered apart and consumed by matching.
 */
interface EventsClient {
  send: (event: string, data?: unknown) => void
  sendRaw: (data: string | Buffer) => void
  /** The next answer, in order. */
  answer: (timeoutMs?: number) => Promise<EvFrame>
  /** send + answer. */
  request: (event: string, data?: unknown, timeoutMs?: number) => Promise<EvFrame>
  /** The next push matching (consumed). */
  push: (match: string | ((f: EvFrame) => boolean), timeoutMs?: number) => Promise<EvFrame>
  /** Fails if a matching push arrives within ms (looks at pushes not yet consumed, too). */
  noPush: (match: string | ((f: EvFrame) => boolean), ms?: number) => Promise<void>
  /** Fails if any answer arrives within ms. */
  noAnswer: (ms?: number) => Promise<void>
  /** Forgets the pushes received so far. */
  drain: () => void
  /** Every frame received, in order. */
  log: EvFrame[]
  closed: Promise<{ code: number, reason: string }>
  close: () => Promise<unknown>
}

const isAnswer = (f: EvFrame) => f.event === 'OK' || f.event === 'FAIL'

async function connectEvents (url: string): Promise<EventsClient> {
  const ws = new WebSocket(url)
  const log: EvFrame[] = []
  const answers: EvFrame[] = []
  const pushes: EvFrame[] = []
  const wake = new Set<() => void>()
  const closed = new Promise<{ code: number, reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      for (const w of wake) w()
    })
  })
  ws.on('message', (data) => {
    let f: EvFrame
    try { f = JSON.parse(data.toString()) } catch { f = { event: '__unparsable__', data: data.toString() } }
    log.push(f)
    ;(isAnswer(f) ? answers : pushes).push(f)
    for (const w of wake) w()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode })))
    ws.once('error', reject)
  })
  ws.on('error', () => {})

  const waitFor = async <T>(take: () => T | undefined, what: string, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const got = take()
      if (got !== undefined) return got
      if (ws.readyState === ws.CLOSED) throw new Error(`${what}: socket closed; last frames ${JSON.stringify(log.slice(-5))}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${what}: timeout; last frames ${JSON.stringify(log.slice(-5))}`)
      await new Promise<void>((resolve) => {
        const done = () => { clearTimeout(timer); wake.delete(done); resolve() }
        const timer = setTimeout(done, left)
        wake.add(done)
      })
    }
  }
  const toTest = (m: string | ((f: EvFrame) => boolean)) => typeof m === 'string' ? (f: EvFrame) => f.event === m : m
  const client: EventsClient = {
    log,
    closed,
    send: (event, data) => ws.send(JSON.stringify(data === undefined ? { event } : { event, data })),
    sendRaw: (data) => ws.send(data),
    answer: (timeoutMs = 5000) => waitFor(() => answers.shift(), 'waiting for an answer', timeoutMs),
    request: async (event, data, timeoutMs) => {
      client.send(event, data)
      return await client.answer(timeoutMs)
    },
    push: (match, timeoutMs = 5000) => {
      const test = toTest(match)
      return waitFor(() => {
        const i = pushes.findIndex(test)
        return i >= 0 ? pushes.splice(i, 1)[0] : undefined
      }, `waiting for push ${typeof match === 'string' ? match : '(predicate)'}`, timeoutMs)
    },
    noPush: async (match, ms = 500) => {
      await sleep(ms)
      const hit = pushes.find(toTest(match))
      if (hit) throw new Error(`unexpected push ${JSON.stringify(hit)}`)
    },
    noAnswer: async (ms = 500) => {
      await sleep(ms)
      if (answers.length > 0) throw new Error(`unexpected answer ${JSON.stringify(answers[0])}`)
    },
    drain: () => { pushes.length = 0 },
    close: async () => {
      if (ws.readyState !== ws.CLOSED) ws.close()
      return await closed
    },
  }
  return client
}

interface EventsUser { c: EventsClient, name: string, password: string, token: string }

/** An e-mail-like username unique to this run. */
const mailName = (prefix: string) => `${prefix}.${randomBytes(4).toString('hex')}@example.test`

/** LOGON then LOGIN on a fresh /ws/events socket. */
async function eventsUser (wsUrl: string, prefix = 'user'): Promise<EventsUser> {
  const c = await connectEvents(wsUrl)
  const name = mailName(prefix)
  const password = `pw-${randomBytes(4).toString('hex')}`
  const logon = await c.request('LOGON', { user: name, password })
  if (logon.event !== 'OK') throw new Error(`LOGON failed: ${JSON.stringify(logon)}`)
  const login = await c.request('LOGIN', { user: name, password })
  if (login.event !== 'OK') throw new Error(`LOGIN failed: ${JSON.stringify(login)}`)
  return { c, name, password, token: login.data.token }
}

/** Another socket of the same user. */
async function again (wsUrl: string, u: EventsUser): Promise<EventsClient> {
  const c = await connectEvents(wsUrl)
  const r = await c.request('LOGIN', { user: u.name, password: u.password })
  if (r.event !== 'OK') throw new Error(`LOGIN failed: ${JSON.stringify(r)}`)
  return c
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const DECIMAL = /^[1-9]\d*$/
const unreadFrom = (name: string, n?: number) => (f: EvFrame) =>
  f.event === 'NOTIFY_UPDATE_UNREAD' && f.data?.unread_msg_count?.[name] !== undefined && (n === undefined || f.data.unread_msg_count[name] === n)

// ------------------------------------------------------------------- suite

t.test('events API', async (t) => {
  const sys = await startSystem(t, {
    gateways: 2,
    env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000', MESSAGE_MAX_LENGTH: '200', WS_MAX_FRAME_BYTES: '65536' },
  })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const ev = (gw: typeof a) => gw.wsUrl('/ws/events')

  t.test('LOGON registers without logging in; LOGIN answers a token', async (t) => {
    const c = await connectEvents(ev(a))
    t.teardown(() => c.close())
    const name = mailName('ann')

    t.same(await c.request('LIST_CONTACTS_UNREAD'), { event: 'FAIL', data: { msg: 'Login required' } }, 'nothing before login')
    t.equal((await c.request('CHAT_SEND_MSG', { user: name, content: 'x', time: '2017-03-22T16:36:45.272345' })).event, 'FAIL')
    t.same(await c.request('LOGON', { user: name, password: '123456' }), { event: 'OK', data: {} })
    t.same(await c.request('LIST_CONTACTS_UNREAD', {}), { event: 'FAIL', data: { msg: 'Login required' } }, 'LOGON does not log in')
    t.same(await c.request('LOGON', { user: name, password: 'other' }), { event: 'FAIL', data: { msg: 'Already exists' } })
    t.same(await c.request('LOGON', { user: name.toUpperCase(), password: 'other' }), { event: 'FAIL', data: { msg: 'Already exists' } }, 'any case')
    t.equal((await c.request('LOGON', { user: '', password: 'x' })).event, 'FAIL')
    t.equal((await c.request('LOGON', { user: name })).event, 'FAIL', 'no password')

    t.same(await c.request('LOGIN', { user: name, password: 'wrong' }), { event: 'FAIL', data: { msg: 'Wrong username or password' } })
    t.same(await c.request('LOGIN', { user: mailName('nobody'), password: 'x' }), { event: 'FAIL', data: { msg: 'Wrong username or password' } })
    const login = await c.request('LOGIN', { user: name, password: '123456' })
    t.equal(login.event, 'OK')
    t.same(Object.keys(login.data), ['token'])
    t.match(login.data.token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT')
    t.same(await c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: {} } }, 'data may be omitted')

    // The token is the same kind every API uses: at the upgrade, and in the typed API.
    const byToken = await connectEvents(`${ev(b)}?token=${encodeURIComponent(login.data.token)}`)
    t.teardown(() => byToken.close())
    t.same(await byToken.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: {} } }, 'logged in at the upgrade')
    const typed = await connectWs(a.wsUrl())
    t.teardown(() => typed.close())
    const typedLogin = await typed.request('LOGIN_BY_TOKEN', { token: login.data.token })
    t.equal(typedLogin.type, 'LOGIN_SUCCESS')
    t.equal(typedLogin.payload.username, name)
  })

  t.test('contacts: CREATE_CONTACT and DELETE_CONTACT, then NOTIFY_UPDATE_CONTACT on every socket', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const ann2 = await again(ev(b), ann)
    const ben = await eventsUser(ev(b), 'ben')
    const cid = await eventsUser(ev(a), 'cid')
    t.teardown(() => Promise.all([ann.c.close(), ann2.close(), ben.c.close(), cid.c.close()]))

    const before = ann.c.log.length
    t.same(await ann.c.request('CREATE_CONTACT', { user: ben.name }), { event: 'OK', data: {} })
    const notified = await ann.c.push('NOTIFY_UPDATE_CONTACT')
    t.same(notified.data, { contacts: { [ben.name]: 0 } })
    const okAt = ann.c.log.findIndex((f, i) => i >= before && f.event === 'OK')
    t.ok(ann.c.log.slice(okAt + 1).some((f) => f.event === 'NOTIFY_UPDATE_CONTACT'), 'the push follows the OK')
    t.same((await ann2.push('NOTIFY_UPDATE_CONTACT')).data, { contacts: { [ben.name]: 0 } }, 'the user\'s socket on the other replica too')
    await ann.c.noPush('NOTIFY_UPDATE_CONTACT', 300)

    t.same(await ann.c.request('CREATE_CONTACT', { user: ben.name.toUpperCase() }), { event: 'FAIL', data: { msg: 'Already exists' } })
    t.same(await ann.c.request('CREATE_CONTACT', { user: mailName('ghost') }), { event: 'FAIL', data: { msg: 'No such user' } })
    t.equal((await ann.c.request('CREATE_CONTACT', { user: ann.name })).event, 'FAIL', 'not oneself')
    t.same(await ann.c.request('CREATE_CONTACT', { user: cid.name }), { event: 'OK', data: {} })
    t.same((await ann.c.push('NOTIFY_UPDATE_CONTACT')).data, { contacts: { [ben.name]: 0, [cid.name]: 0 } })
    t.same(await ann.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ben.name]: 0, [cid.name]: 0 } } })
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: {} } }, 'contacts are one-directional')
    await ben.c.noPush('NOTIFY_UPDATE_CONTACT', 100)

    // Unread counts ride along.
    await ben.c.request('CHAT_SEND_MSG', { user: ann.name, content: 'one', time: '2017-03-22T16:36:45.272345' })
    await ben.c.request('CHAT_SEND_MSG', { user: ann.name, content: 'two', time: '2017-03-22T16:36:46.272345' })
    await ann.c.push(unreadFrom(ben.name, 2))
    t.same(await ann.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ben.name]: 2, [cid.name]: 0 } } })

    t.same(await ann.c.request('DELETE_CONTACT', { user: cid.name }), { event: 'OK', data: {} })
    t.same((await ann.c.push('NOTIFY_UPDATE_CONTACT')).data, { contacts: { [ben.name]: 2 } })
    t.equal((await ann.c.request('DELETE_CONTACT', { user: cid.name })).event, 'FAIL', 'not a contact any more')
    t.same(await ann.c.request('DELETE_CONTACT', { user: mailName('ghost') }), { event: 'FAIL', data: { msg: 'No such user' } })
    t.same(await ann.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ben.name]: 2 } } }, 'failures changed nothing')
    t.same((await ann2.push((f) => f.event === 'NOTIFY_UPDATE_CONTACT' && Object.keys(f.data.contacts).length === 1)).data, { contacts: { [ben.name]: 2 } })

    // A change made through the typed API is pushed here too.
    const typed = await connectWs(b.wsUrl())
    t.teardown(() => typed.close())
    const session = await typed.request('LOGIN', { username: ann.name, password: ann.password })
    const cidTyped = await connectWs(a.wsUrl())
    t.teardown(() => cidTyped.close())
    const cidId = (await cidTyped.request('LOGIN', { username: cid.name, password: cid.password })).payload.userId
    t.equal((await typed.request('ADD_CONTACT', { userId: session.payload.userId, targetId: cidId })).type, 'CONTACT_ADDED')
    t.same((await ann.c.push('NOTIFY_UPDATE_CONTACT')).data, { contacts: { [ben.name]: 2, [cid.name]: 0 } })
  })

  t.test('CHAT_SEND_MSG, NOTIFY_NEW_MSG, NOTIFY_UPDATE_UNREAD and CHAT_RECEIVE_MSG across replicas', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const ann2 = await again(ev(b), ann)
    const ben = await eventsUser(ev(b), 'ben')
    const ben2 = await again(ev(a), ben)
    t.teardown(() => Promise.all([ann.c.close(), ann2.close(), ben.c.close(), ben2.close()]))

    const sent = await ann.c.request('CHAT_SEND_MSG', { content: '《金刚狼吧》', time: '2017-03-22T16:36:45.272345', user: ben.name })
    t.equal(sent.event, 'OK')
    t.same(Object.keys(sent.data), ['id'])
    t.match(sent.data.id, DECIMAL, 'the id is a decimal string')
    t.ok(Number.isSafeInteger(Number(sent.data.id)))

    for (const c of [ben.c, ben2]) {
      const got = await c.push('NOTIFY_NEW_MSG')
      t.same(Object.keys(got.data.msg).sort(), ['content', 'from_email', 'id', 'time'])
      t.match(got.data.msg, { id: sent.data.id, content: '《金刚狼吧》', from_email: ann.name })
      t.match(got.data.msg.time, ISO_MS, 'the server\'s time')
      t.same((await c.push(unreadFrom(ann.name))).data, { unread_msg_count: { [ann.name]: 1 } })
    }
    await Promise.all([
      ann.c.noPush('NOTIFY_NEW_MSG', 400),
      ann2.noPush('NOTIFY_NEW_MSG', 400),
      ben.c.noPush('NOTIFY_NEW_MSG', 400),
    ])
    t.pass('the sender\'s sockets see nothing; each recipient socket once')

    const second = await ann.c.request('CHAT_SEND_MSG', { content: 'second', time: 'whenever', user: ben.name.toUpperCase() })
    t.ok(BigInt(second.data.id) > BigInt(sent.data.id), 'ids grow')
    await ben.c.push((f) => f.event === 'NOTIFY_NEW_MSG' && f.data.msg.id === second.data.id)
    await ben.c.push(unreadFrom(ann.name, 2))
    await ben.c.request('CREATE_CONTACT', { user: ann.name })
    t.same((await ben.c.push('NOTIFY_UPDATE_CONTACT')).data, { contacts: { [ann.name]: 2 } })

    // CHAT_RECEIVE_MSG is never answered: the next answer is the next request's.
    ben.c.send('CHAT_RECEIVE_MSG', { id: sent.data.id })
    await ben.c.noAnswer(300)
    t.same((await ben.c.push(unreadFrom(ann.name, 1))).data, { unread_msg_count: { [ann.name]: 1 } })
    await ben2.push(unreadFrom(ann.name, 1))
    ben.c.send('CHAT_RECEIVE_MSG', { id: Number(second.data.id) })
    ben.c.send('CHAT_RECEIVE_MSG', { id: '424242' })
    ben.c.send('CHAT_RECEIVE_MSG', { content: 'the document\'s own example shape' })
    ben.c.send('CHAT_RECEIVE_MSG')
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ann.name]: 0 } } }, 'receipts read; bad ones are silent')
    await ben.c.push(unreadFrom(ann.name, 0))

    t.same(await ann.c.request('CHAT_SEND_MSG', { content: 'x', user: mailName('ghost') }), { event: 'FAIL', data: { msg: 'No such user' } })
    t.equal((await ann.c.request('CHAT_SEND_MSG', { content: 'x', user: ann.name })).event, 'FAIL', 'not to oneself')
    t.equal((await ann.c.request('CHAT_SEND_MSG', { content: '', user: ben.name })).event, 'FAIL', 'empty')
    t.equal((await ann.c.request('CHAT_SEND_MSG', { content: 'x'.repeat(201), user: ben.name })).event, 'FAIL', 'too long')
    t.equal((await ann.c.request('CHAT_SEND_MSG', { content: 'x', user: ben.name, time: 17 })).event, 'FAIL', 'mistyped time')
    const untimed = await ann.c.request('CHAT_SEND_MSG', { content: 'no time given', user: ben.name })
    t.equal(untimed.event, 'OK', 'time is optional')
    t.match(untimed.data.id, DECIMAL)
    await ben.c.push((f) => f.event === 'NOTIFY_NEW_MSG' && f.data.msg.content === 'no time given')
    await ben.c.noPush((f) => f.event === 'NOTIFY_NEW_MSG' && f.data.msg.content !== 'no time given', 300)
  })

  t.test('CHAT_WITH marks the chat read, and keeps the current chat\'s messages read', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const ben = await eventsUser(ev(b), 'ben')
    const ben2 = await again(ev(a), ben)
    const cid = await eventsUser(ev(b), 'cid')
    t.teardown(() => Promise.all([ann.c.close(), ben.c.close(), ben2.close(), cid.c.close()]))
    await ben.c.request('CREATE_CONTACT', { user: ann.name })
    await ben.c.request('CREATE_CONTACT', { user: cid.name })

    t.same(await ben.c.request('CHAT_WITH', { user: ann.name }), { event: 'OK', data: {} }, 'never talked: still OK')
    t.same(await ben.c.request('CHAT_WITH', { user: mailName('ghost') }), { event: 'FAIL', data: { msg: 'No such user' } })
    t.equal((await ben.c.request('CHAT_WITH', { user: ben.name })).event, 'FAIL', 'not oneself')

    // In another chat, ann's messages stay unread.
    await ben.c.request('CHAT_WITH', { user: cid.name })
    await ann.c.request('CHAT_SEND_MSG', { content: 'earlier', user: ben.name })
    await ben.c.push(unreadFrom(ann.name, 1))
    await ben.c.push('NOTIFY_NEW_MSG')
    // ben2 is in no chat: it sees the count go up, and back down below.
    await ben2.push(unreadFrom(ann.name, 1))
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ann.name]: 1, [cid.name]: 0 } } })
    t.same(await ben.c.request('CHAT_WITH', { user: ann.name }), { event: 'OK', data: {} })
    await ben.c.push(unreadFrom(ann.name, 0))
    await ben2.push(unreadFrom(ann.name, 0))

    const now = await ann.c.request('CHAT_SEND_MSG', { content: 'while you look', user: ben.name })
    const got = await ben.c.push('NOTIFY_NEW_MSG')
    t.equal(got.data.msg.id, now.data.id)
    // Already read when it arrives: ask another API, right away.
    const typed = await connectWs(b.wsUrl())
    t.teardown(() => typed.close())
    t.equal((await typed.request('LOGIN', { username: ben.name, password: ben.password })).type, 'LOGIN_SUCCESS')
    t.same((await typed.request('LOAD_UNREAD', {})).payload.conversations, [], 'read before it was pushed')
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ann.name]: 0, [cid.name]: 0 } } })
    await ben.c.noPush(unreadFrom(ann.name, 1), 400)
    t.pass('the chat socket never shows a count for the current chat')
    await ben2.push((f) => f.event === 'NOTIFY_NEW_MSG' && f.data.msg.id === now.data.id)
    await ben2.push(unreadFrom(ann.name, 1))
    await ben2.push(unreadFrom(ann.name, 0))

    // Someone else's messages are not read by being in another chat.
    await cid.c.request('CHAT_SEND_MSG', { content: 'psst', user: ben.name })
    await ben.c.push((f) => f.event === 'NOTIFY_NEW_MSG' && f.data.msg.from_email === cid.name)
    await ben.c.push(unreadFrom(cid.name, 1))
    // Switching away: the old chat's new messages stay unread.
    await ben.c.request('CHAT_WITH', { user: cid.name })
    await ben.c.push(unreadFrom(cid.name, 0))
    await ann.c.request('CHAT_SEND_MSG', { content: 'are you there?', user: ben.name })
    await ben.c.push(unreadFrom(ann.name, 1))
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ann.name]: 1, [cid.name]: 0 } } })
  })

  t.test('CHAT_HISTORY pages from the newest, oldest first within a page', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const ben = await eventsUser(ev(b), 'ben')
    t.teardown(() => Promise.all([ann.c.close(), ben.c.close()]))
    const ids: string[] = []
    const senders: string[] = []
    for (let i = 1; i <= 7; i++) {
      const from = i % 3 === 0 ? ben : ann
      const to = from === ann ? ben : ann
      ids.push((await from.c.request('CHAT_SEND_MSG', { content: `m${i}`, time: '2017-03-22T16:32:26.272345', user: to.name })).data.id)
      senders.push(from.name)
    }
    const expect = (from: number, to: number) => ids.slice(from, to).map((id, i) => ({ content: `m${from + i + 1}`, user: senders[from + i], id }))

    const p1 = await ann.c.request('CHAT_HISTORY', { user: ben.name, page: 1, pagesize: 3 })
    t.equal(p1.event, 'OK')
    t.equal(p1.data.current_page, 1)
    t.match(p1.data.chat_history, expect(4, 7))
    t.same(Object.keys(p1.data.chat_history[0]).sort(), ['content', 'id', 'time', 'user'])
    t.ok(p1.data.chat_history.every((m: any) => ISO_MS.test(m.time)))
    t.match((await ann.c.request('CHAT_HISTORY', { user: ben.name, page: 2, pagesize: 3 })).data, { chat_history: expect(1, 4), current_page: 2 })
    t.same((await ben.c.request('CHAT_HISTORY', { user: ann.name, page: 3, pagesize: 3 })).data.chat_history.map((m: any) => m.id), ids.slice(0, 1), 'the same for the other side')
    t.same((await ann.c.request('CHAT_HISTORY', { user: ben.name, page: 4, pagesize: 3 })).data, { chat_history: [], current_page: 4 }, 'past the end')
    t.same((await ann.c.request('CHAT_HISTORY', { user: ben.name })).data.chat_history.map((m: any) => m.id), ids, 'defaults: page 1 of 20')
    t.same((await ann.c.request('CHAT_HISTORY', { user: ben.name, page: '1', pagesize: 3 })).event, 'FAIL', 'page is a number')
    t.equal((await ann.c.request('CHAT_HISTORY', { user: ben.name, page: 0, pagesize: 3 })).event, 'FAIL')
    t.equal((await ann.c.request('CHAT_HISTORY', { user: ben.name, page: 1, pagesize: 0 })).event, 'FAIL')
    t.same(await ann.c.request('CHAT_HISTORY', { user: mailName('ghost'), page: 1, pagesize: 3 }), { event: 'FAIL', data: { msg: 'No such user' } })
    const cid = await eventsUser(ev(a), 'cid')
    t.teardown(() => cid.c.close())
    t.same(await cid.c.request('CHAT_HISTORY', { user: ann.name, page: 1, pagesize: 3 }), { event: 'OK', data: { chat_history: [], current_page: 1 } }, 'never talked')
  })

  t.test('CHAT_DELETE: the sender deletes for both sides; nobody else can', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const ben = await eventsUser(ev(b), 'ben')
    const eve = await eventsUser(ev(a), 'eve')
    t.teardown(() => Promise.all([ann.c.close(), ben.c.close(), eve.c.close()]))
    const keep = (await ann.c.request('CHAT_SEND_MSG', { content: 'keep', user: ben.name })).data.id
    const drop = (await ann.c.request('CHAT_SEND_MSG', { content: 'drop', user: ben.name })).data.id
    await ben.c.push(unreadFrom(ann.name, 2))
    const history = async (u: EventsUser, peer: string) => (await u.c.request('CHAT_HISTORY', { user: peer, page: 1, pagesize: 10 })).data.chat_history.map((m: any) => m.id)

    t.equal((await ben.c.request('CHAT_DELETE', { id: drop })).event, 'FAIL', 'the recipient cannot')
    t.equal((await eve.c.request('CHAT_DELETE', { id: drop })).event, 'FAIL', 'an outsider cannot')
    t.same(await history(ann, ben.name), [keep, drop], 'nothing changed')
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: {} } })
    t.same(await ann.c.request('CHAT_DELETE', { id: drop }), { event: 'OK', data: {} })
    await ben.c.push(unreadFrom(ann.name, 1))
    t.same(await history(ann, ben.name), [keep])
    t.same(await history(ben, ann.name), [keep], 'gone for both sides')
    t.same(await ann.c.request('CHAT_DELETE', { id: drop }), { event: 'FAIL', data: { msg: 'No such message' } }, 'already gone')
    t.same(await ann.c.request('CHAT_DELETE', { id: Number(keep) }), { event: 'OK', data: {} }, 'a number works as the id too')
    t.same(await history(ben, ann.name), [])
    t.equal((await ann.c.request('CHAT_DELETE', { id: '58d2384deba27c5fb1e7600e' })).event, 'FAIL', 'not an id of ours')
  })

  t.test('authorization: nobody acts as someone else', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const ben = await eventsUser(ev(b), 'ben')
    const eve = await eventsUser(ev(a), 'eve')
    t.teardown(() => Promise.all([ann.c.close(), ben.c.close(), eve.c.close()]))
    const id = (await ann.c.request('CHAT_SEND_MSG', { content: 'private', user: ben.name })).data.id
    await ben.c.push(unreadFrom(ann.name, 1))

    // eve names ann and ben, but only ever reads and writes eve's own conversations.
    t.same((await eve.c.request('CHAT_HISTORY', { user: ben.name })).data.chat_history, [], 'ann and ben\'s conversation is not eve\'s')
    t.same((await eve.c.request('CHAT_HISTORY', { user: ann.name })).data.chat_history, [])
    eve.c.send('CHAT_RECEIVE_MSG', { id })
    t.equal((await eve.c.request('CHAT_DELETE', { id })).event, 'FAIL')
    await eve.c.request('CHAT_WITH', { user: ann.name })
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: {} } })
    await ben.c.request('CREATE_CONTACT', { user: ann.name })
    t.same(await ben.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: { [ann.name]: 1 } } }, 'still unread for ben')
    t.same((await ann.c.request('CHAT_HISTORY', { user: ben.name })).data.chat_history.map((m: any) => m.id), [id], 'still there')
    t.same(await eve.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: {} } })
    await eve.c.noPush('NOTIFY_NEW_MSG', 200)
  })

  t.test('answers come in request order; only NOTIFY_* in between', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const ben = await eventsUser(ev(b), 'ben')
    t.teardown(() => Promise.all([ann.c.close(), ben.c.close()]))
    const start = ann.c.log.length
    // ben keeps talking to ann meanwhile, so pushes interleave with the answers.
    const chatter = (async () => {
      for (let i = 0; i < 10; i++) await ben.c.request('CHAT_SEND_MSG', { content: `ben ${i}`, user: ann.name })
    })()

    const expected: Array<{ event: 'OK' | 'FAIL', check?: (d: any) => boolean }> = []
    const req = (event: string, data: unknown, answer: 'OK' | 'FAIL' | null, check?: (d: any) => boolean) => {
      ann.c.send(event, data)
      if (answer) expected.push({ event: answer, check })
    }
    let n = 0
    for (let round = 0; round < 3; round++) {
      req('CHAT_SEND_MSG', { content: `ann ${n++}`, user: ben.name }, 'OK', (d) => DECIMAL.test(d.id))
      req('LIST_CONTACTS_UNREAD', {}, 'OK', (d) => typeof d.contacts === 'object')
      req('CHAT_SEND_MSG', { content: 'x', user: mailName('ghost') }, 'FAIL', (d) => d.msg === 'No such user')
      ann.c.sendRaw('{"event": "LOGIN", "data": ')
      expected.push({ event: 'FAIL' })
      req('CHAT_RECEIVE_MSG', { id: '1' }, null)
      req('EXPLODE', {}, 'FAIL')
      req('CHAT_HISTORY', { user: ben.name, page: 1, pagesize: 2 }, 'OK', (d) => Array.isArray(d.chat_history) && d.current_page === 1)
      req('CHAT_SEND_MSG', { content: `ann ${n++}`, user: ben.name }, 'OK', (d) => DECIMAL.test(d.id))
      req('CHAT_WITH', { user: ben.name }, 'OK')
      req('CHAT_DELETE', { id: '424242' }, 'FAIL')
      req(round === 0 ? 'CREATE_CONTACT' : 'DELETE_CONTACT', { user: ben.name }, round === 2 ? 'FAIL' : 'OK')
    }
    t.ok(expected.length >= 30, `${expected.length} answers expected`)
    const answers: EvFrame[] = []
    for (let i = 0; i < expected.length; i++) answers.push(await ann.c.answer(10_000))
    await chatter
    t.same(answers.map((f) => f.event), expected.map((e) => e.event), 'OK/FAIL in request order')
    expected.forEach((e, i) => { if (e.check) t.ok(e.check(answers[i]!.data), `answer ${i} has the documented data: ${JSON.stringify(answers[i])}`) })
    await ann.c.noAnswer(300)
    const between = ann.c.log.slice(start).filter((f) => !isAnswer(f))
    t.ok(between.length > 0, `${between.length} pushes came in between`)
    t.ok(between.every((f) => f.event.startsWith('NOTIFY_')), 'every other frame is a NOTIFY_*')
    const sends = answers.filter((f, i) => expected[i]!.check !== undefined && f.data.id !== undefined).map((f) => f.data.id)
    const stored = (await ann.c.request('CHAT_HISTORY', { user: ben.name, page: 1, pagesize: 50 })).data.chat_history
      .filter((m: any) => m.user === ann.name).map((m: any) => m.id)
    t.same(stored, sends, 'stored in the order sent')
  })

  t.test('bad input answers FAIL {msg} and the socket stays open', async (t) => {
    const u = await eventsUser(ev(a), 'ann')
    t.teardown(() => u.c.close())
    const failWith = async (raw: string | Buffer, msg?: RegExp | string) => {
      u.c.sendRaw(raw)
      const f = await u.c.answer()
      t.equal(f.event, 'FAIL', `FAIL for ${String(raw).slice(0, 60)}`)
      t.equal(typeof f.data?.msg, 'string')
      if (msg !== undefined) t.match(f.data.msg, msg)
    }
    await failWith('{"event": "LOGIN", "data": ', 'frame is not valid JSON')
    await failWith(Buffer.from([1, 2, 3]))
    await failWith('[1,2,3]')
    await failWith('"LIST_CONTACTS_UNREAD"')
    await failWith(JSON.stringify({ data: {} }), /event/)
    await failWith(JSON.stringify({ event: 'EXPLODE' }), /EXPLODE/)
    await failWith(JSON.stringify({ event: 'OK', data: {} }), /OK/)
    await failWith(JSON.stringify({ event: 'NOTIFY_NEW_MSG', data: {} }))
    await failWith(JSON.stringify({ event: 'CREATE_CONTACT', data: {} }), /user/)
    await failWith(JSON.stringify({ event: 'CREATE_CONTACT', data: { user: 5 } }), /user/)
    await failWith(JSON.stringify({ event: 'CREATE_CONTACT', data: { user: { $ne: null } } }), /user/)
    await failWith(JSON.stringify({ event: 'LOGIN', data: { user: { $gt: '' }, password: { $gt: '' } } }))
    await failWith(JSON.stringify({ event: 'CHAT_SEND_MSG', data: { user: u.name, content: { $where: '1' } } }), /content/)
    await failWith(JSON.stringify({ event: 'CHAT_DELETE', data: { id: { $gt: 0 } } }), /id/)
    await failWith(JSON.stringify({ event: 'CHAT_DELETE', data: { id: 2 ** 60 } }))
    await failWith(JSON.stringify({ event: 'CHAT_DELETE', data: { id: -1 } }))
    await failWith(JSON.stringify({ event: 'CHAT_DELETE', data: 'abc' }))
    await failWith(JSON.stringify({ event: 'CHAT_HISTORY', data: { user: u.name, page: 1.5 } }))
    // A malformed receipt is not answered either.
    u.c.sendRaw(JSON.stringify({ event: 'CHAT_RECEIVE_MSG', data: { id: { $ne: null } } }))
    await u.c.noAnswer(300)
    t.same(await u.c.request('LIST_CONTACTS_UNREAD'), { event: 'OK', data: { contacts: {} } }, 'still usable')

    const big = await connectEvents(ev(b))
    big.send('LOGIN', { user: 'x'.repeat(70_000), password: 'y' })
    t.equal((await big.closed).code, 1009, 'an oversized frame closes with 1009')
  })

  t.test('with the typed API, both ways: delivery, history and the same unread counts', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([ann.c.close(), bob.client.close()]))
    const annTyped = await connectWs(a.wsUrl())
    t.teardown(() => annTyped.close())
    const annId = (await annTyped.request('LOGIN', { username: ann.name, password: ann.password })).payload.userId as number

    // events → typed
    const sent = await ann.c.request('CHAT_SEND_MSG', { content: 'hi from events', time: '2017-03-22T16:36:45.272345', user: bob.username })
    const got = await bob.client.next('MESSAGE_RECEIVED_OTHER')
    t.match(got.payload, { id: Number(sent.data.id), senderId: annId, receiverId: bob.userId, content: 'hi from events', type: 'text' })
    const bobUnread = await bob.client.next('UNREAD_UPDATED')
    t.equal(bobUnread.payload.count, 1)
    const annSent = await annTyped.next('MESSAGE_SENT')
    t.equal(annSent.payload.id, Number(sent.data.id), 'the typed API shows the sender\'s other socket what was sent')

    // typed → events
    const reply = await bob.client.request('SEND_MESSAGE', { messageId: 'm1', senderId: bob.userId, receiverId: annId, content: 'hi from typed' })
    const second = await bob.client.request('SEND_MESSAGE', { messageId: 'm2', senderId: bob.userId, receiverId: annId, content: 'again' })
    const pushed = await ann.c.push('NOTIFY_NEW_MSG')
    t.same(pushed.data, { msg: { id: String(reply.payload.id), content: 'hi from typed', time: reply.payload.timestamp, from_email: bob.username } })
    await ann.c.push((f) => f.event === 'NOTIFY_NEW_MSG' && f.data.msg.id === String(second.payload.id))
    await ann.c.push(unreadFrom(bob.username, 2))
    ann.c.drain()
    t.same([(await annTyped.next('UNREAD_UPDATED')).payload, (await annTyped.next('UNREAD_UPDATED')).payload], [
      { conversationId: reply.payload.conversationId, peerId: bob.userId, count: 1 },
      { conversationId: reply.payload.conversationId, peerId: bob.userId, count: 2 },
    ], 'the typed socket saw the same counts')

    // The same counts in both APIs.
    await ann.c.request('CREATE_CONTACT', { user: bob.username })
    t.same((await ann.c.request('LIST_CONTACTS_UNREAD')).data, { contacts: { [bob.username]: 2 } })
    t.same((await annTyped.request('LOAD_UNREAD', {})).payload.conversations, [{ conversationId: reply.payload.conversationId, peerId: bob.userId, count: 2 }])
    // Reading through one API lowers the count in the other.
    ann.c.send('CHAT_RECEIVE_MSG', { id: String(reply.payload.id) })
    t.equal((await annTyped.next('UNREAD_UPDATED')).payload.count, 1)
    await ann.c.push(unreadFrom(bob.username, 1))
    t.equal((await annTyped.request('MARK_READ', { messageId: second.payload.id })).payload.unread, 0)
    await ann.c.push(unreadFrom(bob.username, 0))
    t.same((await ann.c.request('LIST_CONTACTS_UNREAD')).data, { contacts: { [bob.username]: 0 } })
    t.same((await bob.client.request('LOAD_UNREAD', {})).payload.conversations, [], 'bob read the conversation by sending')
    const more = await ann.c.request('CHAT_SEND_MSG', { content: 'one more', user: bob.username })
    await bob.client.next((f) => f.type === 'UNREAD_UPDATED' && f.payload.count === 1)
    t.same((await bob.client.request('LOAD_UNREAD', {})).payload.conversations, [{ conversationId: reply.payload.conversationId, peerId: annId, count: 1 }])
    const typedBobView = await connectEvents(ev(a))
    t.teardown(() => typedBobView.close())
    // bob logs into the events API with the same account.
    t.equal((await typedBobView.request('LOGIN', { user: bob.username, password: bob.password })).event, 'OK')
    await typedBobView.request('CREATE_CONTACT', { user: ann.name })
    t.same((await typedBobView.request('LIST_CONTACTS_UNREAD')).data, { contacts: { [ann.name]: 1 } }, 'bob\'s count is the same in the events API')

    // One history, seen by both.
    const evHistory = (await ann.c.request('CHAT_HISTORY', { user: bob.username, page: 1, pagesize: 10 })).data.chat_history
    const typedHistory = await annTyped.request('LOAD_MESSAGES', { userId: annId, targetId: bob.userId })
    t.same(evHistory.map((m: any) => m.id), typedHistory.payload.map((m: any) => String(m.id)))
    t.same(evHistory.map((m: any) => m.user), [ann.name, bob.username, bob.username, ann.name])
    t.equal(evHistory[3].id, more.data.id)
    t.same(evHistory.map((m: any) => m.time), typedHistory.payload.map((m: any) => m.timestamp))

    // A room message sent through the typed API is not shown on the events socket.
    const room = await bob.client.request('CREATE_ROOM', { name: uniqueName('room') })
    await annTyped.request('JOIN_ROOM', { roomId: room.payload.room.id })
    await bob.client.request('SEND_ROOM_MESSAGE', { senderId: bob.userId, roomId: room.payload.room.id, content: 'room talk' })
    ann.c.drain()
    await annTyped.next((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.content === 'room talk')
    await ann.c.noPush((f) => f.event === 'NOTIFY_NEW_MSG' || f.event === 'NOTIFY_UPDATE_UNREAD', 400)
    t.pass('rooms have no frame in this API')
  })

  t.test('image, file and audio messages sent as web URLs elsewhere arrive with the URL unchanged', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const annTyped = await connectWs(a.wsUrl())
    t.teardown(() => Promise.all([ann.c.close(), bob.client.close(), annTyped.close()]))
    const annId = (await annTyped.request('LOGIN', { username: ann.name, password: ann.password })).payload.userId as number
    const sent: Array<[string, string]> = []
    for (const [i, type] of (['image', 'file', 'audio'] as const).entries()) {
      const url = WEB_MEDIA_URLS[i % WEB_MEDIA_URLS.length] as string
      const r = await bob.client.request('SEND_MESSAGE', { messageId: `w${i}`, senderId: bob.userId, receiverId: annId, content: url, type })
      t.equal(r.type, 'MESSAGE_RECEIVED_SELF', type)
      const pushed = await ann.c.push((f) => f.event === 'NOTIFY_NEW_MSG' && f.data.msg.id === String(r.payload.id))
      t.equal(pushed.data.msg.content, url, `${type}: NOTIFY_NEW_MSG carries the URL as sent, on the other replica`)
      sent.push([String(r.payload.id), url])
    }
    const history = (await ann.c.request('CHAT_HISTORY', { user: bob.username })).data.chat_history
    t.same(history.map((m: any) => [m.id, m.content]), sent, 'and CHAT_HISTORY')
  })

  t.test('a revoked session closes the events socket with 4001', async (t) => {
    const ann = await eventsUser(ev(a), 'ann')
    const typed = await connectWs(b.wsUrl())
    t.teardown(() => typed.close())
    const login = await typed.request('LOGIN_BY_TOKEN', { token: ann.token })
    t.equal((await typed.request('LOGOUT', { userId: login.payload.userId })).type, 'LOGOUT_SUCCESS')
    t.equal((await ann.c.closed).code, 4001)
    t.same(ann.c.log.filter((f) => !f.event.startsWith('NOTIFY_') && !isAnswer(f)), [], 'no frame of another kind before closing')
  })
})
