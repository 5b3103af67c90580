import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import type { Logger } from './logger.js'

/** A named readiness check: true when that dependency can do its job. */
export type ReadinessCheck = () => boolean | Promise<boolean>

export interface OpsOptions {
  registry: Registry
  checks: Record<string, ReadinessCheck>
  /** False once shutdown begins, so load balancers stop routing here first. */
  accepting: () => boolean
}

/**
 * `/healthz` (the process is alive), `/readyz` (it can serve: every check
 * passes and it is not shutting down) and Prometheus `/metrics`.
 */
export const opsRoutes: FastifyPluginAsync<OpsOptions> = async (app, opts) => {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const results: Record<string, boolean> = {}
    await Promise.all(Object.entries(opts.checks).map(async ([name, check]) => {
      try {
        results[name] = await check()
      } catch {
        results[name] = false
      }
    }))
    const ready = opts.accepting() && Object.values(results).every(Boolean)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', accepting: opts.accepting(), checks: results })
  })
  app.get('/metrics', async (_req, reply) => {
    return reply.type(opts.registry.contentType).send(await opts.registry.metrics())
  })
}

/** The small HTTP server a NATS service runs for its probes and metrics. */
export async function startOpsServer (opts: OpsOptions & { host: string, port: number, logger: Logger }): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'ops-http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  })
  await app.register(opsRoutes, opts)
  await app.listen({ host: opts.host, port: opts.port })
  return app
}
