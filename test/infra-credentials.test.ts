// The whole system on a NATS server and a Redis that demand credentials:
// every service and gateway connects with them in NATS_URL / REDIS_URL (or
// NATS_USER/NATS_PASSWORD), and a process without them fails at start,
// saying why.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { freePort, waitForPort } from './helpers/net.js'
import { spawnManaged, stopProcess } from './helpers/proc.js'
import { startGateway, startSystem, type TestLike } from './helpers/system.js'
import { registerUser } from './helpers/typed.js'

/** Starts `command args` for a server listening on `port`; stopped at teardown. */
async function privateServer (t: TestLike, name: string, port: number, command: string, args: string[]): Promise<void> {
  const proc = spawnManaged(`${name}:${port}`, command, args)
  t.teardown(async () => { await stopProcess(proc) })
  await Promise.race([
    waitForPort(port, '127.0.0.1', 10_000),
    proc.exited.then((e) => { throw new Error(`${command} exited (code ${e.code}): ${proc.tail()}`) }),
  ])
}

t.test('NATS and Redis with credentials', async (t) => {
  const natsPort = await freePort()
  const natsDir = mkdtempSync(path.join(tmpdir(), 'chat-nats-'))
  t.teardown(() => rmSync(natsDir, { recursive: true, force: true }))
  await privateServer(t, 'nats', natsPort, 'nats-server', ['-js', '-sd', natsDir, '-a', '127.0.0.1', '-p', String(natsPort), '--user', 'chat', '--pass', 'nats-pw'])
  const redisPort = await freePort()
  await privateServer(t, 'redis', redisPort, 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'redis-pw'])

  const sys = await startSystem(t, {
    gateways: 1,
    env: { NATS_URL: `nats://chat:nats-pw@127.0.0.1:${natsPort}`, REDIS_URL: `redis://:redis-pw@127.0.0.1:${redisPort}` },
  })
  const a = sys.gateways[0]!
  // Credentials in settings instead of the URL.
  const b = await startGateway(sys, { NATS_URL: `nats://127.0.0.1:${natsPort}`, NATS_USER: 'chat', NATS_PASSWORD: 'nats-pw' })

  const alice = await registerUser(a.wsUrl(), 'alice')
  const bob = await registerUser(b.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
  const sent = await alice.client.request('SEND_MESSAGE', { messageId: 1, senderId: alice.userId, receiverId: bob.userId, content: 'over authenticated NATS' })
  t.equal(sent.type, 'MESSAGE_RECEIVED_SELF')
  const got = await bob.client.next('MESSAGE_RECEIVED_OTHER')
  t.equal(got.payload.content, 'over authenticated NATS', 'across replicas, through NATS; unread counts in the password-protected Redis')

  await t.rejects(startGateway(sys, { NATS_URL: `nats://127.0.0.1:${natsPort}` }), /exited[\s\S]*NATS: cannot connect to nats:\/\/127\.0\.0\.1:\d+: .*authorization/i, 'without credentials: a clear error at start')
  const wrong = await startGateway(sys, { NATS_URL: `nats://chat:wrong-pw@127.0.0.1:${natsPort}` }).then(() => '', (err: Error) => err.message)
  t.match(wrong, /authorization/i)
  t.notMatch(wrong, /wrong-pw/, 'the password is never printed')
})
