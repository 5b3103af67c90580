/**
 * The outbox: sends wait here until the server has stored them. A send made
 * while disconnected waits for the next login; one whose answer was lost
 * (the connection dropped, it timed out, the server answered a retryable
 * code) is sent again with the same client message id, which the server
 * uses to store it once and answer every resend with the same message
 * (docs/api-typed.md, SEND_MESSAGE). Only a refusal (a non-retryable code)
 * or closing the client ends a send without it being stored.
 */
import { backoffDelay, type BackoffOptions } from './backoff.js'
import { ChatSdkError } from './errors.js'
import type { Frame } from './wire-types.js'

/** A send waiting in the outbox. */
export interface OutboxEntry {
  /** SEND_MESSAGE or SEND_ROOM_MESSAGE. */
  type: string
  /** The frame's payload, `messageId` included (the same on every attempt). */
  payload: { messageId: string } & Record<string, unknown>
  /** How many times it was sent. */
  attempts: number
}

interface Entry extends OutboxEntry {
  inFlight: boolean
  timer: ReturnType<typeof setTimeout> | null
  resolve: (frame: Frame) => void
  reject: (err: unknown) => void
}

export interface OutboxDeps {
  /** Sends one request on the current connection and resolves with its answer. */
  request: (type: string, payload: Record<string, unknown>) => Promise<Frame>
  backoff?: BackoffOptions
  random?: () => number
}

export class Outbox {
  readonly #entries: Entry[] = []
  readonly #deps: OutboxDeps
  #online = false

  constructor (deps: OutboxDeps) {
    this.#deps = deps
  }

  /** Sends not yet stored, oldest first. */
  pending (): OutboxEntry[] {
    return this.#entries.map(({ type, payload, attempts }) => ({ type, payload, attempts }))
  }

  /** Queues a send; resolves with the server's answer frame once it is stored. */
  add (type: string, payload: { messageId: string } & Record<string, unknown>): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      this.#entries.push({ type, payload, attempts: 0, inFlight: false, timer: null, resolve, reject })
      this.#pump()
    })
  }

  /** Logged in (true: send what waits) or not (false: hold everything). */
  setOnline (online: boolean): void {
    this.#online = online
    if (online) this.#pump()
  }

  /** Rejects every waiting send (the client was closed). */
  failAll (err: ChatSdkError): void {
    const all = this.#entries.splice(0)
    for (const e of all) {
      if (e.timer !== null) clearTimeout(e.timer)
      e.reject(err)
    }
  }

  #pump (): void {
    if (!this.#online) return
    // In order: the server stores one socket's sends to one peer in the order sent.
    for (const e of this.#entries) {
      if (!e.inFlight && e.timer === null) this.#dispatch(e)
    }
  }

  #dispatch (e: Entry): void {
    e.inFlight = true
    e.attempts++
    this.#deps.request(e.type, e.payload).then((frame) => {
      this.#remove(e)
      e.resolve(frame)
    }, (err: unknown) => {
      e.inFlight = false
      if (!(err instanceof ChatSdkError) || !err.retryable) {
        this.#remove(e)
        e.reject(err)
        return
      }
      // A lost connection: the next login sends it again. Otherwise wait as
      // the server asked (CHAT_BUSY's retryAfter) or back off.
      if (err.code === 'SDK_CONNECTION_LOST') {
        this.#pump()
        return
      }
      const delay = err.retryAfter !== undefined ? err.retryAfter * 1000 : backoffDelay(e.attempts - 1, this.#deps.backoff, this.#deps.random)
      e.timer = setTimeout(() => {
        e.timer = null
        this.#pump()
      }, delay)
    })
  }

  #remove (e: Entry): void {
    const i = this.#entries.indexOf(e)
    if (i >= 0) this.#entries.splice(i, 1)
  }
}
