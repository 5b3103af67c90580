// The gateway's HTTP hardening in-process: one replica built with
// buildGateway over the real NATS, a stand-in auth.resume that accepts the
// tokens it verifies. test/http-hardening.test.ts checks the same across
// real processes and two replicas.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Commands, type Session } from '@chat/contracts'
import { connectNats, createLogger, createTokenVerifier, generateSigningKey, KeySet, serveCommands, signToken } from '@chat/runtime'
import { buildGateway } from '../src/app.js'
import { loadGatewayConfig } from '../src/config.js'
import { WebSocket } from 'ws'
import { holdConnection, rawExchange } from '../../../test/helpers/raw-http.js'

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const LIMIT = 5
const FILE_MAX = 1000
const logger = createLogger('test', 'silent')

async function gateway (t: Test, env: Record<string, string> = {}) {
  const prefix = `t${randomBytes(4).toString('hex')}`
  const key = await generateSigningKey()
  const settings = { issuer: 'chat-auth', audience: 'chat' }
  const jwks = { keys: [key.publicJwk] }
  const verify = createTokenVerifier(settings, new KeySet(async () => jwks, { minRefetchMs: 1000 }))
  const nc = await connectNats(NATS_URL, 'stand-in auth', logger)
  t.teardown(() => nc.close())
  const auth = serveCommands(nc, {
    prefix,
    queue: 'auth',
    logger,
    handlers: {
      [Commands.auth.resume]: async ({ token }): Promise<Session> => {
        const claims = await verify(token)
        const user = { id: claims.userId, username: `user${claims.userId}`, nickname: '', avatar: '', email: '', createdAt: new Date(0).toISOString() }
        return { user, token, sessionId: claims.sessionId, expiresAt: claims.expiresAt.toISOString() }
      },
      [Commands.auth.jwks]: async () => jwks,
      [Commands.auth.checkSessions]: async () => ({ revoked: [] }),
    },
  })
  t.teardown(() => auth.stop())
  const config = loadGatewayConfig({
    NATS_URL,
    NATS_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    HTTP_HOST: '127.0.0.1',
    PORT: '0',
    HTTP_RATE_LIMIT_PER_MIN: String(LIMIT),
    FILE_MAX_BYTES: String(FILE_MAX),
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '2000',
    ...env,
  })
  const app = await buildGateway(config, { logger })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const tokenFor = async (userId: number) => (await signToken(settings, key, userId, 600)).token
  return { app, port, url: `http://127.0.0.1:${port}`, tokenFor }
}

async function status (url: string, headers: Record<string, string> = {}): Promise<number> {
  return (await fetch(url, { headers, signal: AbortSignal.timeout(5000) })).status
}

t.test('made-up tokens share the address\'s bucket; a user has one of their own', async (t) => {
  const gw = await gateway(t)
  const statuses: number[] = []
  for (let i = 0; i < LIMIT + 2; i++) statuses.push(await status(`${gw.url}/files/1`, { authorization: `Bearer ${randomBytes(20).toString('base64url')}` }))
  t.same(statuses, [...Array(LIMIT).fill(401), 429, 429])
  t.equal(await status(`${gw.url}/files/1`), 429, 'no credential: the same bucket')
  const [first, second] = [await gw.tokenFor(7), await gw.tokenFor(7)]
  const mine: number[] = []
  for (let i = 0; i < LIMIT + 1; i++) mine.push(await status(`${gw.url}/files/1`, { authorization: `Bearer ${i % 2 === 0 ? first : second}` }))
  t.equal(mine.filter((s) => s !== 429).length, LIMIT, 'two sessions of one user share a bucket')
  t.equal(mine.at(-1), 429)
})

t.test('X-Forwarded-For only from trusted peers', async (t) => {
  const untrusted = await gateway(t, { TRUST_PROXY: '10.0.0.0/8' })
  const a: number[] = []
  for (let i = 0; i < LIMIT + 1; i++) a.push(await status(`${untrusted.url}/files/1`, { 'x-forwarded-for': `203.0.113.${i + 1}` }))
  t.equal(a.at(-1), 429, 'ignored from a peer outside TRUST_PROXY')
  const trusted = await gateway(t, { TRUST_PROXY: '1' })
  const b: number[] = []
  for (let i = 0; i < LIMIT + 1; i++) b.push(await status(`${trusted.url}/files/1`, { 'x-forwarded-for': `203.0.113.${i + 1}` }))
  t.same(b, Array(LIMIT + 1).fill(401), 'one hop trusted: each forwarded client has its own bucket')
})

