// A connection's memory is bounded in bytes, it stops reading while its
// requests are handled, frames before login are small, dead peers are
// closed, and its push queue is ordered and bounded.
import t from 'tap'
import { Commands } from '@chat/contracts'
import { typedApi } from '../src/apis/typed/adapter.js'
import { ConnectionCaps } from '../src/connection-caps.js'
import { sessionOf, testConnection } from './fakes.js'

const slowly = (ms: number) => async () => { await new Promise((resolve) => setTimeout(resolve, ms)); return { conversations: [] } }

t.test('the socket is paused while its requests are handled, and resumed after', async (t) => {
  const { socket, idle } = await testConnection(typedApi, { reply: slowly(20) })
  socket.receive({ type: 'LOAD_UNREAD', id: 1 })
  t.equal(socket.paused, true, 'paused with a request in progress')
  await idle()
  t.equal(socket.paused, false, 'resumed once the queue is empty')
  t.same(socket.sent.map((f) => f.type), ['UNREAD_LOADED'])
})

t.test('a socket closed while paused reads again, so the close handshake completes', async (t) => {
  const { socket, connection, idle } = await testConnection(typedApi, { reply: slowly(20) })
  socket.receive({ type: 'LOAD_UNREAD', id: 1 })
  t.equal(socket.paused, true)
  connection.close(1008, 'policy')
  t.equal(socket.paused, false, 'resumed at once')
  await idle()
})

t.test('queued input is capped in bytes, not frames', async (t) => {
  const { socket, idle } = await testConnection(typedApi, { reply: slowly(20), limits: { maxQueuedBytes: 10_000 } })
  const padding = 'x'.repeat(3000)
  // A client ignoring TCP back-pressure (frames already buffered when the socket was paused).
  for (let i = 0; i < 5; i++) socket.receive({ type: 'LOAD_UNREAD', id: i, payload: { padding } })
  t.same(socket.closes, [1008], 'closed once the waiting frames pass the byte cap')
  await idle()

  const ok = await testConnection(typedApi, { reply: slowly(5), limits: { maxQueuedBytes: 100_000 } })
  for (let i = 0; i < 5; i++) ok.socket.receive({ type: 'LOAD_UNREAD', id: i, payload: { padding } })
  await ok.idle()
  t.same(ok.socket.closes, [], 'under the cap nothing is refused')
  t.same(ok.socket.sent.map((f) => f.id), [0, 1, 2, 3, 4], 'answered in order')
})

t.test('frames before login are small; after login the full size is allowed', async (t) => {
  const anonymous = await testConnection(typedApi, { session: null, limits: { maxLoginFrameBytes: 1024, maxFrameBytes: 1 << 20 } })
  anonymous.socket.receive({ type: 'LOGIN', payload: { username: 'a', password: 'x'.repeat(2000) } })
  t.same(anonymous.socket.closes, [1009])

  const user = await testConnection(typedApi, {
    reply: () => ({ message: { id: 1, conversationId: 9, seq: 1, senderId: 1, kind: 'text', content: 'x', createdAt: '' }, duplicate: false }),
    limits: { maxLoginFrameBytes: 1024, maxFrameBytes: 1 << 20 },
  })
  const frames = await user.run({ type: 'SEND_MESSAGE', payload: { senderId: 1, receiverId: 2, content: 'x'.repeat(5000) } })
  t.same(user.socket.closes, [])
  t.equal(frames[0]?.type, 'MESSAGE_RECEIVED_SELF')
})

t.test('a peer that does not answer pings is closed', async (t) => {
  const { socket, connection } = await testConnection(typedApi, { limits: { pingIntervalMs: 20 } })
  const pings: number[] = []
  socket.ping = () => { pings.push(Date.now()) }
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(pings.length >= 1, 'pinged')
  t.same(socket.closes, [1006], 'terminated after a ping went unanswered')
  t.equal(connection.actor?.userId, 1, 'its session is known to the close hook')

  // Slower pings here: the request must arrive before two go unanswered,
  // also on a loaded machine; it then keeps the socket paused for five.
  const busy = await testConnection(typedApi, { reply: slowly(500), limits: { pingIntervalMs: 100 } })
  busy.socket.ping = () => {}
  busy.socket.receive({ type: 'LOAD_UNREAD', id: 1 })
  await busy.idle()
  t.same(busy.socket.closes, [], 'not while its own requests keep the socket paused (its pongs wait unread)')
  t.same(busy.socket.sent.map((f) => f.type), ['UNREAD_LOADED'])
  busy.socket.close(1000)

  const live = await testConnection(typedApi, { limits: { pingIntervalMs: 20 } })
  live.socket.ping = () => { setImmediate(() => live.socket.emit('pong')) }
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(live.socket.closes, [], 'a peer that answers stays')
  live.socket.close(1000)
})

