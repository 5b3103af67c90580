import { domainEventSettings, importSigningKey } from '@chat/runtime'
import type { AuthOptions } from './app.js'
import { configuredKeyPem, type AuthConfig } from './config.js'
import { scryptParamsFor } from './passwords.js'

/** The auth service's options from its validated config; a configured key that is not Ed25519 PKCS#8 fails here, at start. */
export async function authOptions (config: AuthConfig): Promise<AuthOptions> {
  const pem = configuredKeyPem(config)
  return {
    tokens: { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
    signingKey: pem === undefined ? undefined : await importSigningKey(pem),
    signingKeyRefreshMs: config.SIGNING_KEY_REFRESH_MS,
    tokenTtlSeconds: config.TOKEN_TTL_SECONDS,
    roomTicketTtlMs: config.ROOM_TICKET_TTL_MS,
    scrypt: scryptParamsFor(config.PASSWORD_SCRYPT_LOG2_N),
    domainEvents: domainEventSettings(config),
  }
}
