import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox'
import envSchema from 'env-schema'

/** Settings every process shares: where NATS, Redis and MongoDB are, and logging. */
export const BaseConfig = {
  NATS_URL: Type.String({ default: 'nats://127.0.0.1:4222', description: 'NATS server URL(s), comma-separated; nats://user:pass@host or nats://token@host carry credentials' }),
  NATS_USER: Type.Optional(Type.String({ description: 'NATS user (with NATS_PASSWORD)' })),
  NATS_PASSWORD: Type.Optional(Type.String({ description: 'NATS password' })),
  NATS_TOKEN: Type.Optional(Type.String({ description: 'NATS authentication token' })),
  NATS_CREDS_FILE: Type.Optional(Type.String({ description: 'NATS .creds file (user JWT and nkey seed)' })),
  NATS_NKEY_SEED_FILE: Type.Optional(Type.String({ description: 'File holding a NATS user nkey seed' })),
  NATS_TLS_CA_FILE: Type.Optional(Type.String({ description: 'CA certificate(s) the NATS server\'s certificate must chain to (PEM)' })),
  NATS_TLS_CERT_FILE: Type.Optional(Type.String({ description: 'Client certificate for NATS (PEM), with NATS_TLS_KEY_FILE' })),
  NATS_TLS_KEY_FILE: Type.Optional(Type.String({ description: 'Client key for NATS (PEM)' })),
  NATS_PREFIX: Type.String({ default: 'chat', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$', description: 'First token(s) of every subject' }),
  NATS_REQUEST_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, description: 'How long a command waits for its reply' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' }
  ),
  HTTP_HOST: Type.String({ default: '0.0.0.0', description: 'Interface of the health/metrics (or gateway) HTTP server' }),
}

export const RedisConfig = {
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', description: 'redis://[user:pass@]host:port[/db], or rediss:// for TLS' }),
  REDIS_PREFIX: Type.String({ default: 'chat:', description: 'Prefix of every Redis key' }),
}

export const MongoConfig = {
  MONGO_URL: Type.String({ default: 'mongodb://127.0.0.1:27017', description: 'MongoDB connection string; credentials, authSource and tls go in it' }),
  MONGO_DB: Type.String({ default: 'chat', pattern: '^[A-Za-z0-9_-]{1,63}$' }),
}

/**
 * How long a process may take to stop: each main.ts gives close-with-grace
 * this delay, after which the process exits (code 1) whatever is left.
 */
export const ShutdownConfig = {
  SHUTDOWN_GRACE_MS: Type.Integer({ default: 10000, minimum: 0, description: 'Longest a graceful stop may take' }),
}

/**
 * Where clients reach the gateways. Gateways put it in front of the file
 * URLs they hand out; the message service recognises those URLs by it, so
 * every process of a deployment must get the same value.
 */
export const PublicUrlConfig = {
  PUBLIC_URL: Type.String({
    default: '',
    pattern: '^(https?://[^\\s/?#@]+(/[^\\s?#]*)?)?$',
    description: 'Origin (and path prefix, if any) clients use to reach the gateways, e.g. https://chat.example.com; prefixed to file URLs. Empty: relative /files/<id> URLs',
  }),
}

/** PUBLIC_URL without trailing slashes, ready to have `/files/<id>` appended. */
export function publicBase (publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '')
}

/**
 * What tokens say and are checked for, on auth (signs) and gateways
 * (verify). There is no shared secret: auth signs with an Ed25519 private
 * key only it holds (see the auth service's TOKEN_PRIVATE_KEY), gateways
 * verify with the public keys it publishes.
 */
export const JwtConfig = {
  JWT_ISSUER: Type.String({ default: 'chat-auth', description: '`iss` of issued tokens, checked on verification' }),
  JWT_AUDIENCE: Type.String({ default: 'chat', description: '`aud` of issued tokens, checked on verification' }),
}

/**
 * Reads and validates the environment once: types converted, defaults
 * applied, every problem reported together, the result frozen. Nothing else
 * in a process reads `process.env`.
 */
export function loadConfig<P extends TProperties> (
  properties: P,
  env: Record<string, string | undefined> = process.env
): Readonly<Static<TObject<P>>> {
  const schema = Type.Object(properties)
  const config = envSchema<Static<TObject<P>>>({
    schema,
    data: env as Record<string, unknown>,
    env: false,
    dotenv: false,
  })
  return Object.freeze(config)
}
