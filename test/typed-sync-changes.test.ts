// Catch-up on everything: edits and deletions take places in their
// conversation's order, and SYNC from a position returns the new messages,
// edits and deletions since, in that order (two gateway replicas).
import t from 'tap'
import { redisCommand, startPrivateRedis } from './helpers/redis.js'
import { startSystem } from './helpers/system.js'
import { loginAgain, registerUser, sendText } from './helpers/typed.js'

t.test('SYNC returns edits and deletions in the conversation\'s order', async (t) => {
  const redisUrl = await startPrivateRedis(t)
  const sys = await startSystem(t, { gateways: 2, redisUrl, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const alice = await registerUser(a.wsUrl(), 'alice')
  const bob = await registerUser(b.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))

  const sent = []
  for (const c of ['m1', 'm2', 'm3']) sent.push((await sendText(alice, bob, c)).payload)
  const [m1, m2] = sent
  const conversationId = m1.conversationId
  t.same(sent.map((m) => m.seq), [1, 2, 3])
  const sync = async (lastSeq: number, limit?: number) => {
    const res = await bob.client.request('SYNC', { cursors: [{ conversationId, lastSeq }], ...(limit ? { limit } : {}) })
    t.equal(res.type, 'SYNC_RESULT')
    const c = res.payload.conversations[0]
    const entries = [
      ...c.messages.map((m: any) => ({ seq: m.seq, message: m.content })),
      ...c.changes.map((x: any) => ({ seq: x.seq, [x.change]: x.messageId, ...(x.content ? { content: x.content } : {}) })),
    ].sort((x, y) => x.seq - y.seq)
    return { entries, hasMore: c.hasMore, changes: c.changes }
  }

  // Bob has 1-3. Alice edits m2 and deletes m1 (places 4 and 5), sends m4
  // (6) and edits it (7), sends m5 (8) and deletes it (9).
  const edit = await alice.client.request('EDIT_MESSAGE', { messageId: m2.id, content: 'm2 edited' })
  t.equal(edit.type, 'MESSAGE_EDITED')
  t.equal((await alice.client.request('DELETE_MESSAGE', { messageId: m1.id })).type, 'MESSAGE_DELETED')
  const m4 = (await sendText(alice, bob, 'm4')).payload
  t.equal(m4.seq, 6, 'a message after changes takes the place after them (seq skips their numbers)')
  t.equal((await alice.client.request('EDIT_MESSAGE', { messageId: m4.id, content: 'm4 edited' })).type, 'MESSAGE_EDITED')
  const m5 = (await sendText(alice, bob, 'm5')).payload
  t.equal((await alice.client.request('DELETE_MESSAGE', { messageId: m5.id })).type, 'MESSAGE_DELETED')

  const all = await sync(3)
  t.same(all.entries, [
    { seq: 4, edited: m2.id, content: 'm2 edited' },
    { seq: 5, deleted: m1.id },
    { seq: 6, message: 'm4 edited' },
  ], 'the changes of what bob had, then the new message as it is now; nothing of the deleted one')
  t.equal(all.hasMore, false)
  t.match(all.changes[0], { seq: 4, change: 'edited', messageId: m2.id, messageSeq: 2, senderId: alice.userId, content: 'm2 edited', timestamp: /Z$/ })
  t.notOk('content' in all.changes[1], 'a deletion carries no content')

  const first = await sync(3, 2)
  t.same(first.entries.map((e: any) => e.seq), [4, 5], 'the limit counts changes and messages alike')
  t.equal(first.hasMore, true)
  const rest = await sync(5, 2)
  t.same(rest.entries.map((e: any) => e.seq), [6])
  t.equal(rest.hasMore, false)
  t.same((await sync(6)).entries, [{ seq: 7, edited: m4.id, content: 'm4 edited' }], 'from after m4: its edit')
  t.same((await sync(9)).entries, [], 'nothing after the last place')

  // Bob's other device, on the other replica, sees the same.
  const other = await loginAgain(a.wsUrl(), bob)
  t.teardown(() => other.close())
  const again = await other.request('SYNC', { cursors: [{ conversationId, lastSeq: 3 }] })
  t.same(again.payload.conversations[0].changes.map((c: any) => c.seq), [4, 5])

  // Redis loses the counter: the next number is past every change's place.
  await redisCommand(redisUrl, 'FLUSHALL')
  t.equal((await alice.client.request('EDIT_MESSAGE', { messageId: m2.id, content: 'm2 again' })).type, 'MESSAGE_EDITED')
  const m6 = (await sendText(alice, bob, 'm6')).payload
  t.ok(m6.seq > 10, `a message after the counter was lost takes a new place (${m6.seq})`)
  const after = await sync(9)
  t.same(after.entries, [{ seq: 10, edited: m2.id, content: 'm2 again' }, { seq: m6.seq, message: 'm6' }], 'the edit and the message, each in its own place')
})

t.test('SYNC rejects a cursor on someone else\'s conversation, changes included', async (t) => {
  const sys = await startSystem(t, { gateways: 1 })
  const [a] = sys.gateways as [typeof sys.gateways[0]]
  const alice = await registerUser(a.wsUrl(), 'alice')
  const bob = await registerUser(a.wsUrl(), 'bob')
  const eve = await registerUser(a.wsUrl(), 'eve')
  t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), eve.client.close()]))
  const m1 = (await sendText(alice, bob, 'secret')).payload
  await alice.client.request('EDIT_MESSAGE', { messageId: m1.id, content: 'still secret' })
  const res = await eve.client.request('SYNC', { cursors: [{ conversationId: m1.conversationId, lastSeq: 0 }] })
  t.equal(res.type, 'SYNC_FAILURE')
  t.equal(res.payload.code, 'CHAT_NOT_MEMBER')
})
