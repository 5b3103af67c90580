import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { ChatError } from '@chat/contracts'
import { capConnections, nodeServerOptions, type ServerLimits } from './server-limits.js'

/** Routes for operators only: Prometheus, the API browser, the log level. */
export function isOpsOnlyRoute (url: string | undefined): boolean {
  return url === '/metrics' || url === '/log-level' || url === '/docs' || (url?.startsWith('/docs/') ?? false)
}

/** Probes: answered on both ports, so load balancers and kubelets keep working whichever they use. */
export function isProbeRoute (url: string | undefined): boolean {
  return url === '/healthz' || url === '/readyz'
}

/** The second listener of a gateway with OPS_PORT set. */
export interface OpsListener {
  /** Starts listening; resolves with the port (useful with 0). */
  listen (host: string, port: number): Promise<number>
}

/**
 * Serves the gateway's ops routes on a port of their own, so /metrics and
 * /docs need not be reachable by clients: one fastify instance (one set of
 * routes, metrics and hooks) behind two Node servers, each request judged by
 * the server its connection arrived on. On the public port the ops-only
 * routes are 404; on the ops port everything but them and the probes is.
 * It has the public port's timeouts and connection cap. Call before any
 * route is registered; it closes with the app.
 */
export function separateOpsPort (app: FastifyInstance, limits: ServerLimits): OpsListener {
  const opsSockets = new WeakSet<Socket>()
  const server = createServer(nodeServerOptions(limits), (req, res) => app.routing(req, res))
  capConnections(server, limits)
  server.on('connection', (socket) => opsSockets.add(socket))

  app.addHook('onRequest', async (req) => {
    const url = req.routeOptions.url
    const onOpsPort = opsSockets.has(req.raw.socket)
    const allowed = isProbeRoute(url) || (onOpsPort ? isOpsOnlyRoute(url) : !isOpsOnlyRoute(url))
    if (!allowed) throw new ChatError('CHAT_NOT_FOUND', 'No such route')
  })
  app.addHook('onClose', async () => {
    if (!server.listening) return
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  })

  return {
    listen: (host, port) => new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        const address = server.address()
        resolve(typeof address === 'object' && address !== null ? address.port : port)
      })
    }),
  }
}
