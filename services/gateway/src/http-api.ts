import type { FastifyPluginAsync } from 'fastify'
import type { HttpAuth, SessionCookie } from './http-auth.js'
import type { ApiServices } from './ws-api.js'

/** What an HTTP API adapter gets: the same services as the WebSocket adapters. */
export interface HttpApiOptions {
  services: ApiServices
  auth: HttpAuth
  cookie: SessionCookie
}

/**
 * An HTTP API dialect: fastify routes whose params, query, body and
 * responses are described by schemas (validated on the way in, serialized
 * on the way out, published in the OpenAPI document at `/docs`). Like the
 * WebSocket adapters they only translate to commands.
 */
export type HttpApi = FastifyPluginAsync<HttpApiOptions>

/** OpenAPI security requirement of routes that need a session. */
export const requiresSession: Array<Record<string, string[]>> = [{ bearer: [] }, { cookie: [] }]
