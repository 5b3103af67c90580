import t from 'tap'
import type { LiveEvent } from '@chat/contracts'
import { RecentMessages } from '../src/recent-messages.js'

const message = (id: number): LiveEvent => ({
  kind: 'message.new',
  userId: 2,
  message: { id, conversationId: 9, seq: id, senderId: 1, recipientId: 2, kind: 'text', content: 'x', createdAt: '2026-12-03T00:00:00.000Z' },
})

t.test('a message announced again is admitted once; other events always', async (t) => {
  const recent = new RecentMessages()
  t.equal(recent.admit(message(1)), true)
  t.equal(recent.admit(message(2)), true)
  t.equal(recent.admit(message(1)), false, 'the repeat is dropped')
  const typing = { kind: 'typing', userId: 2, conversationId: 9, fromUserId: 1, typing: true } as unknown as LiveEvent
  t.equal(recent.admit(typing), true)
  t.equal(recent.admit(typing), true, 'only messages are remembered')
})

t.test('bounded: the oldest ids are forgotten first', async (t) => {
  const recent = new RecentMessages()
  for (let id = 1; id <= 257; id++) recent.admit(message(id))
  t.equal(recent.admit(message(257)), false, 'the newest is remembered')
  t.equal(recent.admit(message(2)), false, 'so are the 256 newest')
  t.equal(recent.admit(message(1)), true, 'the oldest was forgotten')
})
