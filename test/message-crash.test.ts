// A message-service replica killed (SIGKILL, no goodbye) while clients
// send through two gateways: every acknowledged message is in history
// exactly once, and clients that retry what failed with the same
// messageId end with every message stored exactly once, and every stored
// message has its message.created domain event in the stream once, also
// those the killed replica stored but never published (the outbox sweep).
import t from 'tap'
import { readDomainEvents } from '../packages/runtime/src/testing.js'
import { startService, startSystem } from './helpers/system.js'
import { directHistory, registerUser, sleep, type TypedUser } from './helpers/typed.js'
import type { Frame } from './helpers/ws.js'

const PER_SENDER = 60
const WINDOW = 6

/** Sends `count` messages with up to WINDOW in flight, retrying failures with the same messageId until acknowledged. */
async function sendAll (from: TypedUser, to: TypedUser, tag: string, onProgress: () => void): Promise<{ acked: Set<string>, failures: Record<string, number> }> {
  const acked = new Set<string>()
  const failures: Record<string, number> = {}
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < PER_SENDER) {
      const content = `${tag}-${next++}`
      for (let attempt = 0; ; attempt++) {
        let answer: Frame
        try {
          answer = await from.client.request('SEND_MESSAGE', { senderId: from.userId, receiverId: to.userId, content, messageId: content }, 20_000)
        } catch (err) {
          answer = { type: 'NO_ANSWER', payload: { code: String(err) } }
        }
        if (answer.type === 'MESSAGE_RECEIVED_SELF') {
          acked.add(content)
          onProgress()
          break
        }
        const code = String(answer.payload?.code)
        failures[code] = (failures[code] ?? 0) + 1
        if (!['CHAT_TIMEOUT', 'CHAT_UNAVAILABLE', 'CHAT_BUSY'].includes(code) || attempt > 50) throw new Error(`send ${content} failed: ${JSON.stringify(answer)}`)
        await sleep(100)
      }
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, worker))
  return { acked, failures }
}

t.test('SIGKILL of a message replica while clients send', async (t) => {
  // A short request deadline: a send taken by the killed replica fails in 2 s and is retried.
  // Orphaned outbox entries are taken over after a second.
  const sys = await startSystem(t, { env: { NATS_REQUEST_TIMEOUT_MS: '2000', OUTBOX_ORPHAN_AFTER_MS: '3000', OUTBOX_SWEEP_MS: '200' } })
  const [a, b] = sys.gateways
  const doomed = sys.services.message
  await startService(sys, 'message') // a second replica in the queue group
  const senders = await Promise.all([0, 1, 2].map((i) => registerUser(a!.wsUrl(), `s${i}`)))
  const recipients = await Promise.all([0, 1, 2].map((i) => registerUser(b!.wsUrl(), `r${i}`)))
  t.teardown(() => Promise.all([...senders, ...recipients].map((u) => u.client.close())))

  let acked = 0
  let killed: Promise<unknown> | undefined
  const onProgress = () => {
    // Killed a third of the way in, with sends in flight on both replicas.
    if (++acked === PER_SENDER && killed === undefined) {
      killed = sys.kill(doomed.proc, 'SIGKILL').then(() => startService(sys, 'message'))
    }
  }
  const results = await Promise.all(senders.map((s, i) => sendAll(s, recipients[i]!, `m${i}`, onProgress)))
  t.ok(killed !== undefined, 'the replica was killed mid-run')
  await killed
  t.comment(`failed attempts, retried: ${JSON.stringify(results.map((r) => r.failures))}`)

  for (const [i, r] of results.entries()) {
    t.equal(r.acked.size, PER_SENDER, `sender ${i}: every message acknowledged in the end`)
    const stored = (await directHistory(recipients[i]!, senders[i]!)).map((m) => m.content)
    const counts = new Map<string, number>()
    for (const c of stored) counts.set(c, (counts.get(c) ?? 0) + 1)
    t.same([...counts.entries()].filter(([, n]) => n > 1), [], `sender ${i}: nothing stored twice`)
    t.same([...r.acked].filter((c) => !counts.has(c)), [], `sender ${i}: nothing acknowledged is missing`)
    t.equal(stored.length, PER_SENDER, `sender ${i}: exactly the messages sent`)
  }

  // Every stored message's creation is in the stream exactly once.
  const stored = (await Promise.all(recipients.map((r, i) => directHistory(r, senders[i]!)))).flat()
  let created: number[] = []
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(250)) {
    const events = await readDomainEvents(sys.env.NATS_URL ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222', sys.env.NATS_PREFIX!, 'message')
    created = events.filter((e) => e.event.type === 'message.created').map((e) => (e.event.data as { message: { id: number } }).message.id)
    if (stored.every((m) => created.includes(m.id))) break
  }
  t.same(stored.filter((m) => !created.includes(m.id)).map((m) => m.content), [], 'no stored message without its event')
  t.equal(new Set(created).size, created.length, 'no event stored twice')

  // The restarted replica serves: a fresh send on each gateway is stored and delivered.
  const late = await senders[0]!.client.request('SEND_MESSAGE', { senderId: senders[0]!.userId, receiverId: recipients[0]!.userId, content: 'after', messageId: 'after' })
  t.equal(late.type, 'MESSAGE_RECEIVED_SELF')
})
