// The pure parts of the HTTP hardening: TRUST_PROXY's grammar, the config
// checks at start, server limits, and which routes require a session.
import t from 'tap'
import { parseTrustProxy } from '../src/trust-proxy.js'
import { loadGatewayConfig } from '../src/config.js'
import { fastifyServerOptions, nodeServerOptions, serverLimitsOf } from '../src/server-limits.js'
import { requiresSessionBySchema } from '../src/http-guard.js'
import { isOpsOnlyRoute, isProbeRoute } from '../src/ops-port.js'
import { requiresSession } from '../src/http-api.js'

t.test('TRUST_PROXY: a hop count or addresses, never everyone', async (t) => {
  t.equal(parseTrustProxy(''), 0, 'unset: nobody')
  t.equal(parseTrustProxy('0'), 0)
  t.equal(parseTrustProxy('1'), 1)
  t.equal(parseTrustProxy(' 2 '), 2)
  t.same(parseTrustProxy('10.0.0.0/8'), ['10.0.0.0/8'])
  t.same(parseTrustProxy('10.0.0.1, 192.168.0.0/16,fd00::/8,loopback'), ['10.0.0.1', '192.168.0.0/16', 'fd00::/8', 'loopback'])
  for (const bad of ['true', 'TRUE', 'false', 'yes', '*']) {
    t.throws(() => parseTrustProxy(bad), /TRUST_PROXY=.* is refused/, `${bad} is refused`)
  }
  for (const bad of ['0.0.0.0/0', '::/0', '10.0.0.0/33', 'example.com', '10.0.0.0/8,', '1.2.3', '11']) {
    t.throws(() => parseTrustProxy(bad), /TRUST_PROXY/, `${bad} is refused`)
  }
})

t.test('the gateway config refuses TRUST_PROXY=true at start, with a clear message', async (t) => {
  t.throws(() => loadGatewayConfig({ TRUST_PROXY: 'true' }), /invalid gateway configuration: TRUST_PROXY=true is refused: give the number of proxies/)
  t.equal(loadGatewayConfig({ TRUST_PROXY: '1' }).TRUST_PROXY, 1)
  t.same(loadGatewayConfig({ TRUST_PROXY: '10.0.0.0/8' }).TRUST_PROXY, ['10.0.0.0/8'])
  t.equal(loadGatewayConfig({}).TRUST_PROXY, 0, 'by default nobody is trusted')
  t.throws(() => loadGatewayConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000' }), /HTTP_HEADERS_TIMEOUT_MS \(5000\) must not exceed HTTP_REQUEST_TIMEOUT_MS/)
  t.throws(() => loadGatewayConfig({ PORT: '8080', OPS_PORT: '8080' }), /OPS_PORT must differ from PORT/)
  t.throws(() => loadGatewayConfig({ TRUST_PROXY: 'true', HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000' }), /TRUST_PROXY.*; HTTP_HEADERS_TIMEOUT_MS/, 'every problem at once')
  t.ok(Object.isFrozen(loadGatewayConfig({})))
})

t.test('server limits reach Node: timeouts, a prompt check, the connection cap', async (t) => {
  const config = loadGatewayConfig({ HTTP_REQUEST_TIMEOUT_MS: '30000', HTTP_HEADERS_TIMEOUT_MS: '4000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '61000', HTTP_MAX_CONNECTIONS: '500' })
  const limits = serverLimitsOf(config)
  t.same(limits, { requestTimeoutMs: 30000, headersTimeoutMs: 4000, keepAliveTimeoutMs: 61000, maxConnections: 500 })
  t.same(nodeServerOptions(limits), { requestTimeout: 30000, headersTimeout: 4000, keepAliveTimeout: 61000, connectionsCheckingInterval: 2000 })
  t.equal(nodeServerOptions({ ...limits, headersTimeoutMs: 60000 }).connectionsCheckingInterval, 5000, 'checked at least every 5 s')
  const fastify = fastifyServerOptions(limits)
  t.equal(fastify.requestTimeout, 30000)
  t.equal(fastify.keepAliveTimeout, 61000)
  const defaults = serverLimitsOf(loadGatewayConfig({}))
  t.ok(defaults.headersTimeoutMs <= 10000 && defaults.requestTimeoutMs <= 120000, 'finite by default')
})

t.test('a route requires a session when its documented security does', async (t) => {
  t.ok(requiresSessionBySchema({ schema: { security: requiresSession } }))
  t.notOk(requiresSessionBySchema({ schema: { security: [...requiresSession, {}] } }), '{} means "or none"')
  t.notOk(requiresSessionBySchema({ schema: {} }))
  t.notOk(requiresSessionBySchema({}))
  t.notOk(requiresSessionBySchema({ schema: { security: [] } }))
})

t.test('which routes the ops port takes', async (t) => {
  for (const url of ['/metrics', '/log-level', '/docs', '/docs/json', '/docs/static/*']) t.ok(isOpsOnlyRoute(url), url)
  for (const url of ['/healthz', '/readyz', '/files/:id', '/docsx', undefined]) t.notOk(isOpsOnlyRoute(url), String(url))
  t.ok(isProbeRoute('/healthz'))
  t.ok(isProbeRoute('/readyz'))
  t.notOk(isProbeRoute('/metrics'))
})
