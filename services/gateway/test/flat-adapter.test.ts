import t from 'tap'
import { ChatError, type Message, type PublicUser } from '@chat/contracts'
import { flatApi } from '../src/apis/flat/adapter.js'
import { flatDialogs, renderFlatEvent, type FlatViewer } from '../src/apis/flat/render.js'
import { sessionOf, testConnection } from './fakes.js'

const message: Message = {
  id: 100, conversationId: 9, seq: 3, senderId: 1, recipientId: 2, kind: 'text', content: 'hi', createdAt: '2026-11-21T22:19:22.123Z',
}

const viewer = (userId: number, connectionId = 'gw:7', own: number[] = []): FlatViewer => ({
  connectionId, userId, ownDeletion: (id) => own.includes(id),
})

/** A real connection whose profile lookups resolve when the test says so. */
async function fakeContext (userId: number) {
  const lookups: Array<() => void> = []
  const users = {
    byIds: async (ids: number[]) => {
      await new Promise<void>((resolve) => lookups.push(resolve))
      return new Map<number, PublicUser>(ids.map((id) => [id, { id, username: `user${id}`, nickname: '', avatar: '' }]))
    },
  }
  const { connection, sent } = await testConnection(flatApi, { users, session: sessionOf(userId) })
  return { connection, sent, lookups }
}

