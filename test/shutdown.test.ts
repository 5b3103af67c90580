// Graceful shutdown: a gateway closes its sockets with 1001 and exits; a
// service finishes what it has taken and exits; users are reported offline.
import t from 'tap'
import { startGateway, startService, startSystem } from './helpers/system.js'
import { registerUser } from './helpers/typed.js'
import { http } from './helpers/http.js'

t.test('SIGTERM', async (t) => {
  const sys = await startSystem(t, { gateways: 1 })
  const a = sys.gateways[0]!

  t.test('a gateway closes its sockets with 1001, reports its users offline, and exits 0', async (t) => {
    const extra = await startGateway(sys)
    const watcher = await registerUser(a.wsUrl(), 'watcher')
    t.teardown(() => watcher.client.close())
    const leaving = await registerUser(extra.wsUrl(), 'leaving')
    await watcher.client.request('ADD_CONTACT', { userId: watcher.userId, targetId: leaving.userId })
    const exit = sys.kill(extra.proc, 'SIGTERM')
    t.equal((await leaving.client.closed).code, 1001)
    t.same(await exit, { code: 0, signal: null })
    const off = await watcher.client.next('PRESENCE_CHANGED')
    t.same(off.payload, { userId: leaving.userId, online: false }, 'offline at once, not after the TTL')
  })

  t.test('a service drains and exits 0; a replacement takes over', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(a.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    // A second message replica joins the queue group, then the first leaves.
    const old = sys.services.message
    await startService(sys, 'message')
    // Pipelined on one socket, so the last waits for all before it: a generous timeout.
    const inflight = Promise.all(Array.from({ length: 20 }, (_, i) => alice.client.request('SEND_MESSAGE', {
      messageId: i, senderId: alice.userId, receiverId: bob.userId, content: `m${i}`,
    }, 60_000)))
    const exit = await sys.kill(old.proc, 'SIGTERM')
    t.same(exit, { code: 0, signal: null })
    const acks = await inflight
    t.ok(acks.every((f) => f.type === 'MESSAGE_RECEIVED_SELF'), 'every acknowledged send was handled')
    const history = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.equal(history.payload.length, 20, 'and stored')
  })

  t.test('readiness reports the dependencies', async (t) => {
    const ready = await http(`${a.httpUrl}/readyz`)
    t.equal(ready.status, 200)
    t.match(ready.body, { status: 'ready', checks: { nats: true } })
    const metrics = await http(`${a.httpUrl}/metrics`)
    t.match(metrics.text, /chat_gateway_sockets/)
    const svc = await http(`http://127.0.0.1:${sys.services.auth.port}/readyz`)
    t.match(svc.body, { checks: { nats: true, mongo: true, redis: true } })
    t.equal((await http(`http://127.0.0.1:${sys.services.auth.port}/healthz`)).status, 200)
  })
})
