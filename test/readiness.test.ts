// /readyz tells the truth: every process (gateway, auth, contact, message)
// turns unready, naming the check, when a server it depends on goes away,
// and ready again once that server is back on the same port, without being
// restarted. Each process runs against private NATS, Redis and MongoDB-wire
// servers that the test stops and starts.
import t, { type Test } from 'tap'
import { failing, isReady, readiness, waitForReadiness, type Probe } from './helpers/probes.js'
import { startRestartableMongo, startRestartableNats, startRestartableRedis, type RestartableServer } from './helpers/servers.js'
import { startSystem, type ServiceName } from './helpers/system.js'
import { registerUser, sendText } from './helpers/typed.js'

t.test('readiness follows NATS, Redis and MongoDB', async (t) => {
  const [nats, redis, mongo] = await Promise.all([startRestartableNats(t), startRestartableRedis(t), startRestartableMongo(t)])
  const sys = await startSystem(t, { gateways: 1, env: { NATS_URL: nats.url, REDIS_URL: redis.url, MONGO_URL: mongo.url } })
  const gateway: Probe = { name: 'gateway', url: `${sys.gateways[0]!.httpUrl}/readyz`, proc: sys.gateways[0]!.proc }
  const services: Probe[] = (['auth', 'contact', 'message'] as ServiceName[]).map((name) => {
    const { port, proc } = sys.services[name]
    return { name, url: `http://127.0.0.1:${port}/readyz`, proc }
  })
  const everyone = [gateway, ...services]

  /** Stops `server`, sees `users` fail `check` (and `others` stay ready), starts it again, sees `users` ready. */
  async function outage (t: Test, server: RestartableServer, check: string, users: Probe[], others: Probe[]): Promise<void> {
    await waitForReadiness(everyone, 'ready', isReady)
    await server.stop()
    try {
      const down = await waitForReadiness(users, `unready for ${check}`, failing(check))
      for (const [i, r] of down.entries()) t.match(r.body, { status: 'not ready', checks: { [check]: false } }, `${users[i]!.name}: 503 naming ${check}`)
      for (const [i, r] of (await Promise.all(others.map(readiness))).entries()) t.equal(r.status, 200, `${others[i]!.name} does not use it: still ready`)
    } finally {
      await server.start() // also after a failure, so the next case starts from a whole system
    }
    const up = await waitForReadiness(users, 'ready again', isReady)
    for (const [i, r] of up.entries()) t.match(r.body, { status: 'ready', checks: { [check]: true } }, `${users[i]!.name}: 200 again`)
  }

  t.test('NATS: every process', async (t) => {
    await outage(t, nats, 'nats', everyone, [])
  })
  t.test('Redis: the services', async (t) => {
    await outage(t, redis, 'redis', services, [gateway])
  })
  t.test('MongoDB: the services', async (t) => {
    await outage(t, mongo, 'mongo', services, [gateway])
  })
  t.test('ready means it serves: no process was restarted, and a message goes through', async (t) => {
    for (const p of everyone) t.equal(p.proc.exitInfo, null, `${p.name} (pid ${p.proc.pid}) still running`)
    const ws = sys.gateways[0]!.wsUrl()
    const alice = await registerUser(ws, 'alice')
    const bob = await registerUser(ws, 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const sent = await sendText(alice, bob, 'after the outages')
    t.equal(sent.type, 'MESSAGE_RECEIVED_SELF', 'auth, message, NATS, Redis and MongoDB all answer again')
    t.equal((await bob.client.next('MESSAGE_RECEIVED_OTHER')).payload.content, 'after the outages')
  })
})
