import { readFileSync } from 'node:fs'
import { Type } from '@sinclair/typebox'
import { JwtConfig, loadConfig, serviceConfig } from '@chat/runtime'

export const AuthConfigSchema = {
  ...serviceConfig(9101),
  ...JwtConfig,
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
}

export function loadAuthConfig (env?: Record<string, string | undefined>) {
  const config = loadConfig(AuthConfigSchema, env)
  if (config.TOKEN_PRIVATE_KEY !== '' && config.TOKEN_PRIVATE_KEY_FILE !== '') {
    throw new Error('set TOKEN_PRIVATE_KEY or TOKEN_PRIVATE_KEY_FILE, not both')
  }
  return config
}

export type AuthConfig = ReturnType<typeof loadAuthConfig>

/** The configured signing key's PEM (from the variable or its file), or undefined to use MongoDB's. */
export function configuredKeyPem (config: AuthConfig): string | undefined {
  if (config.TOKEN_PRIVATE_KEY !== '') return config.TOKEN_PRIVATE_KEY.replaceAll('\\n', '\n')
  if (config.TOKEN_PRIVATE_KEY_FILE !== '') return readFileSync(config.TOKEN_PRIVATE_KEY_FILE, 'utf8')
  return undefined
}
