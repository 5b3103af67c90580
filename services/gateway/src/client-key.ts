import type { FastifyRequest } from 'fastify'
import type { TokenClaims } from '@chat/runtime'

/**
 * Who a request counts against for rate limits: the user its credential
 * proves (`user:<id>`, every session of theirs together), else its address
 * (`ip:<address>`, which is the proxy's view when TRUST_PROXY allows).
 * Only a token whose signature verifies names a user, so made-up tokens all
 * land in their sender's address bucket instead of buying a fresh one each.
 * The check is local (no round trip); revocation is the route's business.
 */
export function createClientKey (
  verify: (token: string) => Promise<TokenClaims>,
  tokenOf: (req: FastifyRequest) => string | undefined
): (req: FastifyRequest) => Promise<string> {
  return async (req) => {
    try {
      const token = tokenOf(req)
      if (token !== undefined) return `user:${(await verify(token)).userId}`
    } catch {
      // A malformed header or a token that does not verify: not a user, an address.
    }
    return `ip:${req.ip}`
  }
}
