// A message event carries its recipients' new unread counts; the gateway
// hands each socket the unread.changed it stands for.
import t from 'tap'
import type { Message, RoomEvent, UserEvent } from '@chat/contracts'
import { roomUnreadCarriedBy, unreadCarriedBy } from '../src/carried-unread.js'

const message: Message = { id: 7, conversationId: 40, seq: 3, senderId: 2, kind: 'text', content: 'hi', createdAt: '2026-12-01T00:00:00.000Z' }

t.test('a direct message\'s copy for its recipient stands for an unread.changed', async (t) => {
  const event: UserEvent = { kind: 'message.new', userId: 5, message, unread: 4 }
  t.same(unreadCarriedBy(event), { kind: 'unread.changed', userId: 5, conversationId: 40, peerId: 2, count: 4 })
  t.equal(unreadCarriedBy({ kind: 'message.new', userId: 2, message }), undefined, 'the sender\'s copy carries none')
  t.equal(unreadCarriedBy({ kind: 'unread.changed', userId: 5, conversationId: 40, count: 0 }), undefined)
})

t.test('a room message carries each member\'s count', async (t) => {
  const event: RoomEvent = { kind: 'message.new', roomId: 40, message, unread: { 5: 1, 6: 9 } }
  t.same(roomUnreadCarriedBy(event, 6), { kind: 'unread.changed', userId: 6, conversationId: 40, count: 9 })
  t.equal(roomUnreadCarriedBy(event, 2), undefined, 'not the sender, nor a member whose count is being rebuilt')
  t.equal(roomUnreadCarriedBy({ kind: 'message.new', roomId: 40, message }, 5), undefined)
})
