import type { Server, ServerOptions } from 'node:http'

/** How long a client may take, and how many connections a replica holds. */
export interface ServerLimits {
  /** HTTP_REQUEST_TIMEOUT_MS: the whole request, headers and body. */
  requestTimeoutMs: number
  /** HTTP_HEADERS_TIMEOUT_MS: the headers (a WebSocket upgrade is a request too). */
  headersTimeoutMs: number
  /** HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle keep-alive connection. */
  keepAliveTimeoutMs: number
  /** HTTP_MAX_CONNECTIONS: open TCP connections, HTTP and WebSocket alike. */
  maxConnections: number
}

/**
 * Node's options for a server enforcing `limits`. Node looks for stalled
 * requests every `connectionsCheckingInterval` (30 s by default, which would
 * let a slow client hold a connection well past the timeout), so it checks
 * at half the headers timeout, at most every 5 s.
 */
export function nodeServerOptions (limits: ServerLimits): ServerOptions {
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(limits.headersTimeoutMs / 2))),
  }
}

/**
 * The fastify options that carry `limits` to its server (fastify sets
 * requestTimeout and keepAliveTimeout itself, overriding the Node options).
 */
export function fastifyServerOptions (limits: ServerLimits) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: nodeServerOptions(limits),
  }
}

/** The limit Node can only take on a created server. */
export function capConnections (server: Server, limits: ServerLimits): void {
  // Past it, Node closes new connections as soon as they are accepted.
  server.maxConnections = limits.maxConnections
}

/** The limits in a gateway's configuration. */
export function serverLimitsOf (config: {
  HTTP_REQUEST_TIMEOUT_MS: number
  HTTP_HEADERS_TIMEOUT_MS: number
  HTTP_KEEP_ALIVE_TIMEOUT_MS: number
  HTTP_MAX_CONNECTIONS: number
}): ServerLimits {
  return {
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: config.HTTP_MAX_CONNECTIONS,
  }
}
