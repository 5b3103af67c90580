// Opening a conversation without a message, page-number history, and taking
// unread messages from two devices at once, on the `typed` API.
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { loginAgain, registerUser, sendText } from './helpers/typed.js'

t.test('conversations', async (t) => {
  const sys = await startSystem(t, { gateways: 2, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]

  t.test('OPEN_CONVERSATION creates once and tells the other user', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const opened = await alice.client.request('OPEN_CONVERSATION', { userId: alice.userId, targetId: bob.userId })
    t.equal(opened.type, 'CONVERSATION_OPENED')
    t.match(opened.payload, { targetId: bob.userId, created: true })
    t.same((await bob.client.next('CONVERSATION_CREATED')).payload, { conversationId: opened.payload.conversationId, userId: alice.userId })
    const again = await bob.client.request('OPEN_CONVERSATION', { userId: bob.userId, targetId: alice.userId })
    t.same(again.payload, { conversationId: opened.payload.conversationId, targetId: alice.userId, created: false })
    await alice.client.noFrame('CONVERSATION_CREATED', 300)
    const sent = await sendText(alice, bob, 'now with a message')
    t.equal(sent.payload.conversationId, opened.payload.conversationId)
    const spoof = await alice.client.request('OPEN_CONVERSATION', { userId: bob.userId, targetId: alice.userId })
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')
    const ghost = await alice.client.request('OPEN_CONVERSATION', { userId: alice.userId, targetId: 31337 })
    t.equal(ghost.payload.code, 'CHAT_USER_NOT_FOUND')
  })

  t.test('LOAD_MESSAGES pages by offset', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    for (let i = 1; i <= 7; i++) await sendText(alice, bob, `p${i}`)
    const page = async (offset: number) => (await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId, offset, limit: 3 }))
    t.same((await page(0)).payload.map((m: any) => m.content), ['p5', 'p6', 'p7'])
    t.same((await page(3)).payload.map((m: any) => m.content), ['p2', 'p3', 'p4'])
    const last = await page(6)
    t.same(last.payload.map((m: any) => m.content), ['p1'])
    t.equal((last.meta as { hasMore: boolean }).hasMore, false)
    const both = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId, offset: 1, beforeId: last.payload[0].id })
    t.equal(both.type, 'MESSAGES_LOAD_FAILURE', 'offset and beforeId do not mix')
  })

  t.test('TAKE_UNREAD from two devices at once: every message exactly once', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const bob2 = await loginAgain(a.wsUrl(), bob)
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), bob2.close()]))
    let conversationId = 0
    for (let i = 1; i <= 40; i++) conversationId = (await sendText(alice, bob, `u${i}`)).payload.conversationId
    const taken: string[] = []
    const drain = async (c: typeof bob2) => {
      for (;;) {
        const r = await c.request('TAKE_UNREAD', { conversationId, limit: 3 }, 20_000)
        if (r.type !== 'UNREAD_TAKEN') throw new Error(JSON.stringify(r))
        taken.push(...r.payload.messages.map((m: any) => m.content))
        if (r.payload.remaining === 0 || r.payload.messages.length === 0) return
      }
    }
    await Promise.all([drain(bob.client), drain(bob2)])
    t.equal(taken.length, 40, 'none skipped, none twice')
    t.equal(new Set(taken).size, 40)
    t.same((await bob.client.request('LOAD_UNREAD', {})).payload.conversations, [], 'all read now')
    const foreign = await alice.client.request('TAKE_UNREAD', { conversationId: conversationId + 1 })
    t.equal(foreign.type, 'UNREAD_TAKE_FAILURE')
  })
})
