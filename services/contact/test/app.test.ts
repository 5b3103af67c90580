// The contact service in-process against the real NATS, Redis and
// MongoDB-wire server, with a stub auth service answering auth.users.get.
// Everything is namespaced by a random NATS prefix, database and Redis key
// prefix, and removed afterwards.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Commands, QueueGroups, type PublicUser, type UserEvent } from '@chat/contracts'
import { outcome as code, startServiceUnderTest, type CapturedEvent } from '@chat/runtime/testing'
import { domainEventSettings } from '@chat/runtime'
import { loadContactConfig } from '../src/config.js'
import { buildContactService } from '../src/app.js'

const known: PublicUser[] = [
  { id: 1, username: 'alice', nickname: 'Alice', avatar: 'a.png' },
  { id: 2, username: 'Bob', nickname: 'Bobby', avatar: '' },
  { id: 3, username: 'carol', nickname: '', avatar: '' },
  { id: 4, username: 'dave', nickname: '', avatar: '' },
]
let authCalls = 0

const harness = await startServiceUnderTest(t, {
  name: 'contact',
  queue: QueueGroups.contact,
  configFor: loadContactConfig,
  env: { PRESENCE_TTL_MS: '1000', PRESENCE_SWEEP_MS: '100' },
  setup: (deps, config) => buildContactService(deps, { presenceTtlMs: config.PRESENCE_TTL_MS, presenceSweepMs: config.PRESENCE_SWEEP_MS, domainEvents: domainEventSettings(config) }),
  stubs: {
    [Commands.auth.getUsers]: async (req) => {
      authCalls++
      const ids = new Set(req.ids ?? [])
      const names = new Set((req.usernames ?? []).map((n) => n.toLowerCase()))
      return { users: known.filter((u) => ids.has(u.id) || names.has(u.username.toLowerCase())) }
    },
  },
  timeoutMs: 5000,
})
const { config, service, client } = harness
const events = harness.events as Array<CapturedEvent<UserEvent>>

/** Waits until an event matching `pred` has arrived; returns it. */
async function waitEvent (pred: (e: UserEvent, subject: string) => boolean, timeoutMs = 5000): Promise<UserEvent> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const hit = events.find((e) => pred(e.event, e.subject))
    if (hit) {
      events.splice(events.indexOf(hit), 1)
      return hit.event
    }
    if (Date.now() > deadline) throw new Error('event did not arrive')
    await sleep(20)
  }
}

t.test('add by id and by username; the event goes to the actor', async (t) => {
  const added = await client.call(Commands.contact.add, { actorId: 1, targetId: 2 })
  t.match(added.contact, { userId: 2, username: 'Bob', nickname: 'Bobby', online: false })
  t.ok(!Number.isNaN(Date.parse(added.contact.addedAt)))
  const ev = await waitEvent((e) => e.kind === 'contacts.changed' && e.userId === 1)
  t.same(ev, { kind: 'contacts.changed', userId: 1, added: 2 })
  t.ok(events.every((e) => !e.subject.includes('.user.2.')), 'nothing for the target')

  const byName = await client.call(Commands.contact.add, { actorId: 1, targetUsername: 'CAROL' })
  t.equal(byName.contact.userId, 3)
})

t.test('refusals', async (t) => {
  t.equal(await code(client.call(Commands.contact.add, { actorId: 1, targetId: 2 })), 'CHAT_CONTACT_EXISTS')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 1, targetId: 1 })), 'CHAT_SELF_TARGET')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 1, targetUsername: 'Alice' })), 'CHAT_SELF_TARGET')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 1, targetId: 99 })), 'CHAT_USER_NOT_FOUND')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 1, targetUsername: 'nobody' })), 'CHAT_USER_NOT_FOUND')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 1 })), 'CHAT_BAD_REQUEST')
  t.equal(await code(client.call(Commands.contact.add, { actorId: 1, targetId: 4, targetUsername: 'dave' })), 'CHAT_BAD_REQUEST')
  t.equal(await code(client.call(Commands.contact.remove, { actorId: 1, targetId: 4 })), 'CHAT_CONTACT_NOT_FOUND')
  t.equal(await code(client.call(Commands.contact.remove, { actorId: 1, targetUsername: 'nobody' })), 'CHAT_USER_NOT_FOUND')
})

t.test('concurrent adds of one contact: exactly one wins', async (t) => {
  const results = await Promise.all(Array.from({ length: 5 }, () => code(client.call(Commands.contact.add, { actorId: 4, targetId: 1 }))))
  t.same(results.sort(), ['CHAT_CONTACT_EXISTS', 'CHAT_CONTACT_EXISTS', 'CHAT_CONTACT_EXISTS', 'CHAT_CONTACT_EXISTS', 'ok'])
})

