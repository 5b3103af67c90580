// Blocking in the contact service, in-process against the real NATS, Redis
// and MongoDB-wire server, with a stub auth service. Namespaced by a random
// NATS prefix, database and Redis key prefix, removed afterwards. Presence
// lasts a minute here, so nothing expires while a slow machine runs a test;
// each test uses its own user ids.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { Commands, QueueGroups, type PublicUser, type UserEvent } from '@chat/contracts'
import { domainEventSettings, encodeJson } from '@chat/runtime'
import { outcome as code, startServiceUnderTest, type CapturedEvent } from '@chat/runtime/testing'
import { loadContactConfig } from '../src/config.js'
import { buildContactService } from '../src/app.js'

/** Users 1–99 exist (username `user<id>`); higher ids don't. */
const userOf = (id: number): PublicUser | undefined => id < 100 ? { id, username: `user${id}`, nickname: '', avatar: '' } : undefined

const harness = await startServiceUnderTest(t, {
  name: 'contact',
  queue: QueueGroups.contact,
  tag: 'contact-blocks',
  configFor: loadContactConfig,
  env: { PRESENCE_TTL_MS: '60000', PRESENCE_SWEEP_MS: '100' },
  setup: (deps, config) => buildContactService(deps, { presenceTtlMs: config.PRESENCE_TTL_MS, presenceSweepMs: config.PRESENCE_SWEEP_MS, domainEvents: domainEventSettings(config) }),
  stubs: {
    [Commands.auth.getUsers]: async (req) => {
      const fromNames = (req.usernames ?? []).map((n) => /^user(\d+)$/i.exec(n)).map((m) => Number(m?.[1] ?? 0))
      const users = [...new Set([...(req.ids ?? []), ...fromNames])].map(userOf).filter((u) => u !== undefined)
      return { users }
    },
  },
})
const { config, nc, client } = harness
const events = harness.events as Array<CapturedEvent<UserEvent>>

/** Presence events addressed to `watcher`, as [contactId, online], in arrival order; taken off the queue. */
function presenceFor (watcher: number): Array<[number, boolean]> {
  const mine = events.filter((e) => e.event.kind === 'presence.changed' && e.event.userId === watcher)
  for (const e of mine) events.splice(events.indexOf(e), 1)
  return mine.map((e) => e.event.kind === 'presence.changed' ? [e.event.contactId, e.event.online] : [0, false])
}

/** Waits until `watcher` has received `count` presence events, then a little more for strays; returns them. */
async function waitPresence (watcher: number, count: number, timeoutMs = 5000): Promise<Array<[number, boolean]>> {
  const deadline = Date.now() + timeoutMs
  const mine = () => events.filter((e) => e.event.kind === 'presence.changed' && e.event.userId === watcher).length
  while (mine() < count && Date.now() < deadline) await sleep(20)
  await sleep(100)
  return presenceFor(watcher)
}

const blocked = async (actorId: number) => (await client.call(Commands.contact.listBlocked, { actorId })).userIds
const check = async (blockerId: number, blockedId: number) => (await client.call(Commands.contact.checkBlocked, { blockerId, blockedId })).blocked
const online = async (actorId: number) => (await client.call(Commands.contact.list, { actorId })).contacts.map((c) => [c.userId, c.online])

