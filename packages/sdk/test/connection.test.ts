// Reconnecting: jittered exponential backoff, the next URL after a drop,
// the login again with the token, and the close codes that end a session.
import t from 'tap'
import { backoffDelay } from '../src/index.js'
import type { Frame } from '../src/index.js'
import { scriptedServer, sleep, testClient, until } from './helpers.js'

const logins = (frames: Frame[]) => frames.map((f) => f.type).filter((type) => type.startsWith('LOGIN'))

t.test('backoff doubles up to its ceiling, jittered within the upper half', async (t) => {
  const opts = { initialMs: 100, maxMs: 1000 }
  t.same([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, opts, () => 1)), [100, 200, 400, 800, 1000, 1000], 'top of the range')
  t.same([0, 1, 2, 3, 4].map((a) => backoffDelay(a, opts, () => 0)), [50, 100, 200, 400, 500], 'bottom of the range: never near zero')
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(3, opts)
    if (d < 400 || d > 800) t.fail(`out of range: ${d}`)
  }
  t.equal(backoffDelay(0, {}, () => 1), 250, 'default first ceiling: 250 ms')
  t.equal(backoffDelay(99, {}, () => 1), 10_000, 'default ceiling: 10 s')
})

t.test('after a drop the client logs in again with its token on the next URL, backing off while it cannot', async (t) => {
  const first = await scriptedServer(t)
  const second = await scriptedServer(t)
  // A dead URL between them: attempts there fail, and the delays grow.
  const dead = 'ws://127.0.0.1:1/ws'
  const client = testClient(t, [first.url, dead, second.url], { backoff: { initialMs: 40, maxMs: 1000 }, random: () => 1 })
  const states: string[] = []
  client.on('state', (s) => states.push(s))
  const logins: string[] = []
  client.on('connected', () => logins.push(client.url))
  const session = await client.connect({ username: 'alice', password: 'pw' })
  t.equal(client.url, first.url)
  const started = Date.now()
  first.dropAll(1001)
  await until(() => logins.length === 2)
  const took = Date.now() - started
  t.same(logins, [first.url, second.url], 'the dead URL skipped, the next one taken')
  t.ok(took >= 40 + 80, `two delays, the second doubled (${took} ms)`)
  t.match(second.frames[0], { type: 'LOGIN_BY_TOKEN', payload: { token: session.token } }, 'the token from the first login, not the password')
  t.same(states, ['connecting', 'connected', 'reconnecting', 'connected'])

  // A login resets the backoff: the next drop waits the first delay again.
  const again = Date.now()
  second.dropAll(1011)
  await until(() => logins.length === 3)
  t.equal(logins[2], first.url, 'round the list')
  t.ok(Date.now() - again < 1000, 'the backoff started over')
})

t.test('4001 (session revoked) ends the session: no reconnect', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  await client.connect({ token: 'tok-1' })
  const ended: string[] = []
  client.on('sessionEnded', (e) => ended.push(e.code))
  server.push({ type: 'SESSION_REVOKED', payload: {} })
  server.dropAll(4001)
  await until(() => client.state === 'closed')
  t.same(ended, ['SDK_SESSION_ENDED'])
  await sleep(100)
  t.equal(server.accepted.length, 1)
})

t.test('4002 (token expired) logs in again with the password when the client has it', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  await client.connect({ username: 'alice', password: 'pw' })
  server.dropAll(4002)
  await until(() => logins(server.frames).length === 2 && client.state === 'connected')
  t.same(logins(server.frames), ['LOGIN', 'LOGIN'])

  const tokenOnly = testClient(t, server.url)
  await tokenOnly.connect({ token: 'tok-1' })
  server.dropAll(4002)
  await until(() => tokenOnly.state === 'closed')
  t.pass('a token alone cannot log in again: the session ends')
})

t.test('an invalid token falls back to the password on the same socket', async (t) => {
  const server = await scriptedServer(t)
  let n = 0
  server.on('LOGIN_BY_TOKEN', () => ({ type: 'LOGIN_FAILURE', payload: { error: 'bad', code: 'CHAT_TOKEN_INVALID' } }))
  server.on('LOGIN', () => ({ type: 'LOGIN_SUCCESS', payload: { userId: 100, username: 'alice', email: '', avatar: '', token: `tok-${++n}` } }))
  const client = testClient(t, server.url)
  await client.connect({ username: 'alice', password: 'pw' })
  server.dropAll(1001)
  await until(() => n === 2)
  t.same(logins(server.frames), ['LOGIN', 'LOGIN_BY_TOKEN', 'LOGIN'])
  t.equal(client.session?.token, 'tok-2')
})
