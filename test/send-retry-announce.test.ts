// A retried send that finds its message stored announces it again, and the
// gateways show each message once: a message whose replica died after
// storing it and before announcing it still reaches a recipient who stays
// online (found by the fault suite's message-kill run), and an ordinary
// retry is not shown twice. Two gateway replicas.
import t from 'tap'
import { composeId, connectMongo } from '../packages/runtime/src/index.js'
import { startSystem } from './helpers/system.js'
import { registerUser, sendText, sleep } from './helpers/typed.js'

const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017'

t.test('retried sends', async (t) => {
  const sys = await startSystem(t, { gateways: 2 })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const alice = await registerUser(a.wsUrl(), 'alice')
  const bob = await registerUser(b.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
  const pushes = (id: number) => bob.client.received.filter((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.id === id).length

  t.test('an ordinary retry is shown once', async (t) => {
    const first = await sendText(alice, bob, 'once', 'retry-1')
    await bob.client.next((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.id === first.payload.id)
    const again = await sendText(alice, bob, 'once', 'retry-1')
    t.equal(again.payload.id, first.payload.id, 'the stored message answers the retry')
    await sendText(alice, bob, 'after') // a later push: the repeat, if shown, would have come before it
    await bob.client.next((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.content === 'after')
    await sleep(200)
    t.equal(pushes(first.payload.id), 1, 'the recipient got it once')
  })

  t.test('a message stored but never announced reaches the recipient with the retry', async (t) => {
    const opened = await sendText(alice, bob, 'opens')
    const conversationId = opened.payload.conversationId as number
    // What a replica SIGKILLed between its insert and its announcement leaves.
    const mongo = await connectMongo(MONGO_URL, sys.env.MONGO_DB!, 'test')
    t.teardown(() => mongo.client.close())
    const id = composeId(Date.now(), 62, 0)
    const doc = { _id: id, conversationId, seq: 1000, senderId: alice.userId, recipientId: bob.userId, kind: 'text', content: 'stored, never told', createdAt: new Date(), clientMessageId: 'lost-1', dedupeKey: `${alice.userId}:lost-1` }
    await mongo.db.collection('messages').insertOne(doc as never)
    const retry = await sendText(alice, bob, 'stored, never told', 'lost-1')
    t.equal(retry.type, 'MESSAGE_RECEIVED_SELF')
    t.equal(retry.payload.id, id, 'answered with the stored message')
    const got = await bob.client.next((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.id === id)
    t.match(got.payload, { content: 'stored, never told', seq: 1000, senderId: alice.userId })
    await sleep(200)
    t.equal(pushes(id), 1)
  })
})
