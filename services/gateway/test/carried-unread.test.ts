// A message event carries its recipients' new unread counts; the gateway
// hands each socket the unread.changed it stands for.
import t from 'tap'
import type { LiveEvent, Message } from '@chat/contracts'
import { unreadCarriedBy } from '../src/carried-unread.js'

const message: Message = { id: 7, conversationId: 40, seq: 3, senderId: 2, recipientId: 5, kind: 'text', content: 'hi', createdAt: '2026-12-01T00:00:00.000Z' }

t.test('a direct message stands for its recipient\'s unread.changed, with the sender as peer', async (t) => {
  const event: LiveEvent = { kind: 'message.new', userId: 5, message, unread: { 5: 4 } }
  t.same(unreadCarriedBy(event, 5), { kind: 'unread.changed', userId: 5, conversationId: 40, peerId: 2, count: 4 })
  t.equal(unreadCarriedBy({ ...event, userId: 2 }, 2), undefined, 'nothing for the sender, whose copy is the same event')
  t.equal(unreadCarriedBy({ kind: 'message.new', userId: 5, message }, 5), undefined, 'nothing while the count is rebuilt')
  t.equal(unreadCarriedBy({ kind: 'unread.changed', userId: 5, conversationId: 40, count: 0 }, 5), undefined)
})

t.test('a room message carries each member\'s count, without a peer', async (t) => {
  const roomMessage = { ...message, recipientId: undefined }
  const event: LiveEvent = { kind: 'message.new', roomId: 40, message: roomMessage, unread: { 5: 1, 6: 9 } }
  t.same(unreadCarriedBy(event, 6), { kind: 'unread.changed', userId: 6, conversationId: 40, count: 9 })
  t.equal(unreadCarriedBy(event, 2), undefined, 'not the sender, nor a member whose count is being rebuilt')
  t.equal(unreadCarriedBy({ kind: 'message.new', roomId: 40, message: roomMessage }, 5), undefined)
})
