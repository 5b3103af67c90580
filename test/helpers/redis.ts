// A throwaway Redis for tests that need to FLUSHALL or kill Redis without
// disturbing the shared one on 6379.
import { freePort, waitForPort } from './net.js'
import { spawnManaged, stopProcess, type ManagedProcess } from './proc.js'
import type { TestLike } from './system.js'

export interface PrivateRedis { url: string, port: number, proc: ManagedProcess }

/** Starts redis-server on a free port (no persistence); stopped at teardown. */
export async function startPrivateRedisServer (t: TestLike): Promise<PrivateRedis> {
  const port = await freePort()
  const proc = spawnManaged(`redis:${port}`, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
  ])
  t.teardown(async () => { await stopProcess(proc) })
  try {
    await Promise.race([
      waitForPort(port, '127.0.0.1', 10_000),
      proc.exited.then((e) => { throw new Error(`redis-server exited (code ${e.code}): ${proc.tail()}`) }),
    ])
  } catch (err) {
    await stopProcess(proc)
    throw err
  }
  return { url: `redis://127.0.0.1:${port}`, port, proc }
}

/** Same as startPrivateRedisServer, returning only the URL. */
export async function startPrivateRedis (t: TestLike): Promise<string> {
  return (await startPrivateRedisServer(t)).url
}
