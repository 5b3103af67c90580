import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import { ChatError, createSubjects } from '@chat/contracts'
import {
  connectNats, createCommandClient, createLogger, createMetricsRegistry, createTokenVerifier, Gauge, opsRoutes,
  type Logger,
} from '@chat/runtime'
import type { GatewayConfig } from './config.js'
import { ConnectionHub } from './hub.js'
import { createAuthenticator } from './session.js'
import { createHttpAuth } from './http-auth.js'
import { FileStore } from './files.js'
import { filesRoutes } from './files-routes.js'
import { installErrorHandler } from './http-errors.js'
import { registerWsApi } from './ws-route.js'
import { CloseCodes } from './ws-connection.js'
import { typedApi } from './apis/typed/adapter.js'
import { eventsApi } from './apis/events/adapter.js'
import { flatApi } from './apis/flat/adapter.js'
import { UserDirectory } from './user-directory.js'

/**
 * Builds a gateway replica: HTTP and WebSocket APIs on one fastify instance.
 * It never listens or handles signals (main.ts does), so tests can build
 * many. `app.close()` is the graceful stop: refuse new work, close sockets
 * with 1001, report their users offline, drain NATS.
 */
export async function buildGateway (config: GatewayConfig, opts: { logger?: Logger } = {}): Promise<FastifyInstance> {
  const logger = opts.logger ?? createLogger('gateway', config.LOG_LEVEL)
  const registry = createMetricsRegistry('gateway')
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  })
  installErrorHandler(app)

  const nc = await connectNats(config.NATS_URL, `gateway ${config.GATEWAY_ID}`, logger)
  const subjects = createSubjects(config.NATS_PREFIX)
  const commands = createCommandClient(nc, { prefix: config.NATS_PREFIX, timeoutMs: config.NATS_REQUEST_TIMEOUT_MS, registry })
  const authenticate = createAuthenticator(commands, createTokenVerifier({
    secret: config.JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE,
  }))
  const files = new FileStore(commands, config.PUBLIC_URL.replace(/\/+$/, ''), config.FILE_MAX_BYTES)
  const hub = new ConnectionHub({ nc, commands, subjects, gatewayId: config.GATEWAY_ID, heartbeatMs: config.PRESENCE_HEARTBEAT_MS, logger })
  const services = { commands, authenticate, files, users: new UserDirectory(commands) }
  let accepting = true
  let connections = 0

  const sockets = new Gauge({ name: 'chat_gateway_sockets', help: 'Open authenticated sockets on this replica', registers: [registry], collect () { sockets.set(hub.size) } })

  await app.register(opsRoutes, {
    registry,
    accepting: () => accepting,
    checks: { nats: () => !nc.isClosed() && !nc.isDraining() },
  })

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
      maxQueued: config.WS_RATE_LIMIT_BURST,
      maxBufferedBytes: 8 * config.WS_MAX_FRAME_BYTES,
    },
  }
  await app.register(async (scope) => {
    registerWsApi(scope, '/ws', typedApi, wsOptions)
    registerWsApi(scope, '/ws/events', eventsApi, wsOptions)
    registerWsApi(scope, '/ws/flat', flatApi, wsOptions)
  })
  await app.register(filesRoutes, { files, auth: createHttpAuth(authenticate) })

  app.addHook('onClose', async () => {
    accepting = false
    await hub.stop()
    await nc.drain().catch((err: unknown) => logger.warn({ err }, 'nats drain failed'))
  })
  return app
}
