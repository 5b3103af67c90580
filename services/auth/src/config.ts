import { readFileSync } from 'node:fs'
import { Type, type Static, type TObject } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { EventStreamConfig, JwtConfig, loadConfig, serviceConfig } from '@chat/runtime'
import type { LoginThrottleSettings } from './login-throttle.js'

/** Login throttling (see login-throttle.ts and docs/configuration.md). */
export const LoginThrottleConfig = {
  LOGIN_THROTTLE_WINDOW_SECONDS: Type.Integer({ default: 900, minimum: 1, maximum: 86_400, description: 'Failed logins are remembered this long after the last attempt' }),
  LOGIN_THROTTLE_ACCOUNT_MAX: Type.Integer({ default: 10, minimum: 1, description: 'Failed logins on one account before it is locked' }),
  LOGIN_THROTTLE_ADDRESS_MAX: Type.Integer({ default: 100, minimum: 1, description: 'Failed logins from one client address (IPv6: its /64) before it is locked' }),
  LOGIN_THROTTLE_LOCK_SECONDS: Type.Integer({ default: 900, minimum: 1, maximum: 86_400, description: 'How long a locked account or address refuses every login' }),
  LOGIN_THROTTLE_FREE_FAILURES: Type.Integer({ default: 3, minimum: 0, description: 'Failed logins on an account before attempts are delayed' }),
  LOGIN_THROTTLE_DELAY_MS: Type.Integer({ default: 250, minimum: 0, maximum: 10_000, description: 'First delay of a throttled attempt, doubled for each further failure' }),
  LOGIN_THROTTLE_MAX_DELAY_MS: Type.Integer({ default: 2000, minimum: 0, maximum: 10_000, description: 'Longest delay; keep it well below NATS_REQUEST_TIMEOUT_MS of the gateways' }),
}

export const AuthConfigSchema = {
  PASSWORD_SCRYPT_LOG2_N: Type.Integer({
    default: 17,
    minimum: 10,
    maximum: 20,
    description: 'Password hashing cost: scrypt with N = 2^this, r=8, p=1. 17 is OWASP\'s minimum (128 MiB per hash); lower values are for tests and development only, and auth logs a warning at start',
  }),
  ...serviceConfig(9101),
  ...JwtConfig,
  ...EventStreamConfig,
  TOKEN_PRIVATE_KEY: Type.String({
    default: '',
    description: 'Ed25519 private key (PKCS#8 PEM) tokens are signed with; empty: TOKEN_PRIVATE_KEY_FILE, else a key generated once and kept in MongoDB',
  }),
  TOKEN_PRIVATE_KEY_FILE: Type.String({ default: '', description: 'File holding the PKCS#8 PEM signing key (a mounted Secret), used when TOKEN_PRIVATE_KEY is empty' }),
  SIGNING_KEY_REFRESH_MS: Type.Integer({
    default: 60_000,
    minimum: 100,
    description: 'How often each replica re-reads the signing keys from MongoDB (picks up a rotation) and marks its key in use',
  }),
  ROOM_TICKET_TTL_MS: Type.Integer({ default: 60_000, minimum: 100, maximum: 300_000, description: 'Lifetime of a single-use room ticket (rooms API), at most 5 minutes' }),
  TOKEN_TTL_SECONDS: Type.Integer({ default: 7 * 24 * 3600, minimum: 60, description: 'Lifetime of a session token' }),
  ...LoginThrottleConfig,
}

export function loadAuthConfig (env?: Record<string, string | undefined>) {
  const config = loadConfig(AuthConfigSchema, env)
  if (config.TOKEN_PRIVATE_KEY !== '' && config.TOKEN_PRIVATE_KEY_FILE !== '') {
    throw new Error('set TOKEN_PRIVATE_KEY or TOKEN_PRIVATE_KEY_FILE, not both')
  }
  return config
}

export type AuthConfig = ReturnType<typeof loadAuthConfig>

/** The login throttle's settings from a loaded configuration. */
export function loginThrottleSettings (config: Static<TObject<typeof LoginThrottleConfig>>): LoginThrottleSettings {
  return {
    windowSeconds: config.LOGIN_THROTTLE_WINDOW_SECONDS,
    accountMaxFailures: config.LOGIN_THROTTLE_ACCOUNT_MAX,
    addressMaxFailures: config.LOGIN_THROTTLE_ADDRESS_MAX,
    lockSeconds: config.LOGIN_THROTTLE_LOCK_SECONDS,
    freeFailures: config.LOGIN_THROTTLE_FREE_FAILURES,
    delayMs: config.LOGIN_THROTTLE_DELAY_MS,
    maxDelayMs: config.LOGIN_THROTTLE_MAX_DELAY_MS,
  }
}

/** The schema's defaults: what a service built without explicit settings throttles by. */
export const DEFAULT_LOGIN_THROTTLE: LoginThrottleSettings = loginThrottleSettings(
  Value.Default(Type.Object(LoginThrottleConfig), {}) as Static<TObject<typeof LoginThrottleConfig>>
)

/** The configured signing key's PEM (from the variable or its file), or undefined to use MongoDB's. */
export function configuredKeyPem (config: AuthConfig): string | undefined {
  if (config.TOKEN_PRIVATE_KEY !== '') return config.TOKEN_PRIVATE_KEY.replaceAll('\\n', '\n')
  if (config.TOKEN_PRIVATE_KEY_FILE !== '') return readFileSync(config.TOKEN_PRIVATE_KEY_FILE, 'utf8')
  return undefined
}
