import t from 'tap'
import { loadMessageConfig } from '../src/config.js'

t.test('defaults', async (t) => {
  const c = loadMessageConfig({})
  t.equal(c.HTTP_PORT, 9103)
  t.equal(c.SHUTDOWN_GRACE_MS, 10000, 'the gateway\'s default grace')
})

t.test('SHUTDOWN_GRACE_MS is read, and refused below 0', async (t) => {
  t.equal(loadMessageConfig({ SHUTDOWN_GRACE_MS: '2500' }).SHUTDOWN_GRACE_MS, 2500)
  t.equal(loadMessageConfig({ SHUTDOWN_GRACE_MS: '0' }).SHUTDOWN_GRACE_MS, 0)
  t.throws(() => loadMessageConfig({ SHUTDOWN_GRACE_MS: '-1' }), /SHUTDOWN_GRACE_MS must be >= 0/)
})
