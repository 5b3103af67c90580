/**
 * One WebSocket at a time, and a new one whenever it drops: after a drop the
 * next URL of the list is tried (the gateway that dropped us may be gone),
 * after a jittered exponential delay that grows with every attempt that
 * fails before login and starts over once a login succeeds. It knows
 * nothing of the protocol: frames in, frames out, open and close.
 */
import { backoffDelay, type BackoffOptions } from './backoff.js'
import type { Frame } from './wire-types.js'

/** The part of the WebSocket interface the SDK uses (browsers' and `ws`'s alike). */
export interface WebSocketLike {
  readonly readyState: number
  send: (data: string) => void
  close: (code?: number, reason?: string) => void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number, reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `ws`'s default export in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

export interface ConnectionOptions {
  urls: string[]
  WebSocket: WebSocketConstructor
  backoff?: BackoffOptions
  random?: () => number
  /** How long a socket may stay in the handshake before it is given up; default 10 000 ms. */
  openTimeoutMs?: number
  onOpen: (url: string) => void
  onFrame: (frame: Frame) => void
  onClose: (code: number, reason: string) => void
}

const OPEN = 1

export class Connection {
  readonly #opts: ConnectionOptions
  #socket: WebSocketLike | null = null
  #urlIndex = 0
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | null = null
  #stopped = true

  constructor (opts: ConnectionOptions) {
    if (opts.urls.length === 0) throw new TypeError('at least one WebSocket URL is needed')
    this.#opts = opts
  }

  /** The URL of the current (or last) socket. */
  get url (): string {
    return this.#opts.urls[this.#urlIndex] as string
  }

  /** Whether a socket is open. */
  get open (): boolean {
    return this.#socket !== null && this.#socket.readyState === OPEN
  }

  /** Opens the first socket; reconnects from then on until stop(). */
  start (): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#connect()
  }

  /** Closes the socket (1000) and reconnects no more. Safe to call twice. */
  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const s = this.#socket
    this.#socket = null
    if (s !== null) {
      s.onclose = null
      s.onmessage = null
      s.close(1000, 'client closed')
    }
  }

  /** A login succeeded: the next drop starts the backoff over. */
  markHealthy (): void {
    this.#attempt = 0
  }

  /** Sends one frame; false when no socket is open (the caller treats it as a lost connection). */
  send (frame: Frame): boolean {
    if (!this.open) return false
    ;(this.#socket as WebSocketLike).send(JSON.stringify(frame))
    return true
  }

  /** Drops the current socket as if the network had (the usual reconnect follows). */
  drop (code = 4000, reason = 'dropped by the client'): void {
    this.#socket?.close(code, reason)
  }

  #connect (): void {
    this.#timer = null
    if (this.#stopped) return
    const url = this.url
    let socket: WebSocketLike
    try {
      socket = new this.#opts.WebSocket(url)
    } catch (err) {
      // A malformed URL or a constructor that throws: treat as a failed attempt.
      this.#closed(1006, (err as Error).message)
      return
    }
    this.#socket = socket
    const openTimer = setTimeout(() => socket.close(4000, 'open timeout'), this.#opts.openTimeoutMs ?? 10_000)
    socket.onopen = () => {
      clearTimeout(openTimer)
      this.#opts.onOpen(url)
    }
    socket.onmessage = (ev) => {
      const frame = parseFrame(ev.data)
      if (frame !== null) this.#opts.onFrame(frame)
    }
    // Errors are always followed by close, which does the work.
    socket.onerror = () => undefined
    socket.onclose = (ev) => {
      clearTimeout(openTimer)
      if (this.#socket !== socket) return
      this.#socket = null
      this.#closed(ev.code, ev.reason)
    }
  }

  #closed (code: number, reason: string): void {
    this.#opts.onClose(code, reason)
    if (this.#stopped) return
    this.#urlIndex = (this.#urlIndex + 1) % this.#opts.urls.length
    const delay = backoffDelay(this.#attempt++, this.#opts.backoff, this.#opts.random)
    this.#timer = setTimeout(() => this.#connect(), delay)
  }
}

/** A text frame as JSON; anything else (binary, invalid JSON, no `type`) is ignored. */
function parseFrame (data: unknown): Frame | null {
  if (typeof data !== 'string') {
    // `ws` may hand text frames over as Buffers when not in browser-compatible mode.
    const text = (data as { toString?: () => string })?.toString?.()
    if (typeof text !== 'string' || text.startsWith('[object')) return null
    data = text
  }
  try {
    const f = JSON.parse(data as string) as Frame
    return typeof f === 'object' && f !== null && typeof f.type === 'string' ? f : null
  } catch {
    return null
  }
}
