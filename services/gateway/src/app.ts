import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { ChatError, createSubjects } from '@chat/contracts'
import {
  connectNats, createCommandClient, createLogger, createMetricsRegistry, Gauge, natsReady, opsRoutes, publicBase,
  type Logger,
} from '@chat/runtime'
import type { GatewayConfig } from './config.js'
import { ConnectionHub } from './hub.js'
import { actAs, publicCommands } from './actor.js'
import { ConnectionCaps } from './connection-caps.js'
import type { ApiServices } from './ws-api.js'
import { createAuthenticator, GatewayKeys } from './session.js'
import { jwksRoute } from './jwks-route.js'
import { createHttpAuth, SessionCookie } from './http-auth.js'
import { FileStore } from './files.js'
import { filesRoutes } from './files-routes.js'
import { avatarRoute } from './avatar-route.js'
import { installErrorHandler } from './http-errors.js'
import { strictValidatorCompiler } from './http-validation.js'
import { installHttpMetrics } from './http-metrics.js'
import { registerWsApi } from './ws-route.js'
import { CloseCodes } from './ws-connection.js'
import { typedApi } from './apis/typed/adapter.js'
import { eventsApi } from './apis/events/adapter.js'
import { flatApi } from './apis/flat/adapter.js'
import { roomsHttpApi } from './apis/rooms/routes.js'
import { roomsWsApi } from './apis/rooms/ws-adapter.js'
import { chatsHttpApi } from './apis/chats/routes.js'
import { UserDirectory } from './user-directory.js'
import { createClientKey } from './client-key.js'
import { installRequestGuard } from './http-guard.js'
import { separateOpsPort, type OpsListener } from './ops-port.js'
import type { TrustProxy } from './trust-proxy.js'
import { capConnections, fastifyServerOptions, serverLimitsOf } from './server-limits.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The ops port's listener when OPS_PORT is set (main.ts starts it). */
    opsListener?: OpsListener
  }
}

const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/log-level'])

/** Pushes a socket may have waiting before its client counts as stuck and is closed (it reconnects and catches up). */
const MAX_PENDING_PUSHES = 1000

/**
 * TRUST_PROXY in fastify's terms. Fastify 5.12 takes a bare number as "trust
 * nobody" (a count cannot vet the direct peer), so a count becomes the
 * classic hop count as a function: trust the peer and the `hops - 1`
 * addresses it forwarded for. That is only safe where nothing but the
 * proxies can reach the gateway; docs/security.md says so.
 */
function trustProxyOption (trust: TrustProxy): string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust
}

/**
 * Builds a gateway replica: HTTP and WebSocket APIs on one fastify instance.
 * It never listens or handles signals (main.ts does), so tests can build
 * many. `app.close()` is the graceful stop: refuse new work, close sockets
 * with 1001, report their users offline, drain NATS.
 */
