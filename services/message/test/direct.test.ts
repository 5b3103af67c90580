/**
 * The direct send path (send/direct.ts): blocks are decided by the contact
 * service's cached answers (shared Redis keys) for a whole batch in one
 * round trip, only misses asked of the contact service; a pair's
 * conversation id is remembered per replica, and a deletion on another
 * replica still starts a new conversation.
 */
import t from 'tap'
import { blockCacheKey } from '@chat/contracts'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('direct')
t.teardown(() => fx.close())
const { world, main } = fx
const { chat } = main

t.test('cached answers decide without asking the contact service; misses ask', async (t) => {
  const a = fx.user()
  const b = fx.user()
  await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'first' })

  await main.redis.set(blockCacheKey(b, a), '1')
  let asked = world.blockChecks
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'text', content: 'blocked' })), 'CHAT_BLOCKED', 'a cached block refuses')
  t.equal(world.blockChecks, asked, 'without asking')

  await main.redis.set(blockCacheKey(b, a), '0')
  const sent = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'allowed' })
  t.equal(sent.message.content, 'allowed', 'a cached "not blocked" admits')
  t.equal(world.blockChecks, asked, 'without asking')

  await main.redis.set(blockCacheKey(b, a), 'lease:someone')
  asked = world.blockChecks
  await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'asked' })
  t.equal(world.blockChecks, asked + 1, 'a lease (being filled) is a miss: the contact service is asked')

  await main.redis.del(blockCacheKey(b, a))
  world.blocks.add(`${b}:${a}`)
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'text', content: 'blocked again' })), 'CHAT_BLOCKED', 'a miss asks, and the answer holds')
  world.blocks.delete(`${b}:${a}`)
})

t.test('a conversation deleted on another replica: the next message starts a new one here', async (t) => {
  const other = await fx.replica()
  const a = fx.user()
  const b = fx.user()
  const first = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'one' })
  const second = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'two' })
  t.equal(second.message.conversationId, first.message.conversationId, 'remembered')
  await other.chat.deleteConversation({ actorId: b, peerId: a })
  const third = await chat.send({ actorId: a, peerId: b, kind: 'text', content: 'three' })
  t.not(third.message.conversationId, first.message.conversationId, 'a new conversation')
  t.equal(third.message.seq, 1)
  const page = await other.chat.history({ actorId: b, peerId: a })
  t.same(page.messages.map((m) => m.content), ['three'], 'holding only the new message, on either replica')
})
