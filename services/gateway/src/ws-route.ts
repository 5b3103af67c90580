import type { FastifyInstance } from 'fastify'
import type { Session } from '@chat/contracts'
import type { Logger } from '@chat/runtime'
import type { ConnectionHub } from './hub.js'
import { tokenFromRequest } from './session.js'
import type { ApiServices, WsApi } from './ws-api.js'
import { WsConnection, type ConnectionLimits } from './ws-connection.js'

export interface WsRouteOptions {
  services: ApiServices
  hub: ConnectionHub
  limits: ConnectionLimits
  logger: Logger
  /** Cluster-unique socket ids: `<gatewayId>:<n>`. */
  nextConnectionId: () => string
}

const upgradeSessions = new WeakMap<object, Session>()

/**
 * Serves one WebSocket API at a path. A token given at the upgrade
 * (`?token=` or a bearer header) logs the socket in before it opens; a bad
 * one is refused with 401 before the upgrade. Otherwise the client logs in
 * with a frame, as its document shows.
 */
export function registerWsApi<Req> (app: FastifyInstance, path: string, api: WsApi<Req>, opts: WsRouteOptions): void {
  app.get(path, {
    websocket: true,
    preValidation: async (req) => {
      const token = tokenFromRequest(req.query, req.headers, true)
      if (token !== undefined) upgradeSessions.set(req, await opts.services.authenticate(token))
    },
  }, (socket, req) => {
    const connection = new WsConnection(
      opts.nextConnectionId(), socket, api, opts.services, opts.hub, opts.limits,
      opts.logger.child({ api: api.name })
    )
    const session = upgradeSessions.get(req)
    if (session) void connection.login(session)
  })
}
