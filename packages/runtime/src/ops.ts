import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import type { Logger } from './logger.js'

/** A named readiness check: true when that dependency can do its job. */
export type ReadinessCheck = () => boolean | Promise<boolean>

/**
 * How long /readyz waits for a check; one still running then counts as
 * failed. Below the kubelet's default probe timeout (1 s), so a store that
 * stopped answering turns the probe into a 503 naming it, not a timeout,
 * and a probe never hangs.
 */
export const READINESS_CHECK_TIMEOUT_MS = 800

/**
 * A check that runs at most once per `ttlMs`: probes arriving while it runs,
 * or within `ttlMs` of its result, get that result. For checks that cost a
 * round trip: whoever calls /readyz (kubelet, load balancers, monitoring,
 * anyone who can reach the port), the store sees at most one probe a
 * second, and during an outage probes do not pile up waiting for it.
 * Readiness lags the store by at most `ttlMs`.
 */
export function cachedCheck (check: ReadinessCheck, ttlMs = 1000): ReadinessCheck {
  let last: { at: number, result: Promise<boolean> } | undefined
  return () => {
    const now = Date.now()
    if (last === undefined || now - last.at >= ttlMs) {
      last = { at: now, result: Promise.resolve().then(check) }
    }
    return last.result
  }
}

/** Runs a check within READINESS_CHECK_TIMEOUT_MS: false if it fails, throws or is still running then. */
async function runCheck (check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), READINESS_CHECK_TIMEOUT_MS) })
  try {
    return await Promise.race([Promise.resolve().then(check), late]) === true
  } finally {
    clearTimeout(timer)
  }
}

export interface OpsOptions {
  registry: Registry
  checks: Record<string, ReadinessCheck>
  /** False once shutdown begins, so load balancers stop routing here first. */
  accepting: () => boolean
}

/**
 * `/healthz` (the process is alive), `/readyz` (it can serve: every check
 * passes, each within READINESS_CHECK_TIMEOUT_MS, and it is not shutting
 * down; 503 otherwise, naming each check's result) and Prometheus `/metrics`.
 */
export const opsRoutes: FastifyPluginAsync<OpsOptions> = async (app, opts) => {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (req, reply) => {
    const results: Record<string, boolean> = {}
    await Promise.all(Object.entries(opts.checks).map(async ([name, check]) => {
      try {
        results[name] = await runCheck(check)
      } catch (err) {
        req.log.debug({ err, check: name }, 'readiness check failed')
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
