// The SDK (packages/sdk) against the real system with two gateway replicas:
// its API methods, file upload, and a gateway SIGKILLed mid-conversation,
// after which the application on each side has lost and duplicated nothing.
import t from 'tap'
import WebSocket from 'ws'
import { ChatClient, type WebSocketConstructor } from '../packages/sdk/src/index.js'
import { startSystem } from './helpers/system.js'
import { sleep, uniqueName } from './helpers/typed.js'

const until = async (check: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

t.test('the SDK against two gateway replicas', async (t) => {
  const sys = await startSystem(t, { gateways: 2, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const urls = [a.wsUrl(), b.wsUrl()]
  const client = (initialMs: number) => {
    const c = new ChatClient({ url: urls, WebSocket: WebSocket as unknown as WebSocketConstructor, requestTimeoutMs: 15_000, backoff: { initialMs, maxMs: 2000 } })
    t.teardown(() => c.close())
    return c
  }
  const register = async (c: ChatClient, prefix: string) => await c.register({ username: uniqueName(prefix), password: 'pw-secret', email: `${uniqueName(prefix)}@example.test` })
  // Bob waits longer before reconnecting, so he misses messages alice sends
  // meanwhile through the other gateway and must catch up on them.
  const alice = client(100)
  const bob = client(1600)
  const aliceSession = await register(alice, 'alice')
  const bobSession = await register(bob, 'bob')
  bob.on('error', (e) => t.comment(`bob: ${String(e)}`))
  t.equal(alice.url, a.wsUrl(), 'both on the first gateway')
  t.equal(bob.url, a.wsUrl())

  t.test('requests and events: messages, history, lists, rooms, contacts, presence, receipts, typing, uploads', async (t) => {
    const events: Record<string, unknown[]> = {}
    for (const e of ['message', 'unread', 'read', 'typing', 'presence', 'contactsChanged', 'roomMemberJoined'] as const) {
      events[e] = []
      bob.on(e, (v) => events[e]?.push(v))
    }
    const aliceEvents: unknown[] = []
    alice.on('read', (v) => aliceEvents.push(v))
    alice.on('presence', (v) => aliceEvents.push(v))

    const first = await alice.sendMessage(bobSession.userId, 'hello bob')
    t.match(first, { senderId: aliceSession.userId, receiverId: bobSession.userId, content: 'hello bob', seq: 1 })
    await until(() => events.message?.length === 1, 10_000, 'bob\'s message event')
    t.match(events.message?.[0], { source: 'live', message: { id: first.id, content: 'hello bob', seq: 1 } })
    await until(() => (events.unread?.length ?? 0) > 0, 10_000, 'unread')
    t.match(events.unread?.at(-1), { conversationId: first.conversationId, count: 1 })

    await bob.markRead(first.id)
    await until(() => aliceEvents.length > 0, 10_000, 'read receipt')
    t.match(aliceEvents[0], { conversationId: first.conversationId, readerId: bobSession.userId, seq: 1 })

    await alice.setTyping({ userId: bobSession.userId }, true)
    await until(() => events.typing?.length === 1, 10_000, 'typing')
    t.match(events.typing?.[0], { userId: aliceSession.userId, typing: true })

    for (let i = 2; i <= 5; i++) await alice.sendMessage(bobSession.userId, `m${i}`)
    const page = await bob.loadMessages(aliceSession.userId, { limit: 3 })
    t.same(page.messages.map((m) => m.content), ['m3', 'm4', 'm5'])
    t.equal(page.hasMore, true)
    const older = await bob.loadMessages(aliceSession.userId, { limit: 3, beforeId: page.messages[0]?.id as number })
    t.same(older.messages.map((m) => m.content), ['hello bob', 'm2'])
    t.equal(older.hasMore, false)

    const list = await bob.loadConversations()
    t.match(list.conversations[0], { conversationId: first.conversationId, kind: 'direct', peerId: aliceSession.userId })
    const found = await bob.searchUsers(aliceSession.username)
    t.same(found.users.map((u) => u.userId), [aliceSession.userId])

    await bob.addContact(aliceSession.userId)
    await until(() => events.contactsChanged?.length === 1, 10_000, 'contacts changed')
    const contacts = await bob.loadContacts()
    t.match(contacts, [{ contactId: aliceSession.userId, online: true }])

    const room = await alice.createRoom({ name: 'sdk room' })
    const joined = await bob.joinRoom(room.id)
    t.equal(joined.joined, true)
    const inRoom = await bob.sendRoomMessage(room.id, 'hi room')
    t.match(inRoom, { receiverId: null, roomId: room.id, conversationId: room.id })
    t.match((await alice.loadRoomMessages(room.id)).messages.map((m) => m.content), ['hi room'])
    t.ok((await alice.loadRooms({ scope: 'mine' })).rooms.some((r) => r.id === room.id))

    const bytes = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3])
    const image = await alice.sendFile({ userId: bobSession.userId }, bytes, { name: 'dot.png', contentType: 'image/png', kind: 'image' })
    t.match(image, { type: 'image', content: /^\/files\/\d+$/ })
    const res = await fetch(`${b.httpUrl}${image.content}`, { headers: { authorization: `Bearer ${bobSession.token}` } })
    t.equal(res.status, 200, 'the recipient can fetch the shared file')
    t.same(new Uint8Array(await res.arrayBuffer()), bytes)
    await t.rejects(alice.uploadFile(new Uint8Array(0), { name: '' }), { code: /^CHAT_/ }, 'an HTTP refusal carries the catalogue\'s code')
    await t.rejects(alice.sendMessage(aliceSession.userId, 'to myself'), { code: 'CHAT_SELF_TARGET' })
  })

  // Known failure (packages/sdk/README.md, "Reconnect and catch-up"): about
  // one run in six on a busy 2-core machine, bob emits the messages before
  // the kill and the last few after it, and never those between (one run:
  // 7-26 live, then 63-66 live; 27-62 missing). Not traced yet; the suspect
  // is the timeline's position being a high-water mark (an earlier message
  // that comes after a later one is taken as seen). Runs as todo until fixed.
  t.test('a gateway SIGKILLed mid-conversation: every message, edit and deletion emitted exactly once, in seq order', { todo: 'messages between the kill and the failover are sometimes never emitted (see above)' }, async (t) => {
    const conversationId = (await alice.openConversation(bobSession.userId)).conversationId
    const seen: Array<{ id: number, seq: number, content: string, source: string }> = []
    const edits: string[] = []
    const deletions: number[] = []
    bob.on('message', (e) => {
      if (e.message.conversationId === conversationId) seen.push({ id: e.message.id, seq: e.message.seq, content: e.message.content, source: e.source })
    })
    bob.on('messageEdited', (e) => edits.push(e.content))
    bob.on('messageDeleted', (e) => deletions.push(e.messageId))
    const before = (await bob.loadMessages(aliceSession.userId, { limit: 100 })).messages.length
    seen.length = 0

    const N = 60
    const contents = Array.from({ length: N }, (_, i) => `load ${i}`)
    const sends: Array<Promise<unknown>> = []
    let killed: Promise<unknown> | null = null
    for (const [i, content] of contents.entries()) {
      sends.push(alice.sendMessage(bobSession.userId, content))
      if (i === 20) killed = sys.kill(a.proc, 'SIGKILL')
      await sleep(25)
    }
    await killed
    const stored = await Promise.all(sends) as Array<{ id: number, seq: number, content: string }>
    t.equal(alice.url, b.wsUrl(), 'alice moved to the other gateway')
    t.equal(bob.url, b.wsUrl(), 'bob too')
    t.same(stored.map((m) => m.content), contents, 'every send resolved with its own message')

    // An edit and a deletion after the failover reach bob once each.
    await alice.editMessage((stored[5] as { id: number }).id, 'load 5 edited')
    await alice.deleteMessage((stored[6] as { id: number }).id)
    await until(() => seen.length >= N && edits.length >= 1 && deletions.length >= 1, 30_000, `bob to see ${N} messages, an edit and a deletion`).catch((err: unknown) => {
      const missing = stored.filter((m) => !seen.some((x) => x.id === m.id)).map((m) => m.seq)
      t.comment(`missing seqs ${JSON.stringify(missing)}; seen ${seen.length}, edits ${edits.length}, deletions ${deletions.length}: ${JSON.stringify(seen.map((m) => `${m.seq}${m.source[0]}`))}`)
      throw err
    })
    await sleep(500) // anything duplicated would come now

    const ids = seen.map((m) => m.id)
    t.equal(new Set(ids).size, ids.length, 'no message emitted twice')
    t.same([...seen].map((m) => m.content).sort(), [...contents].sort(), 'every message emitted, none lost')
    t.ok(seen.every((m, i) => i === 0 || m.seq > (seen[i - 1] as { seq: number }).seq), 'in seq order')
    t.same([...ids].sort(), stored.map((m) => m.id).sort(), 'the messages alice\'s sends resolved with')
    t.same(edits, ['load 5 edited'])
    t.same(deletions, [(stored[6] as { id: number }).id])
    const sources = seen.reduce<Record<string, number>>((n, m) => ({ ...n, [m.source]: (n[m.source] ?? 0) + 1 }), {})
    t.comment(`bob got them: ${JSON.stringify(sources)}`)
    t.ok((sources.sync ?? 0) > 0, 'some only through the catch-up')

    // The server stored each once: the history holds each content once (one deleted).
    const history = (await bob.loadMessages(aliceSession.userId, { limit: 100 })).messages.slice(before)
    t.equal(history.length, N - 1, 'stored once each (one deleted)')
    t.equal(new Set(history.map((m) => m.content)).size, N - 1)
  })
})
