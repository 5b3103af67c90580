// SHUTDOWN_GRACE_MS bounds every process's graceful stop: one that cannot
// finish ends when the grace runs out, by close-with-grace with exit code 1,
// not at the default 10 s nor by the harness's SIGKILL. A value the schema
// refuses stops the process at start, naming it.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { cleanEnv, REPO_ROOT, spawnManaged, stopProcess } from './helpers/proc.js'
import { startRestartableNats } from './helpers/servers.js'
import { startSystem } from './helpers/system.js'

const GRACE_MS = 1000

/** Resolves once the process is stopped by a signal (state T in /proc), at most 2 s. */
async function untilStopped (pid: number): Promise<void> {
  for (const deadline = Date.now() + 2000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 10))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    // The state follows the command name, which is in parentheses.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return
  }
  throw new Error(`process ${pid} did not stop`)
}
const PROCESSES = ['gateway', 'auth', 'contact', 'message'] as const

t.test('a stop that cannot finish ends after SHUTDOWN_GRACE_MS', async (t) => {
  const nats = await startRestartableNats(t)
  const sys = await startSystem(t, { gateways: 1, env: { NATS_URL: nats.url, SHUTDOWN_GRACE_MS: String(GRACE_MS) } })
  const procs = [sys.gateways[0]!.proc, ...(['auth', 'contact', 'message'] as const).map((name) => sys.services[name].proc)]
  // A frozen NATS server keeps its connections open but answers nothing, so
  // every graceful stop waits on it: draining needs the server's reply.
  const frozen = nats.proc!
  frozen.child.kill('SIGSTOP')
  t.teardown(() => { frozen.child.kill('SIGCONT') }) // before the server's own teardown stops it
  // A signal is delivered when the kernel gets to it: stop only once the server is (a busy machine lets it answer a drain first).
  await untilStopped(frozen.child.pid!)

  const signalled = Date.now()
  // Longer than the harness's 5 s before SIGKILL, so only the grace can end a stop early.
  const stops = procs.map(async (p) => ({ name: p.name, exit: await stopProcess(p, 'SIGTERM', 15_000), ms: Date.now() - signalled }))
  for (const { name, exit, ms } of await Promise.all(stops)) {
    const out = procs.find((p) => p.name === name)!.tail(200)
    t.same(exit, { code: 1, signal: null }, `${name}: exit code 1`)
    t.match(out, `killed by timeout (${GRACE_MS}ms)`, `${name}: ended by its grace period`)
    t.ok(ms < 5000, `${name}: stopped ${ms} ms after SIGTERM`)
  }
})

t.test('an invalid SHUTDOWN_GRACE_MS is refused at start', async (t) => {
  // Nothing answers at these addresses: a process that took the value would
  // still exit (unable to connect), never join a real system.
  const nowhere = { NATS_URL: 'nats://127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1', MONGO_URL: 'mongodb://127.0.0.1:1', HTTP_HOST: '127.0.0.1', PORT: '0', HTTP_PORT: '0' }
  await Promise.all(PROCESSES.map(async (name) => {
    const main = path.join(REPO_ROOT, 'services', name, 'dist', 'main.js')
    const proc = spawnManaged(`${name}-bad-grace`, process.execPath, [main], { env: cleanEnv({ ...nowhere, SHUTDOWN_GRACE_MS: '-1', LOG_LEVEL: 'silent' }) })
    t.teardown(() => stopProcess(proc))
    let timer: NodeJS.Timeout | undefined
    const exit = await Promise.race([proc.exited, new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), 30_000) })])
    clearTimeout(timer)
    t.not(exit?.code ?? 0, 0, `${name} exits non-zero`)
    t.match(proc.tail(), /SHUTDOWN_GRACE_MS must be >= 0/, `${name} names the setting`)
  }))
})
