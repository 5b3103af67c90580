// Pushes become typed events; a conversation that ends is no longer followed.
import t from 'tap'
import type { ChatEvents } from '../src/index.js'
import { msg, scriptedServer, testClient, until } from './helpers.js'

const cases: Array<[string, keyof ChatEvents, object]> = [
  ['MESSAGE_READ', 'read', { conversationId: 7, readerId: 200, seq: 3, messageId: 1003 }],
  ['TYPING', 'typing', { conversationId: 7, userId: 200, typing: true }],
  ['PRESENCE_CHANGED', 'presence', { userId: 200, online: false }],
  ['UNREAD_UPDATED', 'unread', { conversationId: 7, peerId: 200, count: 4 }],
  ['CONTACTS_CHANGED', 'contactsChanged', { added: 200, removed: null }],
  ['MESSAGES_CLEARED', 'messagesCleared', { userId: 100, targetUserId: 200, conversationId: 7 }],
  ['CONVERSATION_CREATED', 'conversationCreated', { conversationId: 8, userId: 200 }],
  ['ROOM_MEMBER_JOINED', 'roomMemberJoined', { roomId: 9, userId: 200, username: 'bob', nickname: '', at: '2026-12-03T10:00:00.000Z' }],
  ['ROOM_MEMBER_LEFT', 'roomMemberLeft', { roomId: 9, userId: 200, username: 'bob', nickname: '', at: '2026-12-03T10:00:00.000Z' }],
  ['ROOM_MEMBERSHIP_CHANGED', 'roomMembership', { roomId: 9, member: false }],
  ['ROOM_DELETED', 'roomDeleted', { roomId: 10 }],
  ['CONVERSATION_DELETED', 'conversationDeleted', { conversationId: 7, userId: 100, targetUserId: 200 }],
]

t.test('every push type becomes its event', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  await client.connect({ token: 'tok-1' })
  const got: Array<[string, unknown]> = []
  for (const [, event] of cases) client.on(event, (v) => got.push([event, v]))
  server.push({ type: 'MESSAGE_RECEIVED_OTHER', payload: msg(1) })
  server.push({ type: 'MESSAGE_RECEIVED_OTHER', payload: msg(1, { conversationId: 9, id: 2001 }) })
  server.push({ type: 'MESSAGE_RECEIVED_OTHER', payload: msg(1, { conversationId: 10, id: 2002 }) })
  await until(() => client.positions().length === 3)
  for (const [type, , payload] of cases) server.push({ type, payload })
  server.push({ type: 'SOMETHING_NEW', payload: {} })
  await until(() => got.length === cases.length)
  t.same(got, cases.map(([, event, payload]) => [event, payload]))
  t.same(client.positions(), [], 'a room left, a room deleted and a conversation deleted are no longer followed')
})

t.test('logout revokes the token, then closes the client', async (t) => {
  const server = await scriptedServer(t)
  server.on('LOGOUT', () => ({ type: 'LOGOUT_SUCCESS', payload: {} }))
  const client = testClient(t, server.url)
  await client.connect({ token: 'tok-1' })
  await client.logout()
  t.match(server.frames.at(-1), { type: 'LOGOUT', payload: { userId: 100 } })
  t.equal(client.state, 'closed')
  await t.rejects(client.loadUnread(), { code: 'SDK_CLOSED' })
})
