// Room tickets (auth.ticket.issue / auth.ticket.redeem) in-process against
// the real NATS, Redis and MongoDB-wire server: single use, bound to the
// session's user and room, short-lived, dead with a revoked session.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Commands, QueueGroups } from '@chat/contracts'
import { outcome as code, startServiceUnderTest } from '@chat/runtime/testing'
import { loadAuthConfig } from '../src/config.js'
import { buildAuthService } from '../src/app.js'
import { authOptions } from '../src/options.js'
import { RoomTickets } from '../src/tickets.js'

const TTL_MS = 800
const { client } = await startServiceUnderTest(t, {
  name: 'auth',
  queue: QueueGroups.auth,
  configFor: loadAuthConfig,
  env: { ROOM_TICKET_TTL_MS: String(TTL_MS) },
  setup: async (deps, config) => await buildAuthService(deps, await authOptions(config)),
})

const alice = await client.call(Commands.auth.register, { username: 'ticket_alice', password: 'secret-pw' })
const bob = await client.call(Commands.auth.register, { username: 'ticket_bob', password: 'secret-pw' })

t.test('a ticket redeems once, for its user and room', async (t) => {
  const issued = await client.call(Commands.auth.issueTicket, { actorId: alice.user.id, token: alice.token, roomId: 42 })
  t.match(issued.ticket, /^[0-9a-f]{40}$/)
  const left = Date.parse(issued.expiresAt) - Date.now()
  t.ok(left > 0 && left <= TTL_MS, `expires within the configured lifetime (${left} ms)`)
  const redeemed = await client.call(Commands.auth.redeemTicket, { ticket: issued.ticket })
  t.equal(redeemed.roomId, 42)
  t.equal(redeemed.session.user.id, alice.user.id)
  t.equal(redeemed.session.sessionId, alice.sessionId, 'stands for the session it was issued to')
  t.equal(await code(client.call(Commands.auth.redeemTicket, { ticket: issued.ticket })), 'CHAT_TOKEN_INVALID', 'second use')
})

t.test('tickets of two users never mix', async (t) => {
  const [a, b] = await Promise.all([
    client.call(Commands.auth.issueTicket, { actorId: alice.user.id, token: alice.token, roomId: 1 }),
    client.call(Commands.auth.issueTicket, { actorId: bob.user.id, token: bob.token, roomId: 2 }),
  ])
  t.not(a.ticket, b.ticket)
  t.same((await client.call(Commands.auth.redeemTicket, { ticket: b.ticket })).session.user.id, bob.user.id)
  t.same((await client.call(Commands.auth.redeemTicket, { ticket: a.ticket })).roomId, 1)
})

t.test('a ticket for someone else\'s token is refused', async (t) => {
  t.equal(await code(client.call(Commands.auth.issueTicket, { actorId: bob.user.id, token: alice.token, roomId: 1 })), 'CHAT_ID_MISMATCH')
  t.equal(await code(client.call(Commands.auth.issueTicket, { actorId: alice.user.id, token: 'not-a-jwt', roomId: 1 })), 'CHAT_TOKEN_INVALID')
})

t.test('concurrent redemptions: exactly one wins', async (t) => {
  const { ticket } = await client.call(Commands.auth.issueTicket, { actorId: alice.user.id, token: alice.token, roomId: 7 })
  const results = await Promise.all(Array.from({ length: 8 }, () => code(client.call(Commands.auth.redeemTicket, { ticket }))))
  t.equal(results.filter((r) => r === 'ok').length, 1)
  t.equal(results.filter((r) => r === 'CHAT_TOKEN_INVALID').length, 7)
})

t.test('expired tickets and garbage are refused', async (t) => {
  const { ticket } = await client.call(Commands.auth.issueTicket, { actorId: alice.user.id, token: alice.token, roomId: 7 })
  await sleep(TTL_MS + 300)
  t.equal(await code(client.call(Commands.auth.redeemTicket, { ticket })), 'CHAT_TOKEN_INVALID', 'expired')
  t.equal(await code(client.call(Commands.auth.redeemTicket, { ticket: 'f'.repeat(40) })), 'CHAT_TOKEN_INVALID', 'never issued')
  t.equal(await code(client.call(Commands.auth.redeemTicket, { ticket: '*' })), 'CHAT_TOKEN_INVALID', 'not our format')
  t.equal(await code(client.call(Commands.auth.redeemTicket, { ticket: { $gt: '' } } as never)), 'CHAT_BAD_REQUEST', 'operator injection')
})

t.test('a ticket dies with its session', async (t) => {
  const session = await client.call(Commands.auth.login, { login: 'ticket_alice', password: 'secret-pw' })
  const { ticket } = await client.call(Commands.auth.issueTicket, { actorId: alice.user.id, token: session.token, roomId: 9 })
  await client.call(Commands.auth.logout, { actorId: alice.user.id, token: session.token })
  t.equal(await code(client.call(Commands.auth.redeemTicket, { ticket })), 'CHAT_TOKEN_INVALID')
})

t.test('the lifetime is capped at five minutes', async (t) => {
  t.throws(() => new RoomTickets({} as never, 5 * 60_000 + 1), RangeError)
  t.throws(() => new RoomTickets({} as never, 0), RangeError)
  t.throws(() => loadAuthConfig({ ROOM_TICKET_TTL_MS: '300001' }))
})
