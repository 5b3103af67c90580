// What every HTTP API shares, on real processes: the OpenAPI document at
// /docs, the JSON error shape, the per-client rate limit (429), and the
// session cookie accepted next to bearer tokens (the rooms API sets it; the
// files routes, like every authenticated route, accept it).
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { REPO_ROOT } from './helpers/proc.js'
import { startSystem } from './helpers/system.js'
import { http } from './helpers/http.js'
import { registerUser } from './helpers/typed.js'

t.test('http common', async (t) => {
  const LIMIT = 8
  const sys = await startSystem(t, { gateways: 2, env: { HTTP_RATE_LIMIT_PER_MIN: String(LIMIT), CORS_ORIGINS: 'https://app.example,http://localhost:3000' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const alice = await registerUser(a.wsUrl(), 'alice')
  const bob = await registerUser(b.wsUrl(), 'bob')
  t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))

  t.test('the OpenAPI document describes the HTTP APIs only', async (t) => {
    const doc = await http(`${a.httpUrl}/docs/json`)
    t.equal(doc.status, 200)
    t.equal(doc.body.openapi, '3.1.0')
    t.same(Object.keys(doc.body.components.securitySchemes).sort(), ['bearer', 'cookie'])
    t.equal(doc.body.components.securitySchemes.cookie.name, 'chat_session')
    const paths = Object.keys(doc.body.paths)
    t.ok(paths.includes('/files'), 'file transfer is in it')
    t.notOk(paths.some((p) => p.startsWith('/ws')), 'WebSocket upgrades are not')
    t.notOk(paths.some((p) => ['/healthz', '/readyz', '/metrics'].includes(p)), 'nor the probes')
    const published = JSON.parse(await readFile(path.join(REPO_ROOT, 'docs/openapi.json'), 'utf8'))
    t.same(doc.body, published, 'docs/openapi.json is what gateways serve (refresh it with `pnpm openapi`)')
    const ui = await http(`${b.httpUrl}/docs`, { timeoutMs: 5000 })
    t.equal(ui.status, 200, 'a browsable page on every replica')
    t.match(ui.text, /swagger/i)
  })

  t.test('errors are JSON {error, message} with the code in its HTTP form', async (t) => {
    const missing = await http(`${a.httpUrl}/no/such/route`)
    t.equal(missing.status, 404)
    t.same(missing.body, { error: 'not_found', message: 'No such route' })
    const anon = await http(`${a.httpUrl}/files/1`)
    t.equal(anon.status, 401)
    t.same(anon.body, { error: 'unauthenticated', message: 'Login required' })
    const garbage = await http(`${a.httpUrl}/files/1`, { headers: { authorization: 'Basic abc' } })
    t.equal(garbage.status, 401)
    t.equal(garbage.body.error, 'token_invalid')
  })

  t.test('a session cookie authenticates like a bearer token', async (t) => {
    const withCookie = await http(`${b.httpUrl}/files/1`, { headers: { cookie: `chat_session=${alice.token}` } })
    t.equal(withCookie.status, 404, 'authenticated: the file just doesn\'t exist')
    t.equal(withCookie.body.error, 'file_not_found')
    const badCookie = await http(`${b.httpUrl}/files/1`, { headers: { cookie: 'chat_session=not-a-token' } })
    t.equal(badCookie.status, 401)
    t.equal(badCookie.body.error, 'token_invalid')
  })

  t.test('browser pages of the configured origins may call the APIs, with cookies', async (t) => {
    const preflight = await fetch(`${a.httpUrl}/chats`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    })
    t.equal(preflight.status, 204)
    t.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example')
    t.equal(preflight.headers.get('access-control-allow-credentials'), 'true')
    t.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/)
    const stranger = await fetch(`${a.httpUrl}/chats`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    t.equal(stranger.headers.get('access-control-allow-origin'), null, 'other origins get no grant')
    const get = await fetch(`${b.httpUrl}/files/1`, { headers: { origin: 'http://localhost:3000', authorization: `Bearer ${alice.token}` } })
    t.equal(get.headers.get('access-control-allow-origin'), 'http://localhost:3000')
    t.match(get.headers.get('access-control-expose-headers') ?? '', /unread_count/, 'a page can read chats_v2\'s unread_count')
  })

  t.test('request durations are in /metrics by route template and status', async (t) => {
    await http(`${a.httpUrl}/files/424242`, { headers: { authorization: `Bearer ${alice.token}` } })
    await http(`${a.httpUrl}/no/such/route`)
    const metrics = await http(`${a.httpUrl}/metrics`)
    t.match(metrics.text, /chat_gateway_http_request_duration_seconds_count\{[^}]*method="GET",route="\/files\/:id",status="404"\} [1-9]/)
    t.match(metrics.text, /route="unmatched",status="404"/)
    t.notMatch(metrics.text, /route="\/files\/424242"/, 'ids never become labels')
    t.notMatch(metrics.text, /route="\/healthz"/)
  })

  t.test('past the limit a client gets 429, others are unaffected', async (t) => {
    // A fresh window on replica b for bob's token: he has made no HTTP request there yet.
    const statuses: number[] = []
    let limited: Awaited<ReturnType<typeof http<{ error: string, message: string }>>> | undefined
    for (let i = 0; i < LIMIT + 2; i++) {
      const r = await http(`${b.httpUrl}/files/1`, { headers: { authorization: `Bearer ${bob.token}` } })
      statuses.push(r.status)
      if (r.status === 429) limited ??= r
    }
    t.same(statuses.slice(0, LIMIT), Array(LIMIT).fill(404))
    t.same(statuses.slice(LIMIT), [429, 429])
    t.equal(limited?.body.error, 'rate_limited')
    t.match(limited?.body.message, /retry in/)
    t.ok(limited?.headers.get('retry-after'), 'Retry-After says when')
    const other = await http(`${b.httpUrl}/files/1`, { headers: { authorization: `Bearer ${alice.token}` } })
    t.equal(other.status, 404, 'another client is not limited')
  })
})
