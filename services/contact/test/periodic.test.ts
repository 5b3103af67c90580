import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { startPeriodic } from '../src/periodic.js'

t.test('runs repeatedly and never overlaps a slow run', async (t) => {
  let runs = 0
  let active = 0
  let maxActive = 0
  const p = startPeriodic(5, async () => {
    runs++
    active++
    maxActive = Math.max(maxActive, active)
    await sleep(15)
    active--
  }, () => t.fail('no errors expected'))
  await sleep(120)
  await p.stop()
  t.ok(runs >= 3, `ran ${runs} times`)
  t.equal(maxActive, 1)
})

t.test('stop waits for the run in progress and prevents further runs', async (t) => {
  let finished = false
  let started = 0
  const p = startPeriodic(1, async () => {
    started++
    await sleep(30)
    finished = true
  }, () => {})
  await sleep(10)
  t.equal(started, 1)
  await p.stop()
  t.ok(finished, 'the run in progress completed before stop resolved')
  await sleep(20)
  t.equal(started, 1, 'no run after stop')
})

t.test('a failing run is reported and the schedule goes on', async (t) => {
  let runs = 0
  const errors: unknown[] = []
  const p = startPeriodic(2, async () => {
    runs++
    if (runs === 1) throw new Error('boom')
  }, (err) => errors.push(err))
  await sleep(50)
  await p.stop()
  t.equal(errors.length, 1)
  t.ok(runs > 1)
})

t.test('the timer does not keep the process alive', async (t) => {
  // If it were ref'd, tap would hang on this file; stop it anyway to be tidy.
  const p = startPeriodic(60_000, async () => {}, () => {})
  await p.stop()
  t.pass()
})
