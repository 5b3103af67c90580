// The gateway's HTTP surface under abuse, on real processes: rate limits
// keyed on the verified user (made-up tokens share their address's bucket),
// X-Forwarded-For only from trusted proxies, stalled requests cut, a
// connection cap, credentials and sizes refused before a body is read, and
// /metrics and /docs on a separate ops port.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { generateSigningKey, signToken } from '../packages/runtime/src/tokens.js'
import { startGateway, startSystem } from './helpers/system.js'
import { http } from './helpers/http.js'
import { freePort } from './helpers/net.js'
import { holdConnection, rawExchange } from './helpers/raw-http.js'
import { registerUser } from './helpers/typed.js'

const LIMIT = 6
const FILE_MAX = 1000

t.test('http hardening', async (t) => {
  // One replica at first and the second after it: starting fewer processes at once keeps a busy machine within the harness's start timeout.
  const sys = await startSystem(t, {
    gateways: 1,
    env: {
      HTTP_RATE_LIMIT_PER_MIN: String(LIMIT),
      // The peer (127.0.0.1) is not in it: its X-Forwarded-For is ignored.
      TRUST_PROXY: '10.0.0.0/8',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
      FILE_MAX_BYTES: String(FILE_MAX),
    },
  })
  const a = sys.gateways[0]!
  const b = await startGateway(sys)
  const alice = await registerUser(a.wsUrl(), 'alice')
  t.teardown(() => alice.client.close())

  t.test('made-up bearer tokens share their address\'s bucket', async (t) => {
    // A well-formed token for a real user, signed with a key auth never published.
    const forged = (await signToken({ issuer: 'chat-auth', audience: 'chat' }, await generateSigningKey(), alice.userId, 600)).token
    const statuses: number[] = []
    for (let i = 0; i < LIMIT + 3; i++) {
      // Random strings, and a well-formed token for a real user signed with the wrong key.
      const token = i === 1 ? forged : randomBytes(24).toString('base64url')
      statuses.push((await http(`${a.httpUrl}/User/${alice.username}`, { headers: { authorization: `Bearer ${token}` } })).status)
    }
    t.same(statuses.slice(0, LIMIT), Array(LIMIT).fill(401))
    t.same(statuses.slice(LIMIT), [429, 429, 429], 'a fresh token buys no fresh bucket')
    const anonymous = await http(`${a.httpUrl}/User/${alice.username}`)
    t.equal(anonymous.status, 429, 'it is the address\'s bucket')
    const real = await http(`${a.httpUrl}/User/${alice.username}`, { headers: { authorization: `Bearer ${alice.token}` } })
    t.equal(real.status, 200, 'a verified user has a bucket of their own')
  })

  t.test('one bucket per user, whatever the session', async (t) => {
    const second = await alice.client.request('LOGIN', { username: alice.username, password: alice.password })
    const other = second.payload.token as string
    t.not(other, alice.token)
    const statuses: number[] = []
    for (let i = 0; i < LIMIT + 2; i++) {
      const token = i % 2 === 0 ? alice.token : other
      statuses.push((await http(`${b.httpUrl}/User/${alice.username}`, { headers: { authorization: `Bearer ${token}` } })).status)
    }
    t.same(statuses, [...Array(LIMIT).fill(200), 429, 429])
  })

  t.test('X-Forwarded-For from an untrusted peer is ignored', async (t) => {
    // Fresh anonymous requests on b: its address bucket is untouched so far.
    const statuses: number[] = []
    for (let i = 0; i < LIMIT + 2; i++) {
      const r = await http(`${b.httpUrl}/files/1`, { headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } })
      statuses.push(r.status)
    }
    t.same(statuses, [...Array(LIMIT).fill(401), 429, 429], 'every claimed address counts as the peer\'s')
  })

  t.test('a trusted proxy\'s X-Forwarded-For names the client', async (t) => {
    const c = await startGateway(sys, { TRUST_PROXY: '1' })
    const spread: number[] = []
    for (let i = 0; i < LIMIT + 2; i++) {
      spread.push((await http(`${c.httpUrl}/files/1`, { headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } })).status)
    }
    t.same(spread, Array(LIMIT + 2).fill(401), 'one bucket per forwarded client')
    const same: number[] = []
    for (let i = 0; i < LIMIT + 1; i++) {
      same.push((await http(`${c.httpUrl}/files/1`, { headers: { 'x-forwarded-for': '198.51.100.200' } })).status)
    }
    t.same(same.slice(LIMIT - 1), [401, 429], 'and one client is limited')
  })

  // A replica whose rate limit stays out of the way of the anonymous requests below.
  const d = await startGateway(sys, { HTTP_RATE_LIMIT_PER_MIN: '100000' })

  t.test('stalled requests are cut', async (t) => {
    const halfHeader = await rawExchange(d.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
    t.ok(halfHeader.closed, 'half a header: disconnected')
    t.not(halfHeader.status, 200)
    const halfUpgrade = await rawExchange(d.port, 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n')
    t.ok(halfUpgrade.closed, 'half a WebSocket upgrade: disconnected')
    const body = JSON.stringify({ username: 'someone', password: 'something' })
    const halfBody = await rawExchange(d.port, `POST /Login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
    t.ok(halfBody.closed, 'half a body: disconnected')
    t.equal(halfBody.status, 408)
  })

  t.test('credentials and sizes are refused before the body is read', async (t) => {
    const noCredential = await rawExchange(d.port, 'POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000000\r\n\r\n')
    t.equal(noCredential.status, 401, 'no credential, a huge announced body: 401 at once')
    t.ok(noCredential.closed, 'and the connection is closed')
    t.match(noCredential.text, /"error":"unauthenticated"/)
    const smallNoCredential = await rawExchange(d.port, `POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${FILE_MAX}\r\n\r\n`)
    t.equal(smallNoCredential.status, 401, 'an allowed size is not waited for either')
    const badToken = await rawExchange(d.port, 'POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer nope\r\nContent-Length: 10\r\n\r\n')
    t.equal(badToken.status, 401)
    t.match(badToken.text, /"error":"token_invalid"/)
    const chats = await rawExchange(d.port, 'POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n')
    t.equal(chats.status, 401, 'every route that needs a session: the chats API')
    const rooms = await rawExchange(d.port, 'POST /Room HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n')
    t.equal(rooms.status, 401, 'the rooms API')

    const tooLarge = await rawExchange(d.port, `POST /files?name=big HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${alice.token}\r\nContent-Length: ${FILE_MAX + 1}\r\n\r\n`)
    t.equal(tooLarge.status, 413, 'a good credential, an announced body over FILE_MAX_BYTES: 413 without it')
    t.match(tooLarge.text, /"error":"content_too_large"/)
    t.ok(tooLarge.closed)
    const upload = await fetch(`${d.httpUrl}/files?name=ok.bin`, {
      method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(FILE_MAX, 1),
    })
    t.equal(upload.status, 201, 'FILE_MAX_BYTES itself is fine')
  })

  t.test('a connection cap per replica', async (t) => {
    const CAP = 3
    const gw = await startGateway(sys, { HTTP_MAX_CONNECTIONS: String(CAP) })
    const held = []
    for (let i = 0; i < CAP + 2; i++) held.push(await holdConnection(gw.port))
    const open = held.filter((s) => s !== null)
    t.teardown(() => { for (const s of open) s.destroy() })
    t.ok(open.length >= 1 && open.length <= CAP, `at most ${CAP} connections are served at once (${open.length})`)
    t.ok(held.length - open.length >= 2, 'the ones over the cap are refused')
  })

  t.test('with OPS_PORT, /metrics and /docs are served only there', async (t) => {
    const opsPort = await freePort()
    const gw = await startGateway(sys, { OPS_PORT: String(opsPort) })
    const ops = `http://127.0.0.1:${opsPort}`
    t.equal((await http(`${gw.httpUrl}/metrics`)).status, 404, 'not on the public port')
    const metrics = await http(`${ops}/metrics`)
    t.equal(metrics.status, 200)
    t.match(metrics.text, /chat_gateway_sockets/)
    t.equal((await http(`${gw.httpUrl}/docs/json`)).status, 404)
    t.equal((await http(`${gw.httpUrl}/docs`)).status, 404)
    t.equal((await http(`${ops}/docs/json`)).body.openapi, '3.1.0')
    for (const probe of ['/healthz', '/readyz']) {
      t.equal((await http(`${gw.httpUrl}${probe}`)).status, 200, `${probe} on the public port`)
      t.equal((await http(`${ops}${probe}`)).status, 200, `${probe} on the ops port`)
    }
    t.equal((await http(`${ops}/files/1`)).status, 404, 'the APIs are not on the ops port')
    t.equal((await http(`${gw.httpUrl}/files/1`)).status, 401, 'but on the public one')
    t.equal((await http(`${a.httpUrl}/metrics`)).status, 200, 'without OPS_PORT, on the public port as before')
  })
})
