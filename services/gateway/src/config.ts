import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { BaseConfig, JwtConfig, PublicUrlConfig, ShutdownConfig, loadConfig } from '@chat/runtime'
import { parseTrustProxy } from './trust-proxy.js'

export const GatewayConfigSchema = {
  ...BaseConfig,
  ...JwtConfig,
  PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: 'HTTP and WebSocket port' }),
  OPS_PORT: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: 65535,
    description: 'When set, /metrics, /docs and /docs/json are served only on this port (not exposed to clients); /healthz and /readyz on both',
  })),
  GATEWAY_ID: Type.String({
    default: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    pattern: '^[A-Za-z0-9_.-]{1,100}$',
    description: 'Identifies this replica in presence records; unique per process',
  }),
  ...PublicUrlConfig,
  WS_MAX_FRAME_BYTES: Type.Integer({ default: 2 * 1024 * 1024, minimum: 1024, description: 'Larger frames close the socket with 1009' }),
  WS_RATE_LIMIT_PER_SEC: Type.Number({ default: 20, exclusiveMinimum: 0, description: 'Sustained requests per second per connection' }),
  WS_RATE_LIMIT_BURST: Type.Integer({ default: 60, minimum: 1, description: 'Requests a connection may send at once before being limited' }),
  WS_AUTH_TIMEOUT_MS: Type.Integer({ default: 60000, minimum: 1000, description: 'An unauthenticated socket is closed after this long' }),
  WS_MAX_LOGIN_FRAME_BYTES: Type.Integer({ default: 300 * 1024, minimum: 1024, description: 'Largest frame before login (1009 above it): room for REGISTER with the largest avatar' }),
  WS_MAX_IN_FLIGHT: Type.Integer({ default: 32, minimum: 1, maximum: 1024, description: 'Sends one socket may have in progress at once; its other requests wait for those before them' }),
  WS_SEND_QUEUE_LIMIT_MS: Type.Integer({ default: 2000, minimum: 1, maximum: 60000, description: 'A send that has waited this long behind the same socket\'s earlier sends to the same conversation is refused with CHAT_BUSY (retryable, not stored) instead of run' }),
  WS_MAX_QUEUED_BYTES: Type.Integer({ default: 4 * 1024 * 1024, minimum: 1024, description: 'Bytes of received frames a socket may have waiting to be handled before it is closed (1008); raised to WS_MAX_FRAME_BYTES when lower' }),
  WS_MAX_CONNECTIONS_PER_ADDRESS: Type.Integer({ default: 100, minimum: 1, description: 'WebSocket connections one client address may hold on a replica; more are refused with 429 before the upgrade' }),
  WS_MAX_CONNECTIONS_PER_USER: Type.Integer({ default: 20, minimum: 1, description: 'Logged-in sockets one user may hold on a replica; a further login is refused (CHAT_RATE_LIMITED)' }),
  WS_PING_INTERVAL_MS: Type.Integer({ default: 30000, minimum: 0, description: 'How often sockets are pinged; a peer that has not answered the previous ping is closed. 0: never' }),
  FILE_MAX_BYTES: Type.Integer({ default: 10 * 1024 * 1024, minimum: 1, description: 'Largest accepted upload' }),
  SESSION_RECHECK_MS: Type.Integer({
    default: 5000,
    minimum: 100,
    description: 'How often this replica asks auth whether the sessions of its open sockets were revoked (closes them even if the broadcast was missed)',
  }),
  JWKS_REFRESH_MS: Type.Integer({ default: 300_000, minimum: 1000, description: 'How often this replica re-fetches the token verification keys from auth' }),
  PRESENCE_HEARTBEAT_MS: Type.Integer({ default: 10000, minimum: 100, description: 'How often this replica re-asserts its users are online' }),
  SESSION_COOKIE_NAME: Type.String({ default: 'chat_session', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Cookie that carries the session set by the rooms API\'s /Login' }),
  CORS_ORIGINS: Type.String({
    default: '',
    pattern: '^(|\\*|https?://[^,\\s]+(,https?://[^,\\s]+)*)$',
    description: 'Origins whose browser pages may call the HTTP APIs (comma-separated, e.g. https://app.example.com), or * for any (then without cookies); empty: none',
  }),
  TRUST_PROXY: Type.String({
    default: '',
    description: 'Who may set X-Forwarded-For/-Proto (client address; https → Secure cookies): the number of proxies in front (1), or their IPs/CIDRs, comma-separated; empty: nobody. Never every peer',
  }),
  HTTP_RATE_LIMIT_PER_MIN: Type.Integer({ default: 1200, minimum: 1, description: 'HTTP API requests per minute per client (verified user, else address), per replica' }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ default: 120000, minimum: 1000, description: 'Longest a client may take to send a whole request (headers and body); then 408 and the connection is closed' }),
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ default: 10000, minimum: 500, description: 'Longest a client may take to send a request\'s headers (WebSocket upgrades included); at most HTTP_REQUEST_TIMEOUT_MS' }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ default: 72000, minimum: 1000, description: 'An idle keep-alive HTTP connection is closed after this long; keep it above the load balancer\'s idle timeout' }),
  HTTP_MAX_CONNECTIONS: Type.Integer({ default: 10000, minimum: 1, description: 'Open TCP connections (HTTP and WebSocket) this replica accepts; more are refused' }),
  ...ShutdownConfig,
}

/**
 * Reads and validates the gateway's settings once, at start: the schema,
 * then what a schema can't say (TRUST_PROXY's grammar, timeouts that must
 * nest). Throws an Error naming every problem.
 */
export function loadGatewayConfig (env?: Record<string, string | undefined>) {
  const raw = loadConfig(GatewayConfigSchema, env)
  const problems: string[] = []
  let trustProxy: ReturnType<typeof parseTrustProxy> = 0
  try {
    trustProxy = parseTrustProxy(raw.TRUST_PROXY)
  } catch (err) {
    problems.push((err as Error).message)
  }
  if (raw.HTTP_HEADERS_TIMEOUT_MS > raw.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS (${raw.HTTP_HEADERS_TIMEOUT_MS}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${raw.HTTP_REQUEST_TIMEOUT_MS})`)
  }
  if (raw.OPS_PORT !== undefined && raw.OPS_PORT !== 0 && raw.OPS_PORT === raw.PORT) {
    problems.push(`OPS_PORT must differ from PORT (${raw.PORT})`)
  }
  if (problems.length > 0) throw new Error(`invalid gateway configuration: ${problems.join('; ')}`)
  return Object.freeze({ ...raw, TRUST_PROXY: trustProxy })
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>
