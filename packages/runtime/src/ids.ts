import { randomUUID } from 'node:crypto'
import { ChatError } from '@chat/contracts'
import type { Redis } from 'ioredis'
import type { Logger } from './logger.js'

/**
 * Cluster-unique, roughly time-ordered integer ids below 2^53, made without
 * a central counter: 40 bits of milliseconds since 2026-01-01 (until 2060),
 * 6 bits of worker id, 7 bits of sequence within the millisecond. Each
 * process leases a worker id in Redis and renews it while it runs.
 */
export const ID_EPOCH_MS = Date.UTC(2026, 0, 1)
const WORKER_BITS = 6
const SEQUENCE_BITS = 7
export const MAX_WORKERS = 2 ** WORKER_BITS
const MAX_SEQUENCE = 2 ** SEQUENCE_BITS

/** Pure composition of an id from its parts; exported for tests. */
export function composeId (ms: number, worker: number, sequence: number): number {
  return (ms - ID_EPOCH_MS) * 2 ** (WORKER_BITS + SEQUENCE_BITS) + worker * MAX_SEQUENCE + sequence
}

/** The millisecond an id was made at. */
export function idTime (id: number): number {
  return Math.floor(id / 2 ** (WORKER_BITS + SEQUENCE_BITS)) + ID_EPOCH_MS
}

/** The clock-driven part of the generator, independent of how the worker id was obtained. */
export class IdSequence {
  private lastMs = -1
  private sequence = 0

  constructor (private readonly worker: () => number | undefined, private readonly now: () => number = Date.now) {}

  next (): number {
    const worker = this.worker()
    if (worker === undefined) throw new ChatError('CHAT_UNAVAILABLE', 'id generator has no worker lease')
    let ms = this.now()
    if (ms < this.lastMs) ms = this.lastMs // clock went back: keep counting in the last millisecond
    if (ms === this.lastMs) {
      this.sequence++
      if (this.sequence >= MAX_SEQUENCE) {
        // Sequence exhausted: borrow the next millisecond rather than busy-wait.
        ms = this.lastMs + 1
        this.sequence = 0
      }
    } else {
      this.sequence = 0
    }
    this.lastMs = ms
    return composeId(ms, worker, this.sequence)
  }
}

const RENEW = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0`

const RELEASE = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0`

/** An id generator holding a renewed worker lease in Redis. */
export interface IdGenerator {
  next(): number
  readonly worker: number | undefined
  close(): Promise<void>
}

export async function createIdGenerator (redis: Redis, logger: Logger, leaseMs = 30000): Promise<IdGenerator> {
  const owner = randomUUID()
  let worker: number | undefined
  const key = (w: number) => `idgen:worker:${w}`

  async function acquire (): Promise<number> {
    const start = Math.floor(Math.random() * MAX_WORKERS)
    for (let i = 0; i < MAX_WORKERS; i++) {
      const w = (start + i) % MAX_WORKERS
      if (await redis.set(key(w), owner, 'PX', leaseMs, 'NX') === 'OK') return w
    }
    throw new ChatError('CHAT_UNAVAILABLE', `all ${MAX_WORKERS} id worker leases are taken`)
  }

  worker = await acquire()
  const sequence = new IdSequence(() => worker)
  const timer = setInterval(() => {
    void (async () => {
      try {
        if (worker !== undefined && await redis.eval(RENEW, 1, key(worker), owner, leaseMs) === 1) return
        logger.warn({ worker }, 'id worker lease lost; acquiring a new one')
        worker = undefined
        worker = await acquire()
      } catch (err) {
        logger.error({ err }, 'id worker lease renewal failed')
      }
    })()
  }, Math.floor(leaseMs / 3))
  timer.unref()

  return {
    next: () => sequence.next(),
    get worker () { return worker },
    async close () {
      clearInterval(timer)
      if (worker !== undefined) await redis.eval(RELEASE, 1, key(worker), owner).catch(() => undefined)
      worker = undefined
    },
  }
}