t.test('list: in the order added, one auth call, one-directional', async (t) => {
  await sleep(5) // distinct createdAt
  await client.call(Commands.contact.add, { actorId: 1, targetId: 4 })
  const before = authCalls
  const list = await client.call(Commands.contact.list, { actorId: 1 })
  t.same(list.contacts.map((c) => c.userId), [2, 3, 4])
  t.equal(authCalls - before, 1, 'profiles in one batched call')
  t.same((await client.call(Commands.contact.list, { actorId: 2 })).contacts, [], 'Bob did not get Alice')
  t.same((await client.call(Commands.contact.list, { actorId: 3 })).contacts, [])
})

t.test('presence: online/offline reach watchers and the list', async (t) => {
  events.length = 0
  // Bob (2) is watched by Alice (1). Dave (4) watches Alice.
  await client.call(Commands.contact.presenceOnline, { userId: 2, gatewayId: 'gw-a' })
  t.same(await waitEvent((e) => e.kind === 'presence.changed' && e.userId === 1),
    { kind: 'presence.changed', userId: 1, contactId: 2, online: true })
  const list = await client.call(Commands.contact.list, { actorId: 1 })
  t.same(list.contacts.map((c) => [c.userId, c.online]), [[2, true], [3, false], [4, false]])

  await client.call(Commands.contact.presenceOnline, { userId: 2, gatewayId: 'gw-b' })
  await client.call(Commands.contact.presenceOffline, { userId: 2, gatewayId: 'gw-a' })
  await sleep(100)
  t.equal(events.filter((e) => e.event.kind === 'presence.changed').length, 0, 'still on gw-b: no event')

  await client.call(Commands.contact.presenceOffline, { userId: 2, gatewayId: 'gw-b' })
  t.same(await waitEvent((e) => e.kind === 'presence.changed' && e.userId === 1),
    { kind: 'presence.changed', userId: 1, contactId: 2, online: false })
})

t.test('presence: users coming online together are all announced', async (t) => {
  events.length = 0
  // Alice (1) watches Bob (2) and Carol (3); Dave (4) watches Alice.
  await Promise.all([1, 2, 3].map((userId) => client.call(Commands.contact.presenceOnline, { userId, gatewayId: 'gw-storm' })))
  for (const [userId, contactId] of [[1, 2], [1, 3], [4, 1]] as const) {
    t.match(await waitEvent((e) => e.kind === 'presence.changed' && e.userId === userId && e.contactId === contactId), { online: true })
  }
  await Promise.all([1, 2, 3].map((userId) => client.call(Commands.contact.presenceOffline, { userId, gatewayId: 'gw-storm' })))
  for (const [userId, contactId] of [[1, 2], [1, 3], [4, 1]] as const) {
    t.match(await waitEvent((e) => e.kind === 'presence.changed' && e.userId === userId && e.contactId === contactId && !e.online), { online: false })
  }
})

t.test('presence: a heartbeat brings users online; a dead gateway\'s users expire', async (t) => {
  events.length = 0
  client.send(Commands.contact.presenceHeartbeat, { gatewayId: 'gw-dying', userIds: [1, 3] })
  const up3 = await waitEvent((e) => e.kind === 'presence.changed' && e.userId === 1 && e.contactId === 3)
  t.match(up3, { online: true })
  const up1 = await waitEvent((e) => e.kind === 'presence.changed' && e.userId === 4 && e.contactId === 1)
  t.match(up1, { online: true })
  // No more heartbeats: offline within TTL (1 s) plus the sweep interval.
  const started = Date.now()
  const down = await waitEvent((e) => e.kind === 'presence.changed' && e.userId === 1 && e.contactId === 3, 3000)
  t.match(down, { online: false })
  t.ok(Date.now() - started <= config.PRESENCE_TTL_MS + config.PRESENCE_SWEEP_MS + 300, 'in time')
  t.match(await waitEvent((e) => e.kind === 'presence.changed' && e.userId === 4 && e.contactId === 1, 1000), { online: false })
})

t.test('remove', async (t) => {
  events.length = 0
  t.same(await client.call(Commands.contact.remove, { actorId: 1, targetUsername: 'bob' }), {})
  t.same(await waitEvent((e) => e.kind === 'contacts.changed' && e.userId === 1), { kind: 'contacts.changed', userId: 1, removed: 2 })
  t.equal(await code(client.call(Commands.contact.remove, { actorId: 1, targetId: 2 })), 'CHAT_CONTACT_NOT_FOUND')
  t.same((await client.call(Commands.contact.list, { actorId: 1 })).contacts.map((c) => c.userId), [3, 4])
  // A removed contact's presence is no longer sent to the former watcher.
  await client.call(Commands.contact.presenceOnline, { userId: 2, gatewayId: 'gw-a' })
  await sleep(150)
  t.equal(events.filter((e) => e.event.kind === 'presence.changed').length, 0)
  await client.call(Commands.contact.presenceOffline, { userId: 2, gatewayId: 'gw-a' })
})

t.test('the probe server answers', async (t) => {
  const res = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`)
  t.equal(res.status, 200)
  const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text()
  t.match(metrics, /chat_presence_transitions_total\{.*to="online"/)
})
