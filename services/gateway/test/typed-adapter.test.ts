import t from 'tap'
import { ChatError, type Message } from '@chat/contracts'
import { typedApi } from '../src/apis/typed/adapter.js'
import { renderTypedEvent } from '../src/apis/typed/render.js'

t.test('decoding checks the envelope, the type and the payload', async (t) => {
  const req = typedApi.decode({ type: 'LOGIN', id: 'a1', payload: { username: 'ann', password: 'pw' } })
  t.same(req, { type: 'LOGIN', id: 'a1', payload: { username: 'ann', password: 'pw' } })
  t.throws(() => typedApi.decode({ type: 'WHAT', payload: {} }), { code: 'CHAT_UNKNOWN_TYPE' })
  t.throws(() => typedApi.decode({ type: 'LOGIN', payload: { username: { $gt: '' }, password: 'x' } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => typedApi.decode({ type: 'SEND_MESSAGE', payload: { senderId: '1', receiverId: 2, content: 'x' } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => typedApi.decode([1, 2]), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => typedApi.decode({ type: 'LOGIN_BY_TOKEN' }), { code: 'CHAT_BAD_REQUEST' }, 'missing payload fields')
})

t.test('failures use the request\'s failure type and echo its id', async (t) => {
  const err = new ChatError('CHAT_BAD_CREDENTIALS')
  const req = typedApi.decode({ type: 'LOGIN', id: 7, payload: { username: 'a', password: 'b' } })
  t.same(typedApi.failure(req, undefined, err), { type: 'LOGIN_FAILURE', id: 7, payload: { error: err.message, code: 'CHAT_BAD_CREDENTIALS' } })
  t.equal(typedApi.failure(undefined, { type: 'REGISTER', id: 'x' }, err).type, 'REGISTER_FAILURE', 'undecodable payload of a known type')
  t.equal(typedApi.failure(undefined, { type: 'UPDATE_PROFILE' }, err).type, 'PROFILE_UPDATE_FAILURE')
  t.equal(typedApi.failure(undefined, { type: 'NOPE', id: 'z' }, err).type, 'ERROR')
  t.equal(typedApi.failure(undefined, { type: 'NOPE', id: 'z' }, err).id, 'z')
  t.equal(typedApi.failure(undefined, 'garbage', err).type, 'ERROR')
  const send = typedApi.decode({ type: 'SEND_MESSAGE', payload: { messageId: 5, senderId: 1, receiverId: 2, content: 'x' } })
  t.match(typedApi.failure(send, undefined, err), { type: 'MESSAGE_SEND_FAILURE', payload: { messageId: 5 } })
})

t.test('a message is shown per socket: recipient, sender elsewhere, sending socket', async (t) => {
  const message: Message = {
    id: 100, conversationId: 9, seq: 3, senderId: 1, recipientId: 2, kind: 'text', content: 'hi', createdAt: '2026-11-21T22:19:22.123Z',
  }
  const event = { kind: 'message.new' as const, userId: 2, message, originConnectionId: 'gw:1' }
  t.match(renderTypedEvent('gw:7', 2, event), [{ type: 'MESSAGE_RECEIVED_OTHER', payload: { id: 100, senderId: 1, receiverId: 2, status: 'sent', type: 'text', timestamp: message.createdAt } }])
  t.match(renderTypedEvent('gw:2', 1, { ...event, userId: 1 }), [{ type: 'MESSAGE_SENT' }])
  t.same(renderTypedEvent('gw:1', 1, { ...event, userId: 1 }), [], 'the sending socket got MESSAGE_RECEIVED_SELF instead')
  t.match(renderTypedEvent('gw:1', 2, { kind: 'unread.changed', userId: 2, conversationId: 9, peerId: 1, count: 4 }), [{ type: 'UNREAD_UPDATED', payload: { conversationId: 9, peerId: 1, count: 4 } }])
  t.match(renderTypedEvent('gw:1', 2, { kind: 'presence.changed', userId: 2, contactId: 1, online: true }), [{ type: 'PRESENCE_CHANGED', payload: { userId: 1, online: true } }])
})

t.test('a room message\'s push is built once for all the recipients\' sockets of a gateway', async (t) => {
  const message = { id: 7, conversationId: 40, seq: 3, senderId: 2, kind: 'text' as const, content: 'hi', createdAt: '2026-12-01T00:00:00.000Z' }
  const event = { kind: 'message.new' as const, roomId: 40, message }
  const a = renderTypedEvent('gw:1', 5, event)
  const b = renderTypedEvent('gw:2', 6, event)
  t.equal(a, b, 'the same frames, so they are encoded once')
  t.match(a, [{ type: 'MESSAGE_RECEIVED_OTHER', payload: { id: 7, content: 'hi' } }])
  t.same(renderTypedEvent('gw:3', 2, event), [{ type: 'MESSAGE_SENT', payload: a[0]!.payload }], 'the sender\'s other sockets get theirs')

  const joined = { kind: 'member.joined' as const, roomId: 40, userId: 9, username: 'ida', nickname: '', at: '2026-12-01T00:00:00.000Z' }
  t.equal(renderTypedEvent('gw:1', 5, joined), renderTypedEvent('gw:2', 6, joined), 'a join notice too')
  t.same(renderTypedEvent('gw:4', 9, joined), [], 'not to the one who joined')
})

t.test('one shape for a conversation\'s events: a room\'s name the room as well', async (t) => {
  t.same(renderTypedEvent('gw:1', 5, { kind: 'message.deleted', roomId: 40, conversationId: 40, messageId: 7 }),
    [{ type: 'MESSAGE_DELETED', payload: { messageId: 7, conversationId: 40, roomId: 40 } }])
  t.same(renderTypedEvent('gw:1', 5, { kind: 'message.deleted', userId: 5, conversationId: 9, messageId: 7 }),
    [{ type: 'MESSAGE_DELETED', payload: { messageId: 7, conversationId: 9 } }])
  const roomTyping = { kind: 'typing' as const, roomId: 40, conversationId: 40, fromUserId: 2, typing: true }
  t.same(renderTypedEvent('gw:1', 5, roomTyping), [{ type: 'TYPING', payload: { conversationId: 40, roomId: 40, userId: 2, typing: true } }])
  t.same(renderTypedEvent('gw:3', 2, roomTyping), [], 'not to the typist')
  t.same(renderTypedEvent('gw:1', 5, { kind: 'typing', userId: 5, conversationId: 9, fromUserId: 2, typing: false }),
    [{ type: 'TYPING', payload: { conversationId: 9, userId: 2, typing: false } }])
})
