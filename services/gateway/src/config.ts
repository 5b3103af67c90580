import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { BaseConfig, JwtConfig, loadConfig } from '@chat/runtime'

export const GatewayConfigSchema = {
  ...BaseConfig,
  ...JwtConfig,
  PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: 'HTTP and WebSocket port' }),
  GATEWAY_ID: Type.String({
    default: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    pattern: '^[A-Za-z0-9_.-]{1,100}$',
    description: 'Identifies this replica in presence records; unique per process',
  }),
  PUBLIC_URL: Type.String({ default: '', description: 'Origin clients use to reach the gateways, prefixed to file URLs; empty for relative URLs' }),
  WS_MAX_FRAME_BYTES: Type.Integer({ default: 2 * 1024 * 1024, minimum: 1024, description: 'Larger frames close the socket with 1009' }),
  WS_RATE_LIMIT_PER_SEC: Type.Number({ default: 20, exclusiveMinimum: 0, description: 'Sustained requests per second per connection' }),
  WS_RATE_LIMIT_BURST: Type.Integer({ default: 60, minimum: 1, description: 'Requests a connection may send at once before being limited' }),
  WS_AUTH_TIMEOUT_MS: Type.Integer({ default: 60000, minimum: 1000, description: 'An unauthenticated socket is closed after this long' }),
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
  TRUST_PROXY: Type.Boolean({ default: false, description: 'Trust X-Forwarded-* from the load balancer (client address; https → Secure cookies)' }),
  HTTP_RATE_LIMIT_PER_MIN: Type.Integer({ default: 1200, minimum: 1, description: 'HTTP API requests per minute per client (credential, else address), per replica' }),
  SHUTDOWN_GRACE_MS: Type.Integer({ default: 10000, minimum: 0, description: 'Longest a graceful stop may take' }),
}

export function loadGatewayConfig (env?: Record<string, string | undefined>) {
  return loadConfig(GatewayConfigSchema, env)
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>
