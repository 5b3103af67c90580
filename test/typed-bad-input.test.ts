// Bad input on the `typed` API: a clear failure, nothing changed, and the
// connection stays usable; oversized frames close with 1009.
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { connectWs } from './helpers/ws.js'
import { registerUser } from './helpers/typed.js'

t.test('bad input', async (t) => {
  const sys = await startSystem(t, { gateways: 1, env: { WS_MAX_FRAME_BYTES: '65536', WS_RATE_LIMIT_PER_SEC: '5', WS_RATE_LIMIT_BURST: '30', WS_AUTH_TIMEOUT_MS: '1500' } })
  const gw = sys.gateways[0]!

  t.test('malformed frames get ERROR or the request\'s failure, and the socket stays open', async (t) => {
    const u = await registerUser(gw.wsUrl())
    t.teardown(() => u.client.close())
    const c = u.client
    c.sendRaw('{"type": "LOGIN", "payload": ')
    t.match(await c.next('ERROR'), { payload: { code: 'CHAT_BAD_REQUEST', error: 'frame is not valid JSON' } })
    c.sendRaw(Buffer.from([1, 2, 3]))
    t.match(await c.next('ERROR'), { payload: { code: 'CHAT_BAD_REQUEST' } }, 'binary frames')
    c.send({ type: 'EXPLODE', id: 'x1', payload: {} })
    t.match(await c.next((f) => f.id === 'x1'), { type: 'ERROR', payload: { code: 'CHAT_UNKNOWN_TYPE' } })
    c.send({ payload: {}, id: 'x2' })
    t.match(await c.next((f) => f.id === 'x2'), { type: 'ERROR', payload: { code: 'CHAT_BAD_REQUEST' } }, 'no type')
    c.sendRaw('[1,2,3]')
    t.match(await c.next('ERROR'), { payload: { code: 'CHAT_BAD_REQUEST' } }, 'not an object')
    c.sendRaw('"just a string"')
    t.match(await c.next('ERROR'), { payload: { code: 'CHAT_BAD_REQUEST' } })
    const missing = await c.request('ADD_CONTACT', { userId: u.userId })
    t.match(missing, { type: 'CONTACT_ADDED_FAILED', payload: { code: 'CHAT_BAD_REQUEST' } }, 'missing field')
    t.match(missing.payload.error, /targetId/, 'the error names the field')
    const wrongType = await c.request('LOAD_MESSAGES', { userId: String(u.userId), targetId: 5 })
    t.match(wrongType, { type: 'MESSAGES_LOAD_FAILURE', payload: { code: 'CHAT_BAD_REQUEST' } })
    const injected = await c.request('LOAD_MESSAGES', { userId: u.userId, targetId: { $ne: null } })
    t.match(injected, { type: 'MESSAGES_LOAD_FAILURE', payload: { code: 'CHAT_BAD_REQUEST' } })
    const hugeId = await c.request('MARK_READ', { messageId: 2 ** 60 })
    t.match(hugeId, { type: 'MARK_READ_FAILURE', payload: { code: 'CHAT_BAD_REQUEST' } })
    const fine = await c.request('LOAD_CONTACTS', { userId: u.userId })
    t.equal(fine.type, 'CONTACTS_LOADED', 'still usable after all that')
  })

  t.test('a frame over the size limit closes the socket with 1009', async (t) => {
    const c = await connectWs(gw.wsUrl())
    c.send({ type: 'LOGIN', payload: { username: 'x'.repeat(70_000), password: 'y' } })
    const closed = await c.closed
    t.equal(closed.code, 1009)
    const next = await connectWs(gw.wsUrl())
    t.teardown(() => next.close())
    t.equal((await next.request('LOGIN', { username: 'nobody', password: 'x' })).type, 'LOGIN_FAILURE', 'the gateway is fine')
  })

  t.test('past the rate limit requests fail with CHAT_RATE_LIMITED, in order, and the socket survives', async (t) => {
    const u = await registerUser(gw.wsUrl())
    t.teardown(() => u.client.close())
    // The burst (30) has one token used by REGISTER; send 45 at once.
    for (let i = 0; i < 45; i++) u.client.send({ type: 'LOAD_CONTACTS', id: `r${i}`, payload: { userId: u.userId } })
    const answers = []
    for (let i = 0; i < 45; i++) answers.push(await u.client.next((f) => f.id === `r${i}`))
    const limited = answers.filter((f) => f.payload?.code === 'CHAT_RATE_LIMITED')
    // 16 when the 45 arrive at once; tokens refill while a busy machine reads them, so fewer.
    t.ok(limited.length >= 5, `${limited.length} of 45 refused`)
    t.ok(limited.every((f) => f.type === 'CONTACTS_LOADED_FAILED'), 'as the request\'s own failure')
    t.equal(answers[0]!.type, 'CONTACTS_LOADED', 'the first ones went through')
    await new Promise((resolve) => setTimeout(resolve, 1200))
    t.equal((await u.client.request('LOAD_CONTACTS', { userId: u.userId })).type, 'CONTACTS_LOADED', 'allowed again after a pause')
  })

  t.test('a socket that never logs in is closed after WS_AUTH_TIMEOUT_MS with 4003', async (t) => {
    const c = await connectWs(gw.wsUrl())
    const started = Date.now()
    t.equal((await c.closed).code, 4003)
    t.ok(Date.now() - started >= 1000, 'not before the timeout')
  })
})
