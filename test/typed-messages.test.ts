// Direct messages on the `typed` API across two gateway replicas: routing,
// durability, idempotency, history, read marks, unread counts, catch-up.
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { loginAgain, registerUser, sendText } from './helpers/typed.js'

t.test('direct messages', async (t) => {
  const sys = await startSystem(t, { gateways: 2, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000', MESSAGE_MAX_LENGTH: '200' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]

  t.test('delivery across replicas, both ways, with the documented shapes', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))

    const self = await alice.client.request('SEND_MESSAGE', { messageId: 77, senderId: alice.userId, receiverId: bob.userId, content: 'hello bob' })
    t.equal(self.type, 'MESSAGE_RECEIVED_SELF')
    t.equal(self.payload.messageId, 77, 'echoes the client id')
    t.ok(Number.isSafeInteger(self.payload.id))
    t.match(self.payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    t.equal(self.payload.seq, 1)

    const got = await bob.client.next('MESSAGE_RECEIVED_OTHER')
    t.same(got.payload, {
      id: self.payload.id,
      senderId: alice.userId,
      receiverId: bob.userId,
      content: 'hello bob',
      timestamp: self.payload.timestamp,
      status: 'sent',
      type: 'text',
      conversationId: self.payload.conversationId,
      seq: 1,
    })
    t.notOk('id' in got, 'pushes carry no request id')

    const reply = await sendText(bob, alice, 'hi alice')
    t.equal(reply.payload.conversationId, self.payload.conversationId, 'one conversation for both directions')
    t.equal(reply.payload.seq, 2)
    const back = await alice.client.next('MESSAGE_RECEIVED_OTHER')
    t.equal(back.payload.content, 'hi alice')
    t.equal(back.payload.senderId, bob.userId)
  })

  t.test('one user on two replicas: every socket once, never echoed as received', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const alice2 = await loginAgain(b.wsUrl(), alice)
    const bob = await registerUser(a.wsUrl(), 'bob')
    const bob2 = await loginAgain(b.wsUrl(), bob)
    t.teardown(() => Promise.all([alice.client.close(), alice2.close(), bob.client.close(), bob2.close()]))

    const self = await sendText(alice, bob, 'to both of your devices')
    const [onA, onB] = await Promise.all([bob.client.next('MESSAGE_RECEIVED_OTHER'), bob2.next('MESSAGE_RECEIVED_OTHER')])
    t.equal(onA.payload.id, self.payload.id)
    t.equal(onB.payload.id, self.payload.id)
    const mirrored = await alice2.next('MESSAGE_SENT')
    t.equal(mirrored.payload.id, self.payload.id, 'the sender\'s other device sees what was sent')
    await Promise.all([
      bob.client.noFrame('MESSAGE_RECEIVED_OTHER', 400),
      bob2.noFrame('MESSAGE_RECEIVED_OTHER', 400),
      alice2.noFrame('MESSAGE_RECEIVED_OTHER', 400),
      alice.client.noFrame((f) => f.type === 'MESSAGE_RECEIVED_OTHER' || f.type === 'MESSAGE_SENT', 400),
    ])
  })

  t.test('offline delivery: history holds everything, oldest first, pageable', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const carol = await registerUser(b.wsUrl(), 'carol')
    await carol.client.close()
    t.teardown(() => alice.client.close())
    const ids: number[] = []
    for (let i = 1; i <= 55; i++) ids.push((await sendText(alice, carol, `m${i}`)).payload.id)

    const later = await loginAgain(b.wsUrl(), carol)
    t.teardown(() => later.close())
    const page1 = await later.request('LOAD_MESSAGES', { userId: carol.userId, targetId: alice.userId })
    t.equal(page1.type, 'MESSAGES_LOADED')
    t.ok(Array.isArray(page1.payload))
    t.equal(page1.payload.length, 50, '50 by default')
    t.same(page1.payload.map((m: any) => m.content), Array.from({ length: 50 }, (_, i) => `m${i + 6}`), 'the newest, oldest first')
    t.same(page1.meta, { conversationId: page1.payload[0].conversationId, hasMore: true })
    const page2 = await later.request('LOAD_MESSAGES', { userId: carol.userId, targetId: alice.userId, beforeId: page1.payload[0].id })
    t.same(page2.payload.map((m: any) => m.id), ids.slice(0, 5))
    t.equal((page2.meta as { hasMore: boolean }).hasMore, false)
    const small = await later.request('LOAD_MESSAGES', { userId: carol.userId, targetId: alice.userId, limit: 3 })
    t.same(small.payload.map((m: any) => m.content), ['m53', 'm54', 'm55'])
    const none = await later.request('LOAD_MESSAGES', { userId: carol.userId, targetId: carol.userId + 1 })
    t.same(none.payload, [], 'nobody talked: empty')
    const spoof = await later.request('LOAD_MESSAGES', { userId: alice.userId, targetId: carol.userId })
    t.equal(spoof.type, 'MESSAGES_LOAD_FAILURE')
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')
  })

  t.test('a resend with the same messageId is stored and delivered once', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const first = await sendText(alice, bob, 'only once', 'client-1')
    const again = await sendText(alice, bob, 'only once', 'client-1')
    t.equal(again.type, 'MESSAGE_RECEIVED_SELF')
    t.equal(again.payload.id, first.payload.id, 'same server id')
    t.equal(again.payload.messageId, 'client-1')
    await bob.client.next('MESSAGE_RECEIVED_OTHER')
    await bob.client.noFrame('MESSAGE_RECEIVED_OTHER', 500)
    const history = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.equal(history.payload.length, 1)
    const other = await sendText(alice, bob, 'a different message', 'client-2')
    t.not(other.payload.id, first.payload.id)
  })

  t.test('unread counts, read marks, and pushes to every device', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const bob2 = await loginAgain(a.wsUrl(), bob)
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), bob2.close()]))
    const sent = []
    for (let i = 1; i <= 3; i++) {
      sent.push(await sendText(alice, bob, `n${i}`))
      const u = await bob.client.next('UNREAD_UPDATED')
      t.same(u.payload, { conversationId: sent[0]!.payload.conversationId, peerId: alice.userId, count: i })
    }
    const unread = await bob2.request('LOAD_UNREAD', {})
    t.same(unread.payload.conversations, [{ conversationId: sent[0]!.payload.conversationId, peerId: alice.userId, count: 3 }])

    const read = await bob.client.request('MARK_READ', { messageId: sent[1]!.payload.id })
    t.equal(read.type, 'MARKED_READ')
    t.same(read.payload, { messageId: sent[1]!.payload.id, conversationId: sent[0]!.payload.conversationId, unread: 1 })
    const pushed = await bob2.next((f) => f.type === 'UNREAD_UPDATED' && f.payload.count === 1)
    t.ok(pushed, 'the other device is told')
    const backwards = await bob.client.request('MARK_READ', { messageId: sent[0]!.payload.id })
    t.equal(backwards.payload.unread, 1, 'read marks never move back')
    const outsider = await registerUser(a.wsUrl(), 'eve')
    t.teardown(() => outsider.client.close())
    const foreign = await outsider.client.request('MARK_READ', { messageId: sent[2]!.payload.id })
    t.equal(foreign.type, 'MARK_READ_FAILURE', 'nobody marks other people\'s conversations')
    const missing = await bob.client.request('MARK_READ', { messageId: 12345 })
    t.equal(missing.type, 'MARK_READ_FAILURE')
    t.equal(missing.payload.code, 'CHAT_MESSAGE_NOT_FOUND')
    t.equal((await bob.client.request('MARK_READ', { messageId: sent[2]!.payload.id })).payload.unread, 0)
    t.same((await bob2.request('LOAD_UNREAD', {})).payload.conversations, [])
  })

  t.test('CLEAR_MESSAGES clears only the requester\'s view', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const bob2 = await loginAgain(a.wsUrl(), bob)
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), bob2.close()]))
    await sendText(alice, bob, 'one')
    await sendText(bob, alice, 'two')
    const spoof = await bob.client.request('CLEAR_MESSAGES', { requesterUserId: alice.userId, targetUserId: bob.userId })
    t.equal(spoof.type, 'MESSAGES_CLEAR_FAILURE')
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')
    const cleared = await bob.client.request('CLEAR_MESSAGES', { requesterUserId: bob.userId, targetUserId: alice.userId })
    t.equal(cleared.type, 'MESSAGES_CLEARED')
    t.match(cleared.payload, { userId: bob.userId, targetUserId: alice.userId })
    t.match((await bob2.next('MESSAGES_CLEARED')).payload, { userId: bob.userId, targetUserId: alice.userId }, 'other devices are told')
    t.same((await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })).payload, [])
    const aliceView = await alice.client.request('LOAD_MESSAGES', { userId: alice.userId, targetId: bob.userId })
    t.same(aliceView.payload.map((m: any) => m.content), ['one', 'two'], 'the other side keeps theirs')
    await sendText(alice, bob, 'three')
    const after = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.same(after.payload.map((m: any) => m.content), ['three'], 'new messages show after a clear')
  })

  t.test('SYNC returns exactly what a reconnecting client missed, in order', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => alice.client.close())
    const first = await sendText(alice, bob, 's1')
    await sendText(alice, bob, 's2')
    const convo = first.payload.conversationId
    await bob.client.close()
    for (const c of ['s3', 's4', 's5']) await sendText(alice, bob, c)
    const back = await loginAgain(a.wsUrl(), bob)
    t.teardown(() => back.close())
    const res = await back.request('SYNC', { cursors: [{ conversationId: convo, lastSeq: 2 }] })
    t.equal(res.type, 'SYNC_RESULT')
    t.equal(res.payload.conversations.length, 1)
    t.same(res.payload.conversations[0].messages.map((m: any) => [m.seq, m.content]), [[3, 's3'], [4, 's4'], [5, 's5']])
    t.equal(res.payload.conversations[0].hasMore, false)
    const limited = await back.request('SYNC', { cursors: [{ conversationId: convo, lastSeq: 0 }], limit: 2 })
    t.same(limited.payload.conversations[0].messages.map((m: any) => m.seq), [1, 2])
    t.equal(limited.payload.conversations[0].hasMore, true)
    const eve = await registerUser(b.wsUrl(), 'eve')
    t.teardown(() => eve.client.close())
    const foreign = await eve.client.request('SYNC', { cursors: [{ conversationId: convo, lastSeq: 0 }] })
    t.equal(foreign.type, 'SYNC_FAILURE', 'no catch-up on other people\'s conversations')
    t.equal(foreign.payload.code, 'CHAT_NOT_MEMBER')
  })

  t.test('sends that must fail change nothing', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['spoofed sender', { messageId: 1, senderId: bob.userId, receiverId: bob.userId, content: 'x' }, 'CHAT_ID_MISMATCH'],
      ['unknown recipient', { messageId: 2, senderId: alice.userId, receiverId: 999999, content: 'x' }, 'CHAT_USER_NOT_FOUND'],
      ['to oneself', { messageId: 3, senderId: alice.userId, receiverId: alice.userId, content: 'x' }, 'CHAT_SELF_TARGET'],
      ['over the length limit', { messageId: 4, senderId: alice.userId, receiverId: bob.userId, content: 'x'.repeat(201) }, 'CHAT_CONTENT_TOO_LARGE'],
      ['empty text', { messageId: 5, senderId: alice.userId, receiverId: bob.userId, content: '' }, 'CHAT_BAD_REQUEST'],
      ['bad kind', { messageId: 6, senderId: alice.userId, receiverId: bob.userId, content: 'x', type: 'video' }, 'CHAT_BAD_REQUEST'],
      ['bad location', { messageId: 7, senderId: alice.userId, receiverId: bob.userId, content: '{"latitude":91,"longitude":0}', type: 'location' }, 'CHAT_BAD_REQUEST'],
      ['image that is no web URL', { messageId: 8, senderId: alice.userId, receiverId: bob.userId, content: 'javascript:alert(1)', type: 'image' }, 'CHAT_BAD_REQUEST'],
      ['operator injection', { messageId: 9, senderId: alice.userId, receiverId: { $gt: 0 }, content: 'x' }, 'CHAT_BAD_REQUEST'],
    ]
    for (const [name, payload, code] of cases) {
      const res = await alice.client.request('SEND_MESSAGE', payload)
      t.equal(res.type, 'MESSAGE_SEND_FAILURE', name)
      t.equal(res.payload.code, code, name)
    }
    await bob.client.noFrame('MESSAGE_RECEIVED_OTHER', 300)
    const history = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.same(history.payload, [], 'nothing was stored')
    const loc = await alice.client.request('SEND_MESSAGE', { messageId: 10, senderId: alice.userId, receiverId: bob.userId, content: '{"latitude":52.5,"longitude":13.4}', type: 'location' })
    t.equal(loc.type, 'MESSAGE_RECEIVED_SELF', 'a valid location goes through')
    t.equal((await bob.client.next('MESSAGE_RECEIVED_OTHER')).payload.type, 'location')
  })
})
