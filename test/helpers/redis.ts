// A throwaway Redis for tests that need to FLUSHALL or kill Redis without
// disturbing the shared one on 6379.
import net from 'node:net'
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

/**
 * Sends one command to a Redis URL without a client library and resolves
 * with the reply (simple string, integer, bulk string or null); Redis errors
 * reject. Enough for FLUSHALL, DEL, GET, KEYS-free checks in tests.
 */
export async function redisCommand (url: string, ...args: Array<string | number>): Promise<string | number | null> {
  const { hostname, port } = new URL(url)
  const wire = `*${args.length}\r\n` + args.map((a) => {
    const s = String(a)
    return `$${Buffer.byteLength(s)}\r\n${s}\r\n`
  }).join('')
  return await new Promise((resolve, reject) => {
    const sock = net.connect(Number(port || 6379), hostname || '127.0.0.1', () => sock.write(wire))
    let buf = ''
    sock.setEncoding('utf8')
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error(`redis ${args[0]}: timeout`)) })
    sock.on('error', reject)
    sock.on('data', (chunk) => {
      buf += chunk
      const nl = buf.indexOf('\r\n')
      if (nl < 0) return
      const head = buf.slice(1, nl)
      const finish = (v: string | number | null, err?: Error) => { sock.destroy(); err ? reject(err) : resolve(v) }
      switch (buf[0]) {
        case '+': return finish(head)
        case '-': return finish(null, new Error(`redis ${args[0]}: ${head}`))
        case ':': return finish(Number(head))
        case '$': {
          const len = Number(head)
          if (len < 0) return finish(null)
          const body = Buffer.from(buf.slice(nl + 2), 'utf8')
          if (body.length < len + 2) return // wait for the rest
          return finish(body.subarray(0, len).toString('utf8'))
        }
        default: return finish(null, new Error(`redis ${args[0]}: unsupported reply ${JSON.stringify(buf.slice(0, 40))}`))
      }
    })
  })
}
