import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ChatError } from '@chat/contracts'
import type { HttpAuth } from './http-auth.js'

/**
 * True when a route's OpenAPI `security` says a session is required: some
 * requirement is listed and none is the empty one (`{}`: "or nothing", as
 * /Logout has). The documented requirement is the enforced one.
 */
export function requiresSessionBySchema (route: { schema?: unknown }): boolean {
  const security = (route.schema as { security?: unknown } | undefined)?.security
  return Array.isArray(security) && security.length > 0 &&
    security.every((s) => typeof s === 'object' && s !== null && Object.keys(s).length > 0)
}

/** The body size a request announces; undefined when it announces none (chunked or no body). */
function announcedLength (req: FastifyRequest): number | undefined {
  const header = req.headers['content-length']
  if (header === undefined) return undefined
  const n = Number(header)
  return Number.isFinite(n) ? n : undefined
}

/**
 * Refuses a request before a byte of its body is read: on every route of
 * `scope` registered after this call, a missing or bad credential (routes
 * whose schema requires a session: 401) and then a `Content-Length` over
 * the route's body limit (413). Otherwise an anonymous client could make
 * the gateway wait for, and buffer, a body it would refuse anyway. Added as
 * a route hook after the rate limiter's, so floods are counted first.
 * A refused request's connection is closed, since the client may still be
 * sending the body.
 */
export function installRequestGuard (scope: FastifyInstance, auth: HttpAuth): void {
  scope.addHook('onRoute', (route) => {
    const needsSession = requiresSessionBySchema(route)
    const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      try {
        if (needsSession) await auth(req)
        const length = announcedLength(req)
        if (length !== undefined && length > req.routeOptions.bodyLimit) {
          throw new ChatError('CHAT_CONTENT_TOO_LARGE', `The body may have at most ${req.routeOptions.bodyLimit} bytes`)
        }
      } catch (err) {
        // The unread body must not be taken for the next request on this connection.
        if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) reply.header('connection', 'close')
        throw err
      }
    }
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [guard] : [...(Array.isArray(existing) ? existing : [existing]), guard]
  })
}
