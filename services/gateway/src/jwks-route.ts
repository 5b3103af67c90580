import type { FastifyInstance } from 'fastify'
import type { GatewayKeys } from './session.js'

/**
 * `GET /.well-known/jwks.json`: the public keys tokens are verified with
 * (RFC 7517), as this gateway holds them, so other parties can verify
 * session tokens without asking anyone. The plugin also stops the key
 * set's refreshes when the gateway closes.
 */
export async function jwksRoute (app: FastifyInstance, opts: { keys: GatewayKeys }): Promise<void> {
  app.addHook('onClose', async () => opts.keys.close())
  app.get('/.well-known/jwks.json', {
    // Not part of the HTTP APIs' OpenAPI document; RFC 7517 describes it.
    schema: { hide: true },
  }, async (_req, reply) => {
    const jwks = await opts.keys.jwks()
    // Short: a verifier that meets an unknown kid should fetch again anyway.
    reply.header('cache-control', 'public, max-age=60')
    reply.type('application/jwk-set+json')
    return jwks
  })
}
