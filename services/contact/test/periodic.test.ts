import t from 'tap'
import { spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { startPeriodic } from '../src/periodic.js'

/** Waits until `done()` holds, or gives up after a while (a loaded machine is slow, not broken). */
async function until (done: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!done() && Date.now() < deadline) await sleep(5)
}

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
  await until(() => runs >= 3)
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
  await until(() => runs > 1)
  await p.stop()
  t.equal(errors.length, 1)
  t.ok(runs > 1)
})

t.test('the timer does not keep the process alive', async (t) => {
  // A process whose only work is a pending run a minute away exits at once.
  const periodic = fileURLToPath(new URL('../dist/periodic.js', import.meta.url))
  const started = Date.now()
  const child = spawnSync(process.execPath, ['--input-type=module', '-e',
    `import { startPeriodic } from ${JSON.stringify(periodic)}; startPeriodic(60000, async () => {}, () => {})`,
  ], { timeout: 20_000 })
  t.equal(child.status, 0, 'exited by itself')
  t.equal(child.signal, null, 'not killed by the timeout')
  t.ok(Date.now() - started < 20_000)
})
