/**
 * Blocks on the direct send path: the contact service's cached answers
 * (shared Redis keys) decide a whole batch in one round trip; only pairs
 * without a cached answer are asked of the contact service.
 */
import t from 'tap'
import { blockCacheKey } from '@chat/contracts'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('direct-blocks')
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
