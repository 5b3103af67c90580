import t from 'tap'
import { loadContactConfig } from '../src/config.js'

t.test('defaults', async (t) => {
  const c = loadContactConfig({})
  t.equal(c.PRESENCE_TTL_MS, 25000)
  t.equal(c.PRESENCE_SWEEP_MS, 1000)
  t.equal(c.HTTP_PORT, 9102)
  t.equal(c.SHUTDOWN_GRACE_MS, 10000, 'the gateway\'s default grace')
})

t.test('reads and converts the environment', async (t) => {
  const c = loadContactConfig({ PRESENCE_TTL_MS: '5000', PRESENCE_SWEEP_MS: '250', HTTP_PORT: '0', SHUTDOWN_GRACE_MS: '2500' })
  t.equal(c.SHUTDOWN_GRACE_MS, 2500)
  t.equal(c.PRESENCE_TTL_MS, 5000)
  t.equal(c.PRESENCE_SWEEP_MS, 250)
  t.equal(c.HTTP_PORT, 0)
})

t.test('rejects values below the minimums', async (t) => {
  t.throws(() => loadContactConfig({ PRESENCE_TTL_MS: '999' }))
  t.throws(() => loadContactConfig({ PRESENCE_SWEEP_MS: '99' }))
  t.throws(() => loadContactConfig({ PRESENCE_TTL_MS: 'soon' }))
  t.throws(() => loadContactConfig({ SHUTDOWN_GRACE_MS: '-1' }), /SHUTDOWN_GRACE_MS must be >= 0/)
})
