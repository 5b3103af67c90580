// TCP helpers shared by the harness: free ports and "does it answer yet".
import net from 'node:net'

// Ports this process already handed out. The kernel may give the same
// ephemeral port twice once it has been closed, so we skip repeats.
const handedOut = new Set<number>()

/** A port that was free a moment ago: listen on 0, read it, close. */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer()
      srv.unref()
      srv.on('error', reject)
      srv.listen(0, host, () => {
        const addr = srv.address()
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0
        srv.close(() => resolve(p))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: no unused port found')
}

/** True when something accepts a TCP connection on host:port. */
export function portAnswers (port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host })
    const done = (ok: boolean) => { sock.destroy(); resolve(ok) }
    sock.setTimeout(timeoutMs, () => done(false))
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}

/** Polls until host:port answers; rejects after timeoutMs. */
export async function waitForPort (port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await portAnswers(port, host))) {
    if (Date.now() > deadline) throw new Error(`nothing answered on ${host}:${port} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