t.test('block, check, list and unblock; refusals; idempotence', async (t) => {
  t.equal(await code(client.call(Commands.contact.block, { actorId: 1, targetId: 1 })), 'CHAT_SELF_TARGET')
  t.equal(await code(client.call(Commands.contact.block, { actorId: 1, targetId: 500 })), 'CHAT_USER_NOT_FOUND')
  t.same(await blocked(1), [], 'refusals stored nothing')
  t.equal(await check(1, 2), false, 'not blocked yet (and that answer is now cached)')
  t.equal(await check(1, 2), false)

  t.same(await client.call(Commands.contact.block, { actorId: 1, targetId: 2 }), {})
  t.same(await client.call(Commands.contact.block, { actorId: 1, targetId: 2 }), {}, 'blocking twice is fine')
  await sleep(5) // distinct createdAt
  await client.call(Commands.contact.block, { actorId: 1, targetId: 4 })
  await sleep(5)
  await client.call(Commands.contact.block, { actorId: 1, targetId: 3 })
  await client.call(Commands.contact.block, { actorId: 1, targetId: 2 })
  t.same(await blocked(1), [2, 4, 3], 'in block order; re-blocking keeps the original place')
  t.same(await blocked(2), [], 'one-directional')

  t.equal(await check(1, 2), true)
  t.equal(await check(2, 1), false, 'directed')
  t.equal(await check(1, 5), false)
  t.equal(await check(1, 1), false)
  t.equal(await check(1, 500), false, 'unknown users are simply not blocked')

  t.equal(await check(1, 4), true)
  t.same(await client.call(Commands.contact.unblock, { actorId: 1, targetId: 4 }), {})
  t.same(await client.call(Commands.contact.unblock, { actorId: 1, targetId: 4 }), {}, 'unblocking twice is fine')
  t.same(await client.call(Commands.contact.unblock, { actorId: 1, targetId: 500 }), {}, 'unblocking an unknown user is fine')
  t.same(await client.call(Commands.contact.unblock, { actorId: 1, targetId: 1 }), {}, 'nothing to unblock for oneself')
  t.equal(await check(1, 4), false, 'the cached answer followed the unblock')
  t.same(await blocked(1), [2, 3])

  const raw = async (subject: string, payload: unknown) => {
    const msg = await nc.request(`${client.subjects.base}.${subject}`, encodeJson(payload), { timeout: 10000 })
    return msg.headers?.get('Chat-Error-Code') ?? 'ok'
  }
  t.equal(await raw(Commands.contact.block, { actorId: 1, targetId: '5' }), 'CHAT_BAD_REQUEST')
  t.equal(await raw(Commands.contact.block, { actorId: 1, targetId: { $gt: 0 } }), 'CHAT_BAD_REQUEST')
  t.equal(await raw(Commands.contact.checkBlocked, { blockerId: 1 }), 'CHAT_BAD_REQUEST')
  t.equal(await raw(Commands.contact.listBlocked, { actorId: 1, extra: 1 }), 'CHAT_BAD_REQUEST')
})

t.test('concurrent blocks of one user: all succeed, one block stored', async (t) => {
  const results = await Promise.all(Array.from({ length: 5 }, () => code(client.call(Commands.contact.block, { actorId: 6, targetId: 7 }))))
  t.same(results, ['ok', 'ok', 'ok', 'ok', 'ok'])
  t.same(await blocked(6), [7])
})

t.test('the blocked user cannot add the blocker; nothing is stored', async (t) => {
  // 10 blocks 11.
  await client.call(Commands.contact.block, { actorId: 10, targetId: 11 })
  events.length = 0
  t.equal(await code(client.call(Commands.contact.add, { actorId: 11, targetId: 10 })), 'CHAT_BLOCKED')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 11, targetUsername: 'USER10' })), 'CHAT_BLOCKED', 'by name too')
  t.same(await online(11), [], 'nothing stored')
  await sleep(100)
  t.same(events, [], 'no contacts.changed')

  t.equal((await client.call(Commands.contact.add, { actorId: 10, targetId: 11 })).contact.userId, 11, 'the blocker may add the blocked')
  t.equal((await client.call(Commands.contact.add, { actorId: 11, targetId: 12 })).contact.userId, 12, 'others are unaffected')

  await client.call(Commands.contact.unblock, { actorId: 10, targetId: 11 })
  t.equal((await client.call(Commands.contact.add, { actorId: 11, targetId: 10 })).contact.userId, 10, 'after unblocking, the add works')
})

t.test('an existing contact is kept across block and unblock', async (t) => {
  await client.call(Commands.contact.add, { actorId: 16, targetId: 15 })
  await client.call(Commands.contact.block, { actorId: 15, targetId: 16 })
  t.same(await online(16), [[15, false]], 'still listed')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 16, targetId: 15 })), 'CHAT_BLOCKED')
  t.same(await client.call(Commands.contact.remove, { actorId: 16, targetId: 15 }), {}, 'the blocked user may still remove the blocker')
  t.same(await online(16), [])
})

