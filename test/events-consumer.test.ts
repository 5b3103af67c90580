// The runnable consumer in examples/events-consumer against the real
// system: it prints every domain event once, a restart with the same
// durable name resumes where it left off, and OWNER picks another stream.
import t from 'tap'
import { cleanEnv, spawnManaged, stopProcess, type ManagedProcess } from './helpers/proc.js'
import { startSystem } from './helpers/system.js'
import { registerUser, sleep } from './helpers/typed.js'

/** The JSON lines the consumer printed (stdout; its stderr lines are marked by the harness). */
function printed (p: ManagedProcess): Array<{ id: string, type: string, data: any }> {
  return p.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
}

async function until (what: string, p: ManagedProcess, done: (events: ReturnType<typeof printed>) => boolean): Promise<ReturnType<typeof printed>> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100)) {
    if (done(printed(p))) return printed(p)
    if (p.exitInfo !== null) break
  }
  throw new Error(`consumer: ${what} did not happen: ${p.tail(20)}`)
}

t.test('examples/events-consumer', async (t) => {
  const sys = await startSystem(t)
  const [a, b] = sys.gateways
  const alice = await registerUser(a!.wsUrl(), 'alice')
  const bob = await registerUser(b!.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice, bob].map((u) => u.client.close())))
  const env = { ...cleanEnv(), NATS_URL: sys.env.NATS_URL ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222', NATS_PREFIX: sys.env.NATS_PREFIX!, CONSUMER: 'test-consumer' }
  const consumer = () => spawnManaged('consumer', process.execPath, ['examples/events-consumer/consumer.mjs'], { env })
  const send = async (content: string) => {
    const r = await alice.client.request('SEND_MESSAGE', { senderId: alice.userId, receiverId: bob.userId, content, messageId: content })
    t.equal(r.type, 'MESSAGE_RECEIVED_SELF')
    return r.payload.id as number
  }

  for (const c of ['c1', 'c2', 'c3']) await send(c)
  const first = consumer()
  const seen = await until('the conversation and three messages', first, (es) => es.length >= 4)
  t.same(seen.map((e) => [e.type, e.data.message?.content]), [['conversation.created', undefined], ['message.created', 'c1'], ['message.created', 'c2'], ['message.created', 'c3']])
  t.equal((await stopProcess(first)).code, 0, 'stops cleanly on SIGTERM')

  const c4 = await send('c4')
  t.equal((await alice.client.request('EDIT_MESSAGE', { messageId: c4, content: 'c4, edited' })).type, 'MESSAGE_EDITED')
  const second = consumer()
  t.teardown(() => stopProcess(second))
  const resumed = await until('the two new events', second, (es) => es.length >= 2)
  await sleep(300)
  t.same(printed(second).map((e) => e.type), ['message.created', 'message.edited'], 'resumed where it left off: nothing seen before, nothing twice')
  t.match(resumed[1], { data: { messageId: c4, content: 'c4, edited' } })

  // Another owner's stream, by OWNER: the two registrations.
  const auth = spawnManaged('consumer-auth', process.execPath, ['examples/events-consumer/consumer.mjs'], { env: { ...env, OWNER: 'auth', CONSUMER: 'test-auth' } })
  t.teardown(() => stopProcess(auth))
  const registered = await until('the two registrations', auth, (es) => es.length >= 2)
  t.same(registered.map((e) => [e.type, e.data.userId]), [['user.registered', alice.userId], ['user.registered', bob.userId]], 'OWNER=auth reads the auth stream')
})
