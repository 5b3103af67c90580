// Requests as promises: ids, answers, failures with the server's code,
// timeouts, and requests made before the login.
import t from 'tap'
import { ChatSdkError } from '../src/index.js'
import { SESSION, scriptedServer, sleep, testClient } from './helpers.js'

t.test('each request gets its own id and is settled by the answer carrying it', async (t) => {
  const server = await scriptedServer(t)
  // Answers in reverse order, with a push (no id) in between: each promise gets its own.
  const held: Array<{ id: unknown, socket: import('ws').WebSocket }> = []
  server.on('SEARCH_USERS', (f, socket) => {
    held.push({ id: f.id, socket })
    if (held.length < 2) return undefined
    socket.send(JSON.stringify({ type: 'TYPING', payload: { conversationId: 1, userId: 2, typing: true } }))
    for (const h of held.reverse()) h.socket.send(JSON.stringify({ type: 'USERS_FOUND', id: h.id, payload: { users: [{ userId: h.id }], hasMore: false } }))
    return undefined
  })
  const client = testClient(t, server.url)
  const session = await client.connect({ token: 'tok-1' })
  t.same(session, SESSION)
  const typing: unknown[] = []
  client.on('typing', (e) => typing.push(e))
  const [a, b] = await Promise.all([client.searchUsers('a'), client.searchUsers('b')])
  const ids = server.frames.filter((f) => f.type === 'SEARCH_USERS').map((f) => f.id)
  t.equal(new Set(ids).size, 2, 'distinct ids')
  t.same(a.users, [{ userId: ids[0] }])
  t.same(b.users, [{ userId: ids[1] }])
  t.same(typing, [{ conversationId: 1, userId: 2, typing: true }], 'the push is an event, not an answer')
  t.match(server.frames[0], { type: 'LOGIN_BY_TOKEN', payload: { token: 'tok-1' } })
})

t.test('a failure rejects with the server\'s code; no answer rejects with SDK_TIMEOUT', async (t) => {
  const server = await scriptedServer(t)
  server.on('ADD_CONTACT', () => ({ type: 'CONTACT_ADDED_FAILED', payload: { error: 'Already a contact', code: 'CHAT_CONTACT_EXISTS' } }))
  server.on('LOAD_BLOCKED', () => undefined)
  server.on('SEND_MESSAGE', () => ({ type: 'MESSAGE_SEND_FAILURE', payload: { error: 'blocked', code: 'CHAT_BLOCKED', messageId: 'x' } }))
  const client = testClient(t, server.url, { requestTimeoutMs: 200 })
  await client.connect({ token: 'tok-1' })
  await t.rejects(client.addContact(5), { name: 'ChatSdkError', code: 'CHAT_CONTACT_EXISTS', message: 'Already a contact', frameType: 'CONTACT_ADDED_FAILED' })
  const add = server.frames.find((f) => f.type === 'ADD_CONTACT')
  t.same(add?.payload, { userId: SESSION.userId, targetId: 5 }, 'the caller\'s id filled in from the session')
  const started = Date.now()
  await t.rejects(client.loadBlocked(), { code: 'SDK_TIMEOUT' })
  t.ok(Date.now() - started >= 190, 'after the timeout')
  await t.rejects(client.sendMessage(5, 'hi', { messageId: 'x' }), { code: 'CHAT_BLOCKED', messageId: 'x' }, 'a refused send is not retried')
  t.equal(server.frames.filter((f) => f.type === 'SEND_MESSAGE').length, 1)
})

t.test('a request made before the login waits for it; a refused login rejects connect and ends the session', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  server.on('LOAD_UNREAD', () => ({ type: 'UNREAD_LOADED', payload: { conversations: [{ conversationId: 7, peerId: 200, count: 2 }] } }))
  const early = client.loadUnread()
  await client.connect({ username: 'alice', password: 'pw' })
  t.same(await early, [{ conversationId: 7, peerId: 200, count: 2 }])
  t.match(server.frames[0], { type: 'LOGIN', payload: { username: 'alice', password: 'pw' } })

  const refused = await scriptedServer(t)
  refused.on('LOGIN', () => ({ type: 'LOGIN_FAILURE', payload: { error: 'Wrong username or password', code: 'CHAT_BAD_CREDENTIALS' } }))
  const other = testClient(t, refused.url)
  const ended: ChatSdkError[] = []
  other.on('sessionEnded', (e) => ended.push(e))
  await t.rejects(other.connect({ username: 'alice', password: 'nope' }), { code: 'CHAT_BAD_CREDENTIALS' })
  t.equal(other.state, 'closed')
  t.equal(ended[0]?.code, 'CHAT_BAD_CREDENTIALS')
  await t.rejects(other.loadUnread(), { code: 'SDK_CLOSED' })
  await sleep(100)
  t.equal(refused.accepted.length, 1, 'no reconnect after a refused login')
})
