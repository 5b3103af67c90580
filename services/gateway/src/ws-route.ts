import type { FastifyInstance } from 'fastify'
import { ChatError, type Session } from '@chat/contracts'
import type { Logger } from '@chat/runtime'
import type { ConnectionCaps } from './connection-caps.js'
import type { ConnectionHub } from './hub.js'
import { tokenFromRequest } from './session.js'
import type { ApiServices, WsApi, WsRequest } from './ws-api.js'
import { CloseCodes, WsConnection, type ConnectionLimits } from './ws-connection.js'

export interface WsRouteOptions {
  services: ApiServices
  hub: ConnectionHub
  limits: ConnectionLimits
  caps: ConnectionCaps
  logger: Logger
  /** Cluster-unique socket ids: `<gatewayId>:<n>`. */
  nextConnectionId: () => string
}

const upgradeSessions = new WeakMap<object, Session>()
/** Upgrades that counted against their address's cap (released if the upgrade never completes). */
const admitted = new WeakSet<object>()

/**
 * Serves one WebSocket API at a path. An address holding its share of
 * connections is refused with 429 before the upgrade. A token given at the
 * upgrade (`?token=` or a bearer header) logs the socket in before it
 * opens; a bad one is refused with 401 before the upgrade. Otherwise the
 * client logs in with a frame, as its document shows.
 */
export function registerWsApi<Req extends WsRequest, State> (app: FastifyInstance, path: string, api: WsApi<Req, State>, opts: WsRouteOptions): void {
  app.get(path, {
    websocket: true,
    preValidation: async (req) => {
      if (!opts.caps.admitAddress(req.ip)) throw new ChatError('CHAT_RATE_LIMITED', 'too many connections from this address')
      admitted.add(req)
      // An upgrade refused from here on (bad token, …) never becomes a connection: give its place back.
      req.raw.socket.once('close', () => {
        if (admitted.delete(req)) opts.caps.releaseAddress(req.ip)
      })
      const token = tokenFromRequest(req.query, req.headers, true)
      if (token !== undefined) upgradeSessions.set(req, await opts.services.authenticate(token))
    },
  }, (socket, req) => {
    // From here the connection releases the address's place when it closes.
    admitted.delete(req)
    const connection = new WsConnection(
      opts.nextConnectionId(), socket, api, opts.services, opts.hub, opts.limits,
      opts.logger.child({ api: api.name }), req.ip, opts.caps
    )
    const session = upgradeSessions.get(req)
    if (session) {
      connection.login(session).catch((err: unknown) => {
        connection.logger.debug({ err }, 'login at upgrade refused')
        connection.close(CloseCodes.policy, 'login refused')
      })
    }
  })
}
