// A minimal `typed` API client. Requests carry an integer `id`; an answer
// goes to the callback registered for its id, a frame without an id is a
// push. Any number of requests may be outstanding on a socket.
import WebSocket from 'ws'

export class Client {
  /**
   * @param {WebSocket} ws an open socket
   */
  constructor (ws) {
    this.ws = ws
    this.pending = new Map()
    this.nextId = 0
    /** Pushes: (frame) => void. */
    this.onPush = () => {}
    /** Answers to `send` without a callback, and late ones: (frame) => void. */
    this.onAnswer = () => {}
    this.closeCode = null
    this.closed = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.closeCode = code
        const waiting = [...this.pending.values()]
        this.pending.clear()
        for (const w of waiting) w({ type: '_CLOSED', payload: { code: `close ${code}` } })
        resolve(code)
      })
    })
    ws.on('error', () => {}) // surfaces as 'close'
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString())
      if (f.id === undefined) { this.onPush(f); return }
      const w = this.pending.get(f.id)
      if (w === undefined) { this.onAnswer(f); return }
      this.pending.delete(f.id)
      w(f)
    })
  }

  /** Sends a request with the given id (or the next free one); `cb` gets its answer. */
  send (type, payload, cb, id = ++this.nextId) {
    if (cb) this.pending.set(id, cb)
    this.ws.send(JSON.stringify({ type, id, payload }))
    return id
  }

  /** One request, its answer as a promise (a closed socket answers `_CLOSED`). */
  call (type, payload, timeoutMs = 60_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`${type}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
      const id = this.send(type, payload, (f) => { clearTimeout(timer); resolve(f) })
    })
  }

  /** Drops the connection at once, without a close handshake. */
  terminate () { this.ws.terminate() }
  close () { this.ws.close() }
  get open () { return this.ws.readyState === WebSocket.OPEN }
}

/**
 * Opens a socket. Resolves with a Client, or rejects with an Error carrying
 * `status` (HTTP status of a refused upgrade) or `closeCode`.
 */
export function connect (url, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    const timer = setTimeout(() => { ws.terminate(); reject(Object.assign(new Error(`no open on ${url} within ${timeoutMs} ms`), { reason: 'timeout' })) }, timeoutMs)
    ws.once('open', () => { clearTimeout(timer); resolve(new Client(ws)) })
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      res.resume()
      ws.terminate()
      reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}`), { reason: `HTTP ${res.statusCode}` }))
    })
    ws.once('error', (err) => { clearTimeout(timer); reject(Object.assign(err, { reason: err.code ?? err.message })) })
    ws.once('close', (code) => { clearTimeout(timer); reject(Object.assign(new Error(`closed before open (${code})`), { reason: `close ${code}` })) })
  })
}
