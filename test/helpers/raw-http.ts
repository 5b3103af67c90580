// Raw TCP for tests of what fetch cannot do: stall halfway through headers,
// announce a body and never send it, hold connections open.
import net from 'node:net'

export interface RawOutcome {
  /** The response's status, when one came before the connection closed. */
  status?: number
  /** Response headers (lower-case names), when a response came. */
  headers: Record<string, string>
  /** Everything received. */
  text: string
  /** The server closed (or reset) the connection. */
  closed: boolean
}

/**
 * Opens a connection, writes `data` and resolves once the server has sent a
 * whole response head and then either closed the connection or (with
 * `untilClose: false`) as soon as the head is in. A connection closed without
 * a response resolves with no status.
 */
export async function rawExchange (port: number, data: string, opts: { untilClose?: boolean } = {}): Promise<RawOutcome> {
  const untilClose = opts.untilClose ?? true
  return await new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(data))
    let text = ''
    let settled = false
    const outcome = (closed: boolean): RawOutcome => {
      const end = text.indexOf('\r\n\r\n')
      const head = end < 0 ? '' : text.slice(0, end)
      const [statusLine = '', ...lines] = head.split('\r\n')
      const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      return { status: status === undefined ? undefined : Number(status), headers, text, closed }
    }
    const finish = (closed: boolean) => {
      if (settled) return
      settled = true
      if (!closed) sock.destroy()
      resolve(outcome(closed))
    }
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => {
      text += chunk
      if (!untilClose && text.includes('\r\n\r\n')) finish(false)
    })
    sock.on('error', () => finish(true))
    sock.on('close', () => finish(true))
  })
}

/** Opens a connection and resolves once it is established (or refused: null). */
export async function openSocket (port: number): Promise<net.Socket | null> {
  return await new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1')
    sock.once('connect', () => resolve(sock))
    sock.once('error', () => resolve(null))
  })
}

/**
 * Opens a connection and sends one keep-alive request on it; resolves with
 * the open socket when it was answered, or null when the server closed the
 * connection without answering. The caller destroys the socket.
 */
export async function holdConnection (port: number, path = '/healthz'): Promise<net.Socket | null> {
  return await new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`))
    let text = ''
    let settled = false
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => {
      text += chunk
      if (!settled && text.includes('\r\n\r\n')) {
        settled = true
        resolve(sock)
      }
    })
    const refused = () => {
      if (settled) return
      settled = true
      sock.destroy()
      resolve(null)
    }
    sock.on('error', refused)
    sock.on('close', refused)
  })
}
