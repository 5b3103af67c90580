// /readyz in-process: a check that hangs or throws fails by name within the
// bound instead of holding the probe, and a cached check runs once for the
// probes of the same second.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { createMetricsRegistry } from '../src/index.js'
import { cachedCheck, opsRoutes, READINESS_CHECK_TIMEOUT_MS, type ReadinessCheck } from '../src/ops.js'

async function buildOps (t: Test, checks: Record<string, ReadinessCheck>, accepting = () => true) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(opsRoutes, { registry: createMetricsRegistry('test'), checks, accepting })
  return app
}

t.test('every check passes: 200', async (t) => {
  const app = await buildOps(t, { a: () => true, b: async () => true })
  const res = await app.inject('/readyz')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ready', accepting: true, checks: { a: true, b: true } })
})

t.test('a check that hangs or throws fails by name, within the bound', async (t) => {
  const app = await buildOps(t, {
    ok: () => true,
    hangs: () => new Promise<boolean>(() => {}),
    throws: () => { throw new Error('down') },
    rejects: async () => { throw new Error('down') },
  })
  const started = Date.now()
  const res = await app.inject('/readyz')
  const took = Date.now() - started
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'not ready', accepting: true, checks: { ok: true, hangs: false, throws: false, rejects: false } })
  t.ok(took >= READINESS_CHECK_TIMEOUT_MS - 50 && took < READINESS_CHECK_TIMEOUT_MS + 1000, `answered after ${took} ms`)
})

t.test('not accepting (shutting down): 503 whatever the checks say', async (t) => {
  const app = await buildOps(t, { a: () => true }, () => false)
  const res = await app.inject('/readyz')
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'not ready', accepting: false, checks: { a: true } })
})

t.test('cachedCheck: one run for the probes within its ttl, a new one after', async (t) => {
  let runs = 0
  let healthy = true
  const check = cachedCheck(async () => {
    runs++
    await new Promise((resolve) => setTimeout(resolve, 20))
    return healthy
  }, 200)
  t.same(await Promise.all([check(), check(), check()]), [true, true, true])
  t.equal(runs, 1, 'concurrent probes share one run')
  healthy = false
  t.equal(await check(), true, 'within the ttl: the cached result')
  t.equal(runs, 1)
  await new Promise((resolve) => setTimeout(resolve, 220))
  t.equal(await check(), false, 'after it: checked again')
  t.equal(runs, 2)
})
