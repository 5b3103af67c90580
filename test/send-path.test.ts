// The send path under load, across two gateway replicas: a socket's sends
// overlap and still keep their order; a replica past its capacity refuses
// the excess at once with a retryable "busy" in each API's failure form
// and stores none of it, while everything it acknowledged is stored once.
import t from 'tap'
import { startService, startSystem } from './helpers/system.js'
import { directHistory, registerUser, type TypedUser } from './helpers/typed.js'
import { http } from './helpers/http.js'
import type { Frame } from './helpers/ws.js'

/** A socket's request rate is not what these tests are about. */
const UNLIMITED = { WS_RATE_LIMIT_PER_SEC: '10000', WS_RATE_LIMIT_BURST: '10000', WS_SEND_QUEUE_LIMIT_MS: '60000' }

/** Sends without waiting for answers, then collects every answer (matched by request id). */
async function pipelined (from: TypedUser, frames: Array<{ type: string, payload: unknown }>): Promise<Frame[]> {
  const ids = frames.map((f, i) => {
    const id = `p${i}-${Math.random().toString(36).slice(2)}`
    from.client.send({ ...f, id })
    return id
  })
  const answers: Frame[] = []
  for (const id of ids) answers.push(await from.client.next((f) => f.id === id, 30_000))
  return answers
}

t.test('one socket\'s sends overlap, keep their order, and are answered in request order', async (t) => {
  const sys = await startSystem(t, { env: UNLIMITED })
  const [a, b] = sys.gateways
  const alice = await registerUser(a!.wsUrl(), 'alice')
  const bob = await registerUser(b!.wsUrl(), 'bob')
  const carol = await registerUser(b!.wsUrl(), 'carol')
  t.teardown(() => Promise.all([alice, bob, carol].map((u) => u.client.close())))

  const frames = Array.from({ length: 40 }, (_, i) => ({
    type: 'SEND_MESSAGE',
    payload: { senderId: alice.userId, receiverId: i % 2 === 0 ? bob.userId : carol.userId, content: `m${i}`, messageId: `m${i}` },
  }))
  // Each answer's arrival position is recorded to prove request order.
  const order: string[] = []
  alice.client.raw.on('message', (data) => {
    const f = JSON.parse(data.toString()) as Frame
    if (typeof f.id === 'string' && f.id.startsWith('p')) order.push(f.id)
  })
  const answers = await pipelined(alice, frames)
  t.ok(answers.every((f) => f.type === 'MESSAGE_RECEIVED_SELF'), 'every send acknowledged')
  t.same(order.map((id) => Number(id.slice(1, id.indexOf('-')))), frames.map((_, i) => i), 'answers came in request order')
  for (const [peer, parity] of [[bob, 0], [carol, 1]] as const) {
    const mine = answers.filter((_, i) => i % 2 === parity)
    const seqs = mine.map((f) => f.payload.seq as number)
    t.same(seqs, [...seqs].sort((x, y) => x - y), `sequence numbers to ${peer.username} rise in the order sent`)
    const stored = (await directHistory(peer, alice)).map((m) => m.content)
    t.same(stored, frames.filter((_, i) => i % 2 === parity).map((f) => f.payload.content), 'stored once each, in the order sent')
  }
  // Bob's socket on the other replica got his twenty, in order.
  const delivered: string[] = []
  for (let i = 0; i < 20; i++) delivered.push((await bob.client.next('MESSAGE_RECEIVED_OTHER')).payload.content)
  t.same(delivered, frames.filter((_, i) => i % 2 === 0).map((f) => f.payload.content))

  // Anything that is not a send waits for the sends before it.
  const [, , unread] = await pipelined(alice, [
    { type: 'SEND_MESSAGE', payload: { senderId: alice.userId, receiverId: bob.userId, content: 'late1' } },
    { type: 'SEND_MESSAGE', payload: { senderId: alice.userId, receiverId: bob.userId, content: 'late2' } },
    { type: 'LOAD_MESSAGES', payload: { userId: alice.userId, targetId: bob.userId, limit: 2 } },
  ])
  t.same(unread!.payload.map((m: { content: string }) => m.content), ['late1', 'late2'], 'a read after two sends sees both')
})

