import { Type } from '@sinclair/typebox'
import { JwtConfig, loadConfig, serviceConfig } from '@chat/runtime'

export const AuthConfigSchema = {
  ...serviceConfig(9101),
  ...JwtConfig,
  ROOM_TICKET_TTL_MS: Type.Integer({ default: 60_000, minimum: 100, maximum: 300_000, description: 'Lifetime of a single-use room ticket (rooms API), at most 5 minutes' }),
  TOKEN_TTL_SECONDS: Type.Integer({ default: 7 * 24 * 3600, minimum: 60, description: 'Lifetime of a session token' }),
}

export function loadAuthConfig (env?: Record<string, string | undefined>) {
  return loadConfig(AuthConfigSchema, env)
}

export type AuthConfig = ReturnType<typeof loadAuthConfig>
