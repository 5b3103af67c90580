// Blocking, user search and the conversation list on the `typed` API.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { connectWs } from './helpers/ws.js'
import { registerUser, sendText, uniqueName } from './helpers/typed.js'

t.test('people and lists', async (t) => {
  const sys = await startSystem(t, { gateways: 2, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]

  t.test('a blocked user cannot message you, add you, or see your presence; unblock restores it', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    await alice.client.request('ADD_CONTACT', { userId: alice.userId, targetId: bob.userId })
    t.equal((await alice.client.request('LOAD_CONTACTS', { userId: alice.userId })).payload.contacts[0].online, true)

    const spoof = await alice.client.request('BLOCK_USER', { userId: bob.userId, targetId: alice.userId })
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')
    const blocked = await bob.client.request('BLOCK_USER', { userId: bob.userId, targetId: alice.userId })
    t.equal(blocked.type, 'USER_BLOCKED')
    t.same((await bob.client.request('LOAD_BLOCKED', {})).payload.userIds, [alice.userId])
    t.match((await alice.client.next('PRESENCE_CHANGED')).payload, { userId: bob.userId, online: false }, 'bob vanishes for alice')

    const msg = await alice.client.request('SEND_MESSAGE', { senderId: alice.userId, receiverId: bob.userId, content: 'hey' })
    t.equal(msg.type, 'MESSAGE_SEND_FAILURE')
    t.equal(msg.payload.code, 'CHAT_BLOCKED')
    await bob.client.noFrame('MESSAGE_RECEIVED_OTHER', 300)
    t.same((await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })).payload, [], 'nothing stored')
    await alice.client.request('DELETE_CONTACT', { userId: alice.userId, targetId: bob.userId })
    const add = await alice.client.request('ADD_CONTACT', { userId: alice.userId, targetId: bob.userId })
    t.equal(add.payload.code, 'CHAT_BLOCKED')
    const toAlice = await sendText(bob, alice, 'I can still write to you')
    t.equal(toAlice.type, 'MESSAGE_RECEIVED_SELF', 'blocking is one-way')

    t.equal((await bob.client.request('UNBLOCK_USER', { userId: bob.userId, targetId: alice.userId })).type, 'USER_UNBLOCKED')
    t.equal((await alice.client.request('ADD_CONTACT', { userId: alice.userId, targetId: bob.userId })).payload.online, true, 'presence visible again')
    t.equal((await sendText(alice, bob, 'hello again')).type, 'MESSAGE_RECEIVED_SELF')
    t.same((await bob.client.request('LOAD_BLOCKED', {})).payload.userIds, [])
  })

  t.test('user search: substring, case-insensitive, paged, literal', async (t) => {
    const tag = randomBytes(3).toString('hex')
    const names = [`Zed${tag}a`, `zed${tag}B`, `xZED${tag}c`, `other${tag}`]
    const users = await Promise.all(names.map(async (n) => {
      const c = await connectWs(a.wsUrl())
      await c.request('REGISTER', { username: n, password: 'p' })
      return c
    }))
    t.teardown(() => Promise.all(users.map((c) => c.close())))
    const me = users[3]!
    const found = await me.request('SEARCH_USERS', { query: `ZED${tag}` })
    t.equal(found.type, 'USERS_FOUND')
    t.same(found.payload.users.map((u: any) => u.username).sort(), names.slice(0, 3).sort())
    t.equal(found.payload.hasMore, false)
    const page1 = await me.request('SEARCH_USERS', { query: `zed${tag}`, limit: 2 })
    const page2 = await me.request('SEARCH_USERS', { query: `zed${tag}`, limit: 2, offset: 2 })
    t.equal(page1.payload.users.length, 2)
    t.equal(page1.payload.hasMore, true)
    t.equal(page2.payload.users.length, 1)
    t.equal(new Set([...page1.payload.users, ...page2.payload.users].map((u: any) => u.userId)).size, 3, 'pages do not overlap')
    for (const q of ['.*', `${tag}.*`, '(', '[a-z]+', '\\', '^']) {
      const r = await me.request('SEARCH_USERS', { query: q })
      t.equal(r.type, 'USERS_FOUND', `query ${q}`)
      t.notOk(r.payload.users.some((u: any) => u.username.includes(tag)), `${q} is literal text`)
    }
    const injected = await me.request('SEARCH_USERS', { query: { $gt: '' } })
    t.equal(injected.type, 'USERS_SEARCH_FAILURE')
    t.equal(injected.payload.code, 'CHAT_BAD_REQUEST')
  })

  t.test('the conversation list: direct and rooms, newest first, with last message and unread, paged', async (t) => {
    const me = await registerUser(a.wsUrl(), 'me')
    const p1 = await registerUser(b.wsUrl(), 'p1')
    const p2 = await registerUser(b.wsUrl(), 'p2')
    t.teardown(() => Promise.all([me.client.close(), p1.client.close(), p2.client.close()]))
    await sendText(p1, me, 'from p1')
    const roomName = uniqueName('club')
    const room = (await p2.client.request('CREATE_ROOM', { name: roomName })).payload.room
    await me.client.request('JOIN_ROOM', { roomId: room.id })
    await p2.client.request('SEND_ROOM_MESSAGE', { senderId: p2.userId, roomId: room.id, content: 'in the club' })
    await sendText(p2, me, 'from p2')
    await sendText(p2, me, 'again p2')

    const list = await me.client.request('LOAD_CONVERSATIONS', {})
    t.equal(list.type, 'CONVERSATIONS_LOADED')
    const convs = list.payload.conversations
    t.same(convs.map((c: any) => c.name), [p2.username, roomName, p1.username], 'newest activity first, named')
    t.match(convs[0], { kind: 'direct', peerId: p2.userId, unread: 2, lastMessage: { content: 'again p2', senderId: p2.userId } })
    t.match(convs[1], { kind: 'room', conversationId: room.id, unread: 1, lastMessage: { content: 'in the club' } })
    t.match(convs[2], { kind: 'direct', peerId: p1.userId, unread: 1 })
    t.equal(list.payload.next, null)

    const first = await me.client.request('LOAD_CONVERSATIONS', { limit: 2 })
    t.equal(first.payload.conversations.length, 2)
    t.type(first.payload.next, 'string')
    const rest = await me.client.request('LOAD_CONVERSATIONS', { limit: 2, cursor: first.payload.next })
    t.same(rest.payload.conversations.map((c: any) => c.name), [p1.username])
    const bad = await me.client.request('LOAD_CONVERSATIONS', { cursor: 'garbage' })
    t.equal(bad.type, 'CONVERSATIONS_LOAD_FAILURE')
    t.equal(bad.payload.code, 'CHAT_BAD_REQUEST')
  })
})