t.test('pushes are ordered, and a client that cannot keep up is closed', async (t) => {
  const { connection, socket, idle } = await testConnection(typedApi, { limits: { maxPendingPushes: 3 } })
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  connection.push(async () => { await gate; connection.send({ type: 'A' }) })
  connection.push([{ type: 'B' }])
  connection.push([{ type: 'C' }])
  t.same(socket.sent, [], 'B and C wait behind A')
  connection.push([{ type: 'D' }])
  t.same(socket.closes, [1008], 'the fourth pending push closes the socket')
  release()
  await idle()
})

t.test('logged-in sockets per user and connections per address are capped', async (t) => {
  const caps = new ConnectionCaps({ perAddress: 2, perUser: 1 })
  t.ok(caps.admitAddress('1.2.3.4'))
  t.ok(caps.admitAddress('1.2.3.4'))
  t.notOk(caps.admitAddress('1.2.3.4'), 'third from one address')
  t.ok(caps.admitAddress('5.6.7.8'), 'another address')
  caps.releaseAddress('1.2.3.4')
  t.ok(caps.admitAddress('1.2.3.4'), 'a place given back')

  const reply = () => sessionOf(1)
  const a = await testConnection(typedApi, { session: null, reply })
  const b = await testConnection(typedApi, { session: null, reply })
  // Share one set of caps, as the sockets of one replica do.
  const shared = new ConnectionCaps({ perAddress: 10, perUser: 1 })
  Object.assign(a.connection, { caps: shared })
  Object.assign(b.connection, { caps: shared })
  t.equal((await a.run({ type: 'LOGIN', id: 1, payload: { username: 'u', password: 'p' } }))[0]?.type, 'LOGIN_SUCCESS')
  const refused = await b.run({ type: 'LOGIN', id: 2, payload: { username: 'u', password: 'p' } })
  t.match(refused, [{ type: 'LOGIN_FAILURE', payload: { code: 'CHAT_RATE_LIMITED' } }], 'a second socket of the same user')
  a.socket.close(1000)
  t.equal((await b.run({ type: 'LOGIN', id: 3, payload: { username: 'u', password: 'p' } }))[0]?.type, 'LOGIN_SUCCESS', 'after the first closed')
  t.equal(b.calls.filter((c) => c.subject === Commands.auth.login).length, 2)
})

t.test('sends overlap, one conversation\'s in order, answers in request order; other requests wait', async (t) => {
  const started: string[] = []
  let running = 0
  let most = 0
  const { socket, idle } = await testConnection(typedApi, {
    reply: async (subject, req) => {
      started.push(`${subject.split('.').slice(-2).join('.')} ${req.content ?? ''}`)
      running++
      most = Math.max(most, running)
      // Later sends finish sooner: answers must still keep request order.
      await new Promise((resolve) => setTimeout(resolve, req.content === 'a1' ? 60 : 10))
      running--
      if (subject.endsWith('message.send')) return { message: { id: started.length, conversationId: 9, seq: 1, senderId: 1, kind: 'text', content: req.content, createdAt: '' }, duplicate: false }
      return { conversations: [] }
    },
  })
  socket.receive({ type: 'SEND_MESSAGE', id: 1, payload: { senderId: 1, receiverId: 2, content: 'a1' } })
  socket.receive({ type: 'SEND_MESSAGE', id: 2, payload: { senderId: 1, receiverId: 3, content: 'b1' } })
  socket.receive({ type: 'SEND_MESSAGE', id: 3, payload: { senderId: 1, receiverId: 2, content: 'a2' } })
  socket.receive({ type: 'LOAD_UNREAD', id: 4 })
  socket.receive({ type: 'SEND_MESSAGE', id: 5, payload: { senderId: 1, receiverId: 3, content: 'b2' } })
  await idle()
  await new Promise((resolve) => setTimeout(resolve, 100))
  await idle()
  t.equal(most, 2, 'two sends to different users were in progress at once')
  t.same(started, ['message.send a1', 'message.send b1', 'message.send a2', 'message.unread ', 'message.send b2'],
    'a2 waited for a1; LOAD_UNREAD waited for every send before it, and b2 for LOAD_UNREAD')
  t.same(socket.sent.map((f) => f.id), [1, 2, 3, 4, 5], 'answered in request order')
})