t.test('a replica past its capacity answers busy at once and stores nothing of it', async (t) => {
  // One send at a time per message replica: any overlap is past capacity.
  const sys = await startSystem(t, { env: { SEND_MAX_PENDING: '1', ...UNLIMITED } })
  const [a, b] = sys.gateways
  const alice = await registerUser(a!.wsUrl(), 'alice')
  const peers = await Promise.all(['bob', 'carol', 'dave'].map((name) => registerUser(b!.wsUrl(), name)))
  const bob = peers[0]!
  t.teardown(() => Promise.all([alice, ...peers].map((u) => u.client.close())))

  t.test('typed: SEND_FAILURE with CHAT_BUSY and retryAfter; a retry with the same messageId is stored once', async (t) => {
    // Three recipients: sends to different users overlap.
    const frames = Array.from({ length: 60 }, (_, i) => ({
      type: 'SEND_MESSAGE',
      payload: { senderId: alice.userId, receiverId: peers[i % 3]!.userId, content: `t${i}`, messageId: `t${i}` },
    }))
    const answers = await pipelined(alice, frames)
    const busy = answers.filter((f) => f.payload.code === 'CHAT_BUSY')
    t.ok(busy.length > 0, `some sends were refused (${busy.length} of 60)`)
    t.ok(answers.every((f) => f.type === 'MESSAGE_RECEIVED_SELF' || f.payload.code === 'CHAT_BUSY'), 'nothing else failed')
    t.match(busy[0], { type: 'SEND_FAILURE', payload: { code: 'CHAT_BUSY', retryAfter: 1 } }, 'the failure names the message and when to retry')
    t.ok(busy.every((f) => typeof f.payload.messageId === 'string'))

    const acked = answers.filter((f) => f.type === 'MESSAGE_RECEIVED_SELF').map((f) => String(f.payload.messageId))
    const stored = (await Promise.all(peers.map((p) => directHistory(p, alice)))).flat().map((m) => m.content)
    t.same([...stored].sort(), [...acked].sort(), 'exactly the acknowledged sends were stored, once')

    // The client retries the refused ones (one at a time: no overlap, no refusal).
    for (const f of busy) {
      const i = Number(String(f.payload.messageId).slice(1))
      const retry = await alice.client.request('SEND_MESSAGE', frames[i]!.payload)
      t.equal(retry.type, 'MESSAGE_RECEIVED_SELF', JSON.stringify(retry.payload))
    }
    // A retry of an acknowledged one is answered as the same message, not stored again.
    const again = await alice.client.request('SEND_MESSAGE', frames[Number(acked[0]!.slice(1))]!.payload)
    t.equal(again.type, 'MESSAGE_RECEIVED_SELF')
    const after = (await Promise.all(peers.map((p) => directHistory(p, alice)))).flat().map((m) => m.content)
    t.same([...after].sort(), frames.map((f) => f.payload.content).sort(), 'every message stored exactly once after the retries')
  })

  t.test('HTTP: 503 with Retry-After and {"error": "busy"}', async (t) => {
    const post = (content: string) => http(`${b!.httpUrl}/chats`, {
      json: { receiver_id: bob.userId, message: content, type: 'text' },
      headers: { authorization: `Bearer ${alice.token}` },
      timeoutMs: 30_000,
    })
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => post(`h${i}`)))
    const refused = results.filter((r) => r.status === 503)
    t.ok(refused.length > 0, `some posts were refused (${refused.length} of 40)`)
    t.ok(results.every((r) => r.status === 201 || r.status === 503), 'nothing else failed')
    t.equal(refused[0]!.headers.get('retry-after'), '1')
    t.match(refused[0]!.body, { error: 'busy' })
    const created = results.filter((r) => r.status === 201).length
    const stored = (await directHistory(bob, alice)).filter((m) => m.content.startsWith('h'))
    t.equal(stored.length, created, 'only the accepted posts were stored')
  })
})

