import { ChatError } from '@chat/contracts'
import { Counter, type Registry } from '@chat/runtime'

export interface LoadShedderOptions {
  /** Sends this replica may hold at once (queued, storing or answering). */
  maxPending: number
  /** Longest time the oldest queued send may have waited before new ones are refused (ms). */
  queueLimitMs: number
  /** How long the oldest send waiting to be stored has waited (ms), 0 when none waits. */
  queueAgeMs: () => number
  registry?: Registry
}

/** Seconds a refused client should wait before trying again. */
const RETRY_AFTER_SECONDS = 1

/**
 * Refuses sends early when the replica is past its capacity. Offered more
 * than it can store, a replica that took every send would queue them all
 * until each one's deadline passed, acknowledging none; refusing the excess
 * at once with a retryable CHAT_BUSY keeps it acknowledging at about its
 * capacity, with the latency of a short queue. The signal is how long the
 * oldest queued send has waited (what a client feels), plus a plain count
 * that bounds memory.
 */
export class LoadShedder {
  private pending = 0
  private readonly shed?: Counter

  constructor (private readonly opts: LoadShedderOptions) {
    if (opts.registry) {
      this.shed = new Counter({
        name: 'chat_sends_shed_total',
        help: 'Sends refused with CHAT_BUSY because the replica was past its capacity',
        labelNames: ['reason'],
        registers: [opts.registry],
      })
    }
  }

  /** Sends being handled now. */
  get inProgress (): number {
    return this.pending
  }

  /** Runs one send, or refuses it with CHAT_BUSY when the replica is past its capacity. */
  async run<T> (send: () => Promise<T>): Promise<T> {
    if (this.pending >= this.opts.maxPending) this.refuse('pending')
    if (this.opts.queueAgeMs() > this.opts.queueLimitMs) this.refuse('queue')
    this.pending++
    try {
      return await send()
    } finally {
      this.pending--
    }
  }

  private refuse (reason: string): never {
    this.shed?.inc({ reason })
    throw new ChatError('CHAT_BUSY', undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS })
  }
}
