/**
 * Request correlation: every request gets its own `id`, the server echoes it
 * in the answer (success or failure), and pushes never carry one. A request
 * is settled by its answer, its timeout, or the loss of the connection it
 * was sent on, whichever comes first; a late answer is then ignored.
 */
import { ChatSdkError } from './errors.js'
import type { Frame } from './wire-types.js'

/** Whether an answer's type is a failure (`..._FAILURE`, `..._FAILED`, `ERROR`). */
export function isFailureType (type: string): boolean {
  return type === 'ERROR' || type.endsWith('_FAILURE') || type.endsWith('_FAILED')
}

interface Pending {
  type: string
  resolve: (frame: Frame) => void
  reject: (err: ChatSdkError) => void
  timer: ReturnType<typeof setTimeout>
}

export class RequestTracker {
  readonly #pending = new Map<string, Pending>()
  #next = 0
  readonly #prefix: string

  /** `prefix` makes ids of different clients in one log tell apart. */
  constructor (prefix = 'r') {
    this.#prefix = prefix
  }

  /** How many requests wait for an answer. */
  get size (): number {
    return this.#pending.size
  }

  /**
   * Registers a request and returns its id and the promise of its answer
   * frame (resolved on success, rejected with the server's code on failure).
   */
  track (type: string, timeoutMs: number): { id: string, answer: Promise<Frame> } {
    const id = `${this.#prefix}${++this.#next}`
    const answer = new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new ChatSdkError('SDK_TIMEOUT', `${type}: no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, { type, resolve, reject, timer })
    })
    return { id, answer }
  }

  /** Settles the request `frame` answers; false when it answers none (a push, or a late answer). */
  settle (frame: Frame): boolean {
    if (frame.id === undefined) return false
    const key = String(frame.id)
    const p = this.#pending.get(key)
    if (p === undefined) return false
    this.#pending.delete(key)
    clearTimeout(p.timer)
    if (isFailureType(frame.type)) p.reject(ChatSdkError.fromFailure(frame.type, frame.payload))
    else p.resolve(frame)
    return true
  }

  /** Rejects every waiting request with `code` (the connection they were sent on is gone). */
  failAll (code: 'SDK_CONNECTION_LOST' | 'SDK_CLOSED', message: string): void {
    const all = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of all) {
      clearTimeout(p.timer)
      p.reject(new ChatSdkError(code, `${p.type}: ${message}`))
    }
  }
}