t.test('sends that wait too long behind a socket\'s earlier sends to one conversation are refused busy, not queued', async (t) => {
  // A short limit: forty sends to one user, one round trip each, wait far longer.
  const sys = await startSystem(t, { env: { ...UNLIMITED, WS_SEND_QUEUE_LIMIT_MS: '20' } })
  const [a, b] = sys.gateways
  const alice = await registerUser(a!.wsUrl(), 'alice')
  const bob = await registerUser(b!.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice, bob].map((u) => u.client.close())))

  const frames = Array.from({ length: 40 }, (_, i) => ({
    type: 'SEND_MESSAGE',
    payload: { senderId: alice.userId, receiverId: bob.userId, content: `q${i}`, messageId: `q${i}` },
  }))
  const answers = await pipelined(alice, frames)
  const busy = answers.filter((f) => f.payload.code === 'CHAT_BUSY')
  t.ok(busy.length > 0, `some sends were refused (${busy.length} of 40)`)
  t.ok(answers.every((f) => f.type === 'MESSAGE_RECEIVED_SELF' || f.payload.code === 'CHAT_BUSY'), 'nothing else failed')
  t.match(busy[0], { type: 'SEND_FAILURE', payload: { code: 'CHAT_BUSY', retryAfter: 1 } }, 'typed\'s failure form, with when to retry')

  const acked = answers.filter((f) => f.type === 'MESSAGE_RECEIVED_SELF').map((f) => String(f.payload.messageId))
  const stored = (await directHistory(bob, alice)).map((m) => m.content)
  t.same(stored, acked, 'exactly the acknowledged sends were stored, once each, in the order sent')
  const delivered: string[] = []
  for (let i = 0; i < acked.length; i++) delivered.push((await bob.client.next('MESSAGE_RECEIVED_OTHER')).payload.content)
  t.same(delivered, acked, 'and delivered in that order on the other replica')

  // The socket stays usable: the refused ones, sent again one at a time, are taken.
  for (const f of busy) {
    const retry = await alice.client.request('SEND_MESSAGE', frames[Number(String(f.payload.messageId).slice(1))]!.payload)
    t.equal(retry.type, 'MESSAGE_RECEIVED_SELF', JSON.stringify(retry.payload))
  }
  t.equal((await directHistory(bob, alice)).length, 40, 'all forty stored once after the retries')
})

t.test('with two message replicas a conversation keeps one order, and each sender\'s messages theirs', async (t) => {
  const sys = await startSystem(t, { env: UNLIMITED })
  await startService(sys, 'message') // a second replica in the queue group
  const [a, b] = sys.gateways
  const alice = await registerUser(a!.wsUrl(), 'alice')
  const bob = await registerUser(b!.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice, bob].map((u) => u.client.close())))

  const burst = (from: TypedUser, to: TypedUser, tag: string) => pipelined(from, Array.from({ length: 30 }, (_, i) => ({
    type: 'SEND_MESSAGE',
    payload: { senderId: from.userId, receiverId: to.userId, content: `${tag}${i}` },
  })))
  await alice.client.request('SEND_MESSAGE', { senderId: alice.userId, receiverId: bob.userId, content: 'opening' })
  const [fromAlice, fromBob] = await Promise.all([burst(alice, bob, 'a'), burst(bob, alice, 'b')])
  t.ok([...fromAlice, ...fromBob].every((f) => f.type === 'MESSAGE_RECEIVED_SELF'), 'all acknowledged')

  const stored = await directHistory(alice, bob)
  t.equal(stored.length, 61, 'every message stored once')
  const seqs = stored.map((m) => m.seq)
  t.equal(new Set(seqs).size, 61, 'no number given twice')
  t.same(seqs, [...seqs].sort((x, y) => x - y), 'history is in number order')
  for (const tag of ['a', 'b']) {
    const mine = stored.filter((m) => /^[ab]\d+$/.test(m.content) && m.content.startsWith(tag)).map((m) => m.content)
    t.same(mine, Array.from({ length: 30 }, (_, i) => `${tag}${i}`), `${tag === 'a' ? 'alice' : 'bob'}'s messages in the order sent`)
  }
  t.same(stored, await directHistory(bob, alice), 'both members see the same order')
})