t.test('presence of the blocker is hidden from the blocked user, and restored', async (t) => {
  // 20 is watched by 21 (to be blocked) and 22; 21 also watches 23.
  const A = 20; const B = 21; const C = 22; const D = 23
  await client.call(Commands.contact.add, { actorId: B, targetId: A })
  await client.call(Commands.contact.add, { actorId: C, targetId: A })
  await client.call(Commands.contact.add, { actorId: B, targetId: D })
  await client.call(Commands.contact.add, { actorId: A, targetId: B })
  events.length = 0

  await client.call(Commands.contact.presenceOnline, { userId: A, gatewayId: 'gw-1' })
  t.same(await waitPresence(B, 1), [[A, true]])
  t.same(await waitPresence(C, 1), [[A, true]])

  // Blocking while online: B is told A went offline; nobody else hears anything.
  await client.call(Commands.contact.block, { actorId: A, targetId: B })
  t.same(await waitPresence(B, 1), [[A, false]])
  t.same(presenceFor(C), [], 'other watchers: nothing')
  await client.call(Commands.contact.block, { actorId: A, targetId: B })
  t.same(await waitPresence(B, 0), [], 'blocking again: no second notice')
  t.same(await online(B), [[A, false], [D, false]], 'B\'s list shows A offline')
  t.same(await online(C), [[A, true]], 'C\'s list shows A online')

  // B online: A (the blocker) still sees B; blocking is one-directional.
  await client.call(Commands.contact.presenceOnline, { userId: B, gatewayId: 'gw-1' })
  t.same(await waitPresence(A, 1), [[B, true]])
  t.same(await online(A), [[B, true]])

  // A's transitions reach C but not B, also in a batch with someone B may see.
  await client.call(Commands.contact.presenceOffline, { userId: A, gatewayId: 'gw-1' })
  t.same(await waitPresence(C, 1), [[A, false]])
  t.same(presenceFor(B), [], 'B is not told')
  client.send(Commands.contact.presenceHeartbeat, { gatewayId: 'gw-2', userIds: [A, D] })
  t.same(await waitPresence(C, 1), [[A, true]])
  t.same(await waitPresence(B, 1), [[D, true]], 'the same batch: B hears of D, not of A')
  t.same(await online(B), [[A, false], [D, true]])

  // Unblocking while A is online: B is told A's real state.
  await client.call(Commands.contact.unblock, { actorId: A, targetId: B })
  t.same(await waitPresence(B, 1), [[A, true]])
  t.same(presenceFor(C), [])
  t.same(await online(B), [[A, true], [D, true]])
  await client.call(Commands.contact.unblock, { actorId: A, targetId: B })
  t.same(await waitPresence(B, 0), [], 'unblocking again: no second notice')

  // And transitions reach B again.
  await client.call(Commands.contact.presenceOffline, { userId: A, gatewayId: 'gw-2' })
  t.same(await waitPresence(B, 1), [[A, false]])
  t.same(await waitPresence(C, 1), [[A, false]])

  // Blocking while A is offline says nothing (B already sees A offline); unblocking says "offline".
  await client.call(Commands.contact.block, { actorId: A, targetId: B })
  t.same(await waitPresence(B, 0), [])
  await client.call(Commands.contact.unblock, { actorId: A, targetId: B })
  t.same(await waitPresence(B, 1), [[A, false]])
  await client.call(Commands.contact.presenceOffline, { userId: B, gatewayId: 'gw-1' })
  await client.call(Commands.contact.presenceOffline, { userId: D, gatewayId: 'gw-2' })
})

t.test('blocking someone who does not have the blocker as a contact tells them nothing', async (t) => {
  const A = 30; const B = 31
  await client.call(Commands.contact.presenceOnline, { userId: A, gatewayId: 'gw-1' })
  events.length = 0
  await client.call(Commands.contact.block, { actorId: A, targetId: B })
  await client.call(Commands.contact.unblock, { actorId: A, targetId: B })
  t.same(await waitPresence(B, 0), [])
  await client.call(Commands.contact.presenceOffline, { userId: A, gatewayId: 'gw-1' })
})

t.test('contact.blocks.check: cached in Redis, exact across block and unblock', async (t) => {
  await client.call(Commands.contact.block, { actorId: 40, targetId: 41 })
  const n = 50
  const started = performance.now()
  for (let i = 0; i < n; i++) await check(40, i % 2 === 0 ? 41 : 42)
  const ms = (performance.now() - started) / n
  t.comment(`contact.blocks.check: ${ms.toFixed(2)} ms per call over NATS (sequential, ${n} calls)`)
  const raw = new Redis(config.REDIS_URL)
  t.teardown(() => raw.quit())
  t.equal(await raw.get(`${config.REDIS_PREFIX}block:40:41`), '1', 'cached')
  t.equal(await raw.get(`${config.REDIS_PREFIX}block:40:42`), '0')
  await client.call(Commands.contact.unblock, { actorId: 40, targetId: 41 })
  await client.call(Commands.contact.block, { actorId: 40, targetId: 42 })
  t.equal(await check(40, 41), false)
  t.equal(await check(40, 42), true)
})
