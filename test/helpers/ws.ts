// A small test client for the canonical WebSocket API. Frames are JSON
// `{ type, payload, id? }` in both directions. Every incoming frame is
// buffered until a `next`/`request` consumes it, so nothing is lost between
// awaits.
import { randomUUID } from 'node:crypto'
import WebSocket, { type ClientOptions } from 'ws'

export interface Frame {
  type: string
  payload?: any
  id?: string
  [key: string]: unknown
}

export type Matcher = string | ((frame: Frame) => boolean)

export interface WsClient {
  send: (frame: Frame | Record<string, unknown>) => void
  sendRaw: (data: string | Buffer) => void
  request: (type: string, payload?: unknown, timeoutMs?: number) => Promise<Frame>
  next: (match: Matcher, timeoutMs?: number) => Promise<Frame>
  noFrame: (match: Matcher, ms?: number) => Promise<void>
  close: (code?: number, reason?: string) => Promise<{ code: number, reason: string }>
  closed: Promise<{ code: number, reason: string }>
  /** Every frame received so far, consumed or not (for debugging). */
  received: Frame[]
  raw: WebSocket
}

export interface ConnectOptions extends ClientOptions {
  protocols?: string | string[]
  /** How long to wait for the handshake; default 5000 ms. */
  openTimeoutMs?: number
}

interface Waiter { test: (f: Frame) => boolean, resolve: (f: Frame) => void }
interface Buffered { seq: number, frame: Frame }

const toTest = (m: Matcher) => typeof m === 'string' ? (f: Frame) => f.type === m : m
const describe = (m: Matcher) => typeof m === 'string' ? `type "${m}"` : 'predicate'

/**
 * Opens a connection and resolves once it is open. Rejects if the handshake
 * fails; the error has `statusCode` when the server answered with HTTP.
 */
export async function connectWs (url: string, opts: ConnectOptions = {}): Promise<WsClient> {
  const { protocols, openTimeoutMs = 5000, ...wsOpts } = opts
  const ws = new WebSocket(url, protocols, wsOpts)
  const received: Frame[] = []
  const buffer: Buffered[] = []
  const waiters = new Set<Waiter>()
  let seq = 0
  let closeInfo: { code: number, reason: string } | null = null
  const closeListeners = new Set<() => void>()

  ws.on('message', (data, isBinary) => {
    const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString()
    let frame: Frame
    try {
      frame = JSON.parse(text) as Frame
    } catch {
      // Keep unparsable frames visible to tests instead of throwing here.
      frame = { type: '__unparsable__', raw: text }
    }
    received.push(frame)
    for (const w of waiters) {
      if (w.test(frame)) {
        waiters.delete(w)
        w.resolve(frame)
        return
      }
    }
    buffer.push({ seq: ++seq, frame })
  })

  const closed = new Promise<{ code: number, reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() }
      for (const l of closeListeners) l()
      resolve(closeInfo)
    })
  })

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`WebSocket ${url}: no open within ${openTimeoutMs} ms`)) }, openTimeoutMs)
    ws.once('open', () => { clearTimeout(timer); resolve() })
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      const err = Object.assign(new Error(`WebSocket ${url}: HTTP ${res.statusCode}`), { statusCode: res.statusCode })
      res.resume()
      ws.terminate()
      reject(err)
    })
    ws.once('error', (err) => { clearTimeout(timer); reject(err) })
  })
  ws.on('error', () => {}) // later errors surface through `closed`

  const recent = () => JSON.stringify(received.slice(-5))

  const next = (match: Matcher, timeoutMs = 5000): Promise<Frame> => {
    const test = toTest(match)
    const i = buffer.findIndex((b) => test(b.frame))
    if (i >= 0) return Promise.resolve(buffer.splice(i, 1)[0]!.frame)
    return new Promise<Frame>((resolve, reject) => {
      const done = () => { clearTimeout(timer); waiters.delete(waiter); closeListeners.delete(onClose) }
      const waiter: Waiter = { test, resolve: (f) => { done(); resolve(f) } }
      const fail = (why: string) => { done(); reject(new Error(`waiting for ${describe(match)}: ${why}; last frames: ${recent()}`)) }
      const onClose = () => fail(`connection closed (${closeInfo?.code} ${closeInfo?.reason})`)
      const timer = setTimeout(() => fail(`timeout after ${timeoutMs} ms`), timeoutMs)
      if (closeInfo !== null) return onClose()
      waiters.add(waiter)
      closeListeners.add(onClose)
    })
  }

  return {
    raw: ws,
    received,
    closed,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data) => ws.send(data),
    next,
    // Generous: a burst of registrations and logins queues for scrypt in auth.
    request: async (type, payload = {}, timeoutMs = 30_000) => {
      const id = randomUUID()
      ws.send(JSON.stringify({ type, payload, id }))
      return await next((f) => f.id === id, timeoutMs)
    },
    noFrame: async (match, ms = 500) => {
      const test = toTest(match)
      const since = seq
      await new Promise((resolve) => setTimeout(resolve, ms))
      const hit = buffer.find((b) => b.seq > since && test(b.frame))
      if (hit !== undefined) throw new Error(`expected no ${describe(match)} within ${ms} ms, got ${JSON.stringify(hit.frame)}`)
    },
    close: async (code = 1000, reason = '') => {
      if (closeInfo === null) ws.close(code, reason)
      return await closed
    },
  }
}
