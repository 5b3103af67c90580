// WebSocket exhaustion limits against the real system with two gateway
// replicas: small frames before login, connections per address and per user
// capped per replica, and dead peers closed by ping/pong so they stop
// counting as online.
import t from 'tap'
import WebSocket from 'ws'
import { startSystem } from './helpers/system.js'
import { connectWs } from './helpers/ws.js'
import { registerUser, loginAgain, sleep, upgradeStatus } from './helpers/typed.js'

t.test('WebSocket limits', async (t) => {
  const sys = await startSystem(t, {
    gateways: 2,
    env: {
      WS_MAX_LOGIN_FRAME_BYTES: '4096',
      WS_MAX_CONNECTIONS_PER_ADDRESS: '8',
      WS_MAX_CONNECTIONS_PER_USER: '2',
      WS_PING_INTERVAL_MS: '500',
    },
  })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]

  await t.test('a frame before login is small; after login the full size is allowed', async (t) => {
    const anonymous = await connectWs(a.wsUrl())
    anonymous.send({ type: 'LOGIN', payload: { username: 'x', password: 'p'.repeat(8000) } })
    t.equal((await anonymous.closed).code, 1009, 'closed with 1009')

    const ann = await registerUser(a.wsUrl(), 'ann')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([ann.client.close(), bob.client.close()]))
    // 3500 characters (within MESSAGE_MAX_LENGTH), 7000 bytes: over the login limit.
    const big = 'é'.repeat(3500)
    const sent = await ann.client.request('SEND_MESSAGE', { messageId: 1, senderId: ann.userId, receiverId: bob.userId, content: big })
    t.equal(sent.type, 'MESSAGE_RECEIVED_SELF', 'a 7 kB frame once logged in')
    const got = await bob.client.next('MESSAGE_RECEIVED_OTHER')
    t.equal(got.payload.content, big, 'delivered across replicas')
  })

  await t.test('connections per address are capped per replica', async (t) => {
    const open: Array<Awaited<ReturnType<typeof connectWs>>> = []
    t.teardown(() => Promise.all(open.map(async (c) => await c.close())))
    for (let i = 0; i < 8; i++) open.push(await connectWs(a.wsUrl()))
    t.equal(await upgradeStatus(a.wsUrl()), 429, 'the ninth from one address is refused before the upgrade')
    t.equal(await upgradeStatus(b.wsUrl('/ws/flat')), 101, 'the other replica has its own count')
    await open.pop()!.close()
    await sleep(100)
    open.push(await connectWs(a.wsUrl('/ws/events')))
    t.pass('a closed connection gives its place back')
    await Promise.all(open.splice(0).map(async (c) => await c.close()))
    await sleep(100)
    t.equal(await upgradeStatus(a.wsUrl()), 101)
  })

  await t.test('logged-in sockets per user are capped per replica', async (t) => {
    const carl = await registerUser(a.wsUrl(), 'carl')
    const second = await loginAgain(a.wsUrl(), carl)
    const third = await connectWs(a.wsUrl())
    t.teardown(() => Promise.all([carl.client, second, third].map(async (c) => await c.close())))
    const refused = await third.request('LOGIN_BY_TOKEN', { token: carl.token })
    t.match(refused, { type: 'LOGIN_FAILURE', payload: { code: 'CHAT_RATE_LIMITED' } }, 'a third socket of one user on one replica')
    const elsewhere = await loginAgain(b.wsUrl(), carl)
    t.teardown(() => elsewhere.close())
    t.pass('the other replica accepts it')
    await second.close()
    await sleep(100)
    const retry = await third.request('LOGIN_BY_TOKEN', { token: carl.token })
    t.equal(retry.type, 'LOGIN_SUCCESS', 'once another socket of theirs closed')
  })

  await t.test('a peer that stops answering pings is closed and goes offline', async (t) => {
    const dana = await registerUser(b.wsUrl(), 'dana')
    const eve = await registerUser(a.wsUrl(), 'eve')
    await dana.client.request('ADD_CONTACT', { userId: dana.userId, targetId: eve.userId })

    // Eve's second device vanishes without closing: it never answers a ping.
    const ghost = new WebSocket(a.wsUrl(), { autoPong: false })
    await new Promise((resolve, reject) => { ghost.once('open', resolve); ghost.once('error', reject) })
    const loggedIn = new Promise((resolve) => ghost.once('message', resolve))
    ghost.send(JSON.stringify({ type: 'LOGIN_BY_TOKEN', id: 1, payload: { token: eve.token } }))
    await loggedIn
    // Eve's own socket closes properly; the ghost keeps her online until it is found dead.
    await eve.client.close()
    const closed = new Promise<number>((resolve) => ghost.once('close', (code) => resolve(code)))
    const offline = await dana.client.next((f) => f.type === 'PRESENCE_CHANGED' && f.payload.userId === eve.userId && f.payload.online === false, 10_000)
    t.ok(offline, 'the contact sees it go offline')
    t.equal(await closed, 1006, 'the server dropped the dead peer')
    await dana.client.close()
  })
})
