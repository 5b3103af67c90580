import t from 'tap'
import { nextPause } from '../src/locks.js'

t.test('nextPause: random in [min, 2·min], never past the deadline', async (t) => {
  t.equal(nextPause(0, 1000, 10, () => 0), 10)
  t.equal(nextPause(0, 1000, 10, () => 0.5), 15)
  t.equal(nextPause(0, 1000, 10, () => 0.999), 20)
  t.equal(nextPause(995, 1000, 10, () => 0.5), 5, 'cut to the time left')
  t.equal(nextPause(1000, 1000, 10), undefined, 'deadline reached')
  t.equal(nextPause(1500, 1000, 10), undefined, 'deadline passed')
  t.equal(nextPause(0, 1000, 0, () => 0), 1, 'always waits a little')
})