t.test('stalled requests are cut; the connection cap holds', async (t) => {
  const gw = await gateway(t, { HTTP_MAX_CONNECTIONS: '3' })
  const half = await rawExchange(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')
  t.ok(half.closed, 'half a header: disconnected')
  const upgrade = await rawExchange(gw.port, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n')
  t.ok(upgrade.closed, 'half an upgrade: disconnected')
  const body = await rawExchange(gw.port, 'POST /Login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"user')
  t.equal(body.status, 408, 'half a body: 408')
  t.ok(body.closed)
  const held = []
  for (let i = 0; i < 5; i++) held.push(await holdConnection(gw.port))
  const open = held.filter((s) => s !== null)
  t.teardown(() => { for (const s of open) s.destroy() })
  t.ok(open.length >= 1 && open.length <= 3, `at most 3 connections (${open.length})`)
  t.ok(held.length - open.length >= 2, 'the rest refused')
})

t.test('credentials and sizes are checked before the body is read', async (t) => {
  const gw = await gateway(t, { HTTP_RATE_LIMIT_PER_MIN: '100000' })
  const anon = await rawExchange(gw.port, 'POST /files HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n')
  t.equal(anon.status, 401)
  t.ok(anon.closed)
  t.equal((await rawExchange(gw.port, `POST /files HTTP/1.1\r\nHost: x\r\nContent-Length: ${FILE_MAX}\r\n\r\n`)).status, 401, 'an allowed size is not waited for')
  t.equal((await rawExchange(gw.port, 'POST /chats HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n')).status, 401, 'chats')
  t.equal((await rawExchange(gw.port, 'POST /Room HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n')).status, 401, 'rooms')
  const token = await gw.tokenFor(9)
  const big = await rawExchange(gw.port, `POST /files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${FILE_MAX + 1}\r\n\r\n`)
  t.equal(big.status, 413, 'a good credential and too large a body: 413 without it')
  t.ok(big.closed)
  const json = await rawExchange(gw.port, `POST /chats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${1024 * 1024 + 1}\r\n\r\n`)
  t.equal(json.status, 413, 'the APIs\' 1 MiB limit too')
})

t.test('OPS_PORT takes /metrics and /docs off the public port', async (t) => {
  const gw = await gateway(t, { OPS_PORT: '0' })
  const opsPort = await gw.app.opsListener!.listen('127.0.0.1', 0)
  const ops = `http://127.0.0.1:${opsPort}`
  t.equal(await status(`${gw.url}/metrics`), 404)
  t.equal(await status(`${ops}/metrics`), 200)
  t.equal(await status(`${gw.url}/docs/json`), 404)
  t.equal(await status(`${ops}/docs/json`), 200)
  for (const probe of ['/healthz', '/readyz']) {
    t.equal(await status(`${gw.url}${probe}`), 200)
    t.equal(await status(`${ops}${probe}`), 200)
  }
  t.equal(await status(`${ops}/files/1`), 404, 'no API on the ops port')
  t.equal(await status(`${gw.url}/files/1`), 401)
})

t.test('an upgraded socket is not cut by the HTTP request timeouts', async (t) => {
  const gw = await gateway(t, { HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' })
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`)
  t.teardown(() => ws.close())
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  let closed = false
  ws.once('close', () => { closed = true })
  // Well past every HTTP timeout (and Node's check interval), short of WS_AUTH_TIMEOUT_MS.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  t.notOk(closed, 'still open')
  ws.send(JSON.stringify({ type: 'LOGIN_BY_TOKEN', payload: { token: await gw.tokenFor(3) }, id: 1 }))
  const answer = await new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))))
  t.match(JSON.parse(answer), { type: 'LOGIN_SUCCESS' }, 'and usable')
})