t.test('decoding checks the type and every field it reads', async (t) => {
  t.same(flatApi.decode({ type: 'REQUEST_LOGIN', login: 'ann', pass: 'pw' }), { type: 'REQUEST_LOGIN', payload: { type: 'REQUEST_LOGIN', login: 'ann', pass: 'pw' } })
  t.match(flatApi.decode({ type: 'SND_MSG', username: 'ann', room_id: 5, message: 'x', msg_type: 'IMAGE', extra: 1 }), { payload: { room_id: 5, msg_type: 'IMAGE' } })
  t.throws(() => flatApi.decode({ type: 'WHAT' }), { code: 'CHAT_UNKNOWN_TYPE' })
  t.throws(() => flatApi.decode({ login: 'a' }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => flatApi.decode([1]), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => flatApi.decode(null), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => flatApi.decode({ type: 'SND_MSG', username: 'a', room_id: '5', message: 'x', msg_type: 'TEXT' }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => flatApi.decode({ type: 'SND_MSG', username: 'a', room_id: 5, message: 'x', msg_type: 'text' }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => flatApi.decode({ type: 'READ_MSG', read: 'RECENT', room_id: 5 }), { code: 'CHAT_BAD_REQUEST' }, 'the document spells it RESENT')
  t.throws(() => flatApi.decode({ type: 'SEARCH_USER', user: { $regex: '.' } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => flatApi.decode({ type: 'DELETE_MSG', id: 0 }), { code: 'CHAT_BAD_REQUEST' })
})

t.test('failures answer with the request\'s type, FAIL and an error', async (t) => {
  const err = new ChatError('CHAT_ID_MISMATCH')
  const req = flatApi.decode({ type: 'OLD_DIALOGS', username: 'x' })
  t.same(flatApi.failure(req, undefined, err), { type: 'OLD_DIALOGS', status: 'FAIL', error: err.message, code: 'CHAT_ID_MISMATCH' })
  t.match(flatApi.failure(undefined, { type: 'SND_MSG' }, err), { type: 'SND_MSG', status: 'FAIL' }, 'a frame that did not decode')
  t.match(flatApi.failure(undefined, { type: 'NOPE' }, err), { type: 'NOPE', status: 'FAIL' })
  t.match(flatApi.failure(undefined, 'garbage', err), { type: 'ERROR', status: 'FAIL' })
  t.match(flatApi.failure(undefined, { type: 7 }, err), { type: 'ERROR', status: 'FAIL' })
  const signup = flatApi.decode({ type: 'REQUEST_SIGNUP', login: 'a', pass: 'b' })
  t.match(flatApi.failure(signup, undefined, new ChatError('CHAT_BAD_REQUEST')), { type: 'RESPONSE_SIGNUP', status: 'SINGUP_FAIL', error: String })
  t.match(flatApi.failure(undefined, { type: 'REQUEST_SIGNUP' }, err), { type: 'REQUEST_SIGNUP', status: 'FAIL' })
})

t.test('events render per socket', async (t) => {
  const event = { kind: 'message.new' as const, userId: 2, message, originConnectionId: 'gw:1' }
  const toBob = renderFlatEvent(viewer(2), event)
  if (Array.isArray(toBob)) throw new Error('a new message needs the sender\'s username')
  t.same(toBob.userIds, [1])
  t.same(toBob.build(new Map([[1, 'ann']])), [{
    type: 'READ_MSG', status: 'OK', room_id: 9, message_id: 100, msg_type: 'TEXT', message: 'hi', date: message.createdAt, sender: 'ann',
  }])
  t.same(renderFlatEvent(viewer(1, 'gw:2'), { ...event, userId: 1 }), [], 'never to the sender\'s sockets')
  const sticker = renderFlatEvent(viewer(2), { kind: 'message.new', roomId: 9, message: { ...message, kind: 'sticker' } })
  if (Array.isArray(sticker)) throw new Error('expected a build')
  t.match(sticker.build(new Map()), [{ msg_type: 'STICKER', sender: '' }], 'kinds the document lacks keep their name')

  const edited = { kind: 'message.edited' as const, userId: 2, message: { ...message, content: 'new' }, originConnectionId: 'gw:7' }
  t.same(renderFlatEvent(viewer(2, 'gw:8'), edited), [{ type: 'EDIT_MSG', id: 100, new_msg: 'new' }])
  t.same(renderFlatEvent(viewer(2, 'gw:7'), edited), [], 'the editing socket got it as its answer')
  t.same(renderFlatEvent(viewer(2), { kind: 'message.deleted', roomId: 9, conversationId: 9, messageId: 100 }), [{ type: 'DELETE_MSG', id: 100 }])
  t.same(renderFlatEvent(viewer(2), { kind: 'room.deleted', roomId: 9 }), [{ type: 'DELETE_ROOM', id: 9 }])
  t.same(renderFlatEvent(viewer(2, 'gw:7', [9]), { kind: 'room.deleted', roomId: 9 }), [], 'the deleting socket got it as its answer')
  t.same(renderFlatEvent(viewer(2), { kind: 'conversation.deleted', userId: 2, conversationId: 9, peerId: 1 }), [{ type: 'DELETE_ROOM', id: 9 }])
  const created = renderFlatEvent(viewer(2), { kind: 'conversation.created', userId: 2, conversationId: 9, peerId: 1 })
  if (Array.isArray(created)) throw new Error('expected a build')
  t.same(created.build(new Map([[1, 'ann']])), [{ type: 'CREATE_ROOM', id: 9, customer: 'ann' }])
  t.same(renderFlatEvent(viewer(2), { kind: 'unread.changed', userId: 2, conversationId: 9, count: 1 }), [])
})

t.test('OLD_DIALOGS arrays stay aligned', async (t) => {
  t.same(flatDialogs([
    { conversationId: 3, name: 'ann', firstMessageId: 40 },
    { conversationId: 4, name: 'hall', firstMessageId: null },
  ]), { type: 'OLD_DIALOGS', dialogs: ['ann', 'hall'], id: [3, 4], first_massage_id: [40, null] })
})

t.test('pushes keep event order while usernames are looked up', async (t) => {
  const { connection, sent, lookups } = await fakeContext(2)
  connection.deliver({ kind: 'message.new', userId: 2, message })
  connection.deliver({ kind: 'message.edited', userId: 2, message: { ...message, content: 'new' } })
  t.same(sent, [], 'the edit waits behind the message')
  await new Promise((resolve) => setTimeout(resolve, 5))
  lookups.shift()?.()
  await new Promise((resolve) => setTimeout(resolve, 5))
  t.same(sent.map((f) => f.type), ['READ_MSG', 'EDIT_MSG'])
  t.equal(sent[0]?.sender, 'user1')
  connection.deliver({ kind: 'message.deleted', userId: 2, conversationId: 9, messageId: 100 })
  t.same(sent.at(-1), { type: 'DELETE_MSG', id: 100 }, 'straight out when nothing waits')
})
