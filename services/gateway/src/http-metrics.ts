import type { FastifyInstance } from 'fastify'
import { Histogram, type Registry } from '@chat/runtime'

/**
 * Request durations of the HTTP APIs by method, route template and status:
 * the route, not the URL, so ids don't multiply the series; requests that
 * match no route count as `unmatched`. WebSocket upgrades and the probes
 * are left out (sockets have their own gauge).
 */
export function installHttpMetrics (app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: 'chat_gateway_http_request_duration_seconds',
    help: 'HTTP API requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const skip = new Set(['/healthz', '/readyz', '/metrics'])
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched'
    if (skip.has(route) || route.startsWith('/ws')) return
    duration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
}