export async function buildGateway (config: GatewayConfig, opts: { logger?: Logger } = {}): Promise<FastifyInstance> {
  const logger = opts.logger ?? createLogger('gateway', config.LOG_LEVEL)
  const registry = createMetricsRegistry('gateway')
  const limits = serverLimitsOf(config)
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    // A hop count or addresses, never "everyone" (config.ts refuses it).
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    ...fastifyServerOptions(limits),
  })
  capConnections(app.server, limits)
  installErrorHandler(app)
  // Before any route, so its filter sees them all.
  if (config.OPS_PORT !== undefined) app.decorate('opsListener', separateOpsPort(app, limits))

  const nc = await connectNats(config, `gateway ${config.GATEWAY_ID}`, logger)
  const subjects = createSubjects(config.NATS_PREFIX)
  const commands = createCommandClient(nc, { prefix: config.NATS_PREFIX, timeoutMs: config.NATS_REQUEST_TIMEOUT_MS, registry })
  const tokens = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }
  const keys = new GatewayKeys({ nc, commands, subjects, tokens, refreshMs: config.JWKS_REFRESH_MS, logger })
  const verifyToken = keys.verify
  const authenticate = createAuthenticator(commands, verifyToken)
  const files = new FileStore(publicBase(config.PUBLIC_URL), config.FILE_MAX_BYTES)
  const hub = new ConnectionHub({ nc, commands, subjects, gatewayId: config.GATEWAY_ID, heartbeatMs: config.PRESENCE_HEARTBEAT_MS, sessionRecheckMs: config.SESSION_RECHECK_MS, logger })
  // Adapters get no client that could act as a user of their choosing: only
  // the pre-login commands, and `act`, which binds a verified session.
  const services: ApiServices = {
    commands: publicCommands(commands),
    act: (session) => actAs(commands, session),
    authenticate,
    files,
    users: new UserDirectory(commands),
  }
  let accepting = true
  let connections = 0

  installHttpMetrics(app, registry)
  const sockets = new Gauge({ name: 'chat_gateway_sockets', help: 'Open authenticated sockets on this replica', registers: [registry], collect () { sockets.set(hub.size) } })

  await app.register(opsRoutes, {
    registry,
    accepting: () => accepting,
    // NATS is the gateway's only connection: MongoDB and Redis are the services'.
    checks: { nats: () => natsReady(nc) },
  })

  await app.register(jwksRoute, { keys })
  await app.register(cookie)
  if (config.CORS_ORIGINS !== '') {
    const any = config.CORS_ORIGINS === '*'
    await app.register(cors, {
      // Credentials (the session cookie) only for listed origins, never for "*".
      origin: any ? '*' : config.CORS_ORIGINS.split(','),
      credentials: !any,
      methods: ['GET', 'POST', 'DELETE'],
      // chats_v2 reads tell what is left in a header a page must be allowed to read.
      exposedHeaders: ['unread_count', 'retry-after'],
      maxAge: 600,
    })
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chat gateway HTTP APIs',
        version: '1.0.0',
        description: 'The `rooms` and `chats` HTTP APIs, and file transfer (references with examples: docs/api-rooms.md, docs/api-chats.md). ' +
          'Errors are `{"error", "message"}`; see docs/errors.md. The WebSocket APIs are described in docs/api-typed.md, docs/api-events.md, ' +
          'docs/api-flat.md and docs/api-rooms.md (`/ws/room`).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          cookie: { type: 'apiKey', in: 'cookie', name: config.SESSION_COOKIE_NAME },
        },
      },
    },
    // The document covers the HTTP APIs; probes and WebSocket upgrades are not part of it.
    transform: ({ schema, url }) => ({
      schema: (url.startsWith('/ws') || OPS_ROUTES.has(url) ? { ...schema, hide: true } : schema) as typeof schema,
      url,
    }),
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  await app.register(websocket, {
    options: { maxPayload: config.WS_MAX_FRAME_BYTES },
    // ws has already closed the socket (1009, 1002) for a client's protocol
    // violation; that is the client's fault, not an error of ours.
    errorHandler: (err, socket, req) => {
      const code = (err as { code?: unknown }).code
      if (typeof code === 'string' && code.startsWith('WS_ERR_')) req.log.debug({ code }, 'websocket protocol violation')
      else {
        req.log.error({ err }, 'websocket handler failed')
        socket.terminate()
      }
    },
    preClose: async () => {
      accepting = false
      for (const client of app.websocketServer.clients) client.close(CloseCodes.goingAway, 'server shutting down')
      hub.detachAll()
      await hub.stop()
    },
  })

  // New sockets are refused once shutdown begins; load balancers see /readyz fail first.
  app.addHook('onRequest', async (req) => {
    if (!accepting && req.url !== '/healthz') throw new ChatError('CHAT_UNAVAILABLE', 'shutting down')
  })

  const wsOptions = {
    services,
    hub,
    logger,
    nextConnectionId: () => `${config.GATEWAY_ID}:${++connections}`,
    limits: {
      ratePerSecond: config.WS_RATE_LIMIT_PER_SEC,
      rateBurst: config.WS_RATE_LIMIT_BURST,
      authTimeoutMs: config.WS_AUTH_TIMEOUT_MS,
      maxQueued: Math.max(config.WS_RATE_LIMIT_BURST, config.WS_MAX_IN_FLIGHT),
      maxInFlight: config.WS_MAX_IN_FLIGHT,
      maxSendWaitMs: config.WS_SEND_QUEUE_LIMIT_MS,
      maxQueuedBytes: Math.max(config.WS_MAX_QUEUED_BYTES, config.WS_MAX_FRAME_BYTES),
      maxLoginFrameBytes: Math.min(config.WS_MAX_LOGIN_FRAME_BYTES, config.WS_MAX_FRAME_BYTES),
      maxFrameBytes: config.WS_MAX_FRAME_BYTES,
      maxBufferedBytes: 8 * config.WS_MAX_FRAME_BYTES,
      maxPendingPushes: MAX_PENDING_PUSHES,
      pingIntervalMs: config.WS_PING_INTERVAL_MS,
    },
    caps: new ConnectionCaps({ perAddress: config.WS_MAX_CONNECTIONS_PER_ADDRESS, perUser: config.WS_MAX_CONNECTIONS_PER_USER }),
  }
  await app.register(async (scope) => {
    registerWsApi(scope, '/ws', typedApi, wsOptions)
    registerWsApi(scope, '/ws/events', eventsApi, wsOptions)
    registerWsApi(scope, '/ws/flat', flatApi, wsOptions)
    registerWsApi(scope, '/ws/room', roomsWsApi, wsOptions)
  })
  const sessionCookie = new SessionCookie({ name: config.SESSION_COOKIE_NAME })
  const auth = createHttpAuth(authenticate, sessionCookie)
  await app.register(async (scope) => {
    // Request parts have exactly their documented types: no coercion.
    scope.setValidatorCompiler(strictValidatorCompiler)
    // Per replica and in memory: a coarse guard against floods, keyed by the
    // verified user, else by the client's address.
    await scope.register(rateLimit, {
      max: config.HTTP_RATE_LIMIT_PER_MIN,
      timeWindow: 60_000,
      keyGenerator: createClientKey(verifyToken, auth.tokenOf),
      // Thrown, so the error handler answers it like every other error.
      errorResponseBuilder: (_req, ctx) => new ChatError('CHAT_RATE_LIMITED', `Too many requests; retry in ${ctx.after}`),
    })
    // After the rate limiter: credentials and sizes are checked before bodies are read.
    installRequestGuard(scope, auth)
    const httpApi = { services, auth, cookie: sessionCookie }
    await scope.register(roomsHttpApi, httpApi)
    await scope.register(chatsHttpApi, httpApi)
    await scope.register(filesRoutes, { files, auth, act: services.act })
    await scope.register(avatarRoute, { services, auth })
  })

  app.addHook('onClose', async () => {
    accepting = false
    await hub.stop()
    await nc.drain().catch((err: unknown) => logger.warn({ err }, 'nats drain failed'))
  })
  return app
}
