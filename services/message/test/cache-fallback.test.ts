/**
 * Redis failing under the message service's reads, against the real
 * MongoDB-wire server: unread counts (the list, the conversation list, the
 * recount after a read) are answered from MongoDB, and a send's block check
 * asks the contact service; each fallback is counted by its cache's name.
 */
import t, { type Test } from 'tap'
import type { UnreadCache } from '../src/unread.js'
import { code, counts, createFixture } from './fixtures/world.js'

const fx = await createFixture('cachefallback')
t.teardown(() => fx.close())
const { world, main, user, text, sendMany, summaryOf } = fx
const { chat } = main

/** chat_cache_fallbacks_total for one cache on the main replica (0 when never counted). */
async function fallbacks (cache: string): Promise<number> {
  const metric = await main.registry.getSingleMetric('chat_cache_fallbacks_total')?.get()
  return metric?.values.find((v) => v.labels.cache === cache)?.value ?? 0
}

/** Makes the unread cache's reads throw like an unreachable Redis, until the test ends. */
function breakUnreadReads (t: Test): void {
  const unread = main.ports.unread as unknown as Record<keyof UnreadCache, unknown>
  const names = ['all', 'peekMany', 'refresh'] as const
  const originals = names.map((name) => unread[name])
  for (const name of names) unread[name] = async () => { throw new Error('redis down') }
  t.teardown(() => { names.forEach((name, i) => { unread[name] = originals[i] }) })
}

t.test('unread counts: MongoDB answers when the cache cannot', async (t) => {
  const [a, b, c] = [user(), user(), user()]
  const fromA = await sendMany(a, b, 3, 'a')
  await sendMany(c, b, 2, 'c')
  const healthy = counts(await chat.unreadCounts({ actorId: b }))
  const ab = fromA[0]!.conversationId
  t.equal(healthy[ab], 3)

  breakUnreadReads(t)
  const before = await fallbacks('unread')
  t.same(counts(await chat.unreadCounts({ actorId: b })), healthy, 'message.unread')
  t.equal((await summaryOf(b, ab))?.unread, 3, 'the conversation list')
  t.equal((await chat.read({ actorId: b, messageId: fromA[1]!.id })).unread, 1, 'the recount after a read')
  t.equal(await fallbacks('unread'), before + 3, 'each read counted once')
})

t.test('a send\'s block check asks the contact service when the block cache cannot be read', async (t) => {
  const [a, b] = [user(), user()]
  await text(a, b, 'first') // the conversation exists: later sends take the direct hot path
  const mget = main.redis.mget.bind(main.redis)
  main.redis.mget = (async () => { throw new Error('redis down') }) as unknown as typeof main.redis.mget
  t.teardown(() => { main.redis.mget = mget })

  const before = { checks: world.blockChecks, fallbacks: await fallbacks('blocks') }
  t.equal((await text(a, b, 'still fine')).duplicate, false, 'not blocked: sent')
  world.blocks.add(`${b}:${a}`)
  t.equal(await code(text(a, b, 'blocked')), 'CHAT_BLOCKED', 'blocked: refused')
  t.equal(world.blockChecks - before.checks, 2, 'the contact service answered both')
  t.equal(await fallbacks('blocks') - before.fallbacks, 2)
})
