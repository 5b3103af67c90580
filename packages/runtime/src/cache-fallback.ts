/*
 * The Redis-fallback policy, written once. Redis holds caches; MongoDB holds
 * the truth. A read the cache cannot answer (Redis down, failing, timing out)
 * is answered by the truth instead, counted in `chat_cache_fallbacks_total`,
 * and logged at a bounded rate, so an outage costs one truth read per request
 * but not one log line. Writes to a cache (fills, increments, invalidations)
 * are not this policy's business: what a failed write means is up to its site.
 */
import type { Registry } from 'prom-client'
import type { Logger } from './logger.js'
import { Counter } from './metrics.js'

/** Default for CacheFallbackOptions.warnIntervalMs. */
const WARN_INTERVAL_MS = 10_000

export interface CacheFallbackOptions {
  logger: Logger
  /** Where `chat_cache_fallbacks_total` is registered: the service's registry. */
  registry: Registry
  /** At most one warning per cache in this many ms (default 10 s); the rest are counted and reported in the next line. */
  warnIntervalMs?: number
  /** The clock, in ms; tests step it by hand. */
  now?: () => number
}

/** One cache's warnings: when the last line was written, and the fallbacks since that were not. */
interface WarnState {
  lastAt: number
  suppressed: number
}

/** The policy for reads of a Redis cache that fail. One per service; its caches are told apart by name. */
export class CacheFallback {
  private readonly logger: Logger
  private readonly warnIntervalMs: number
  private readonly now: () => number
  private readonly fallbacks: Counter<'cache'>
  private readonly warned = new Map<string, WarnState>()

  constructor (opts: CacheFallbackOptions) {
    this.logger = opts.logger
    this.warnIntervalMs = opts.warnIntervalMs ?? WARN_INTERVAL_MS
    this.now = opts.now ?? Date.now
    this.fallbacks = new Counter({
      name: 'chat_cache_fallbacks_total',
      help: 'Reads a Redis cache could not answer, answered by the truth (MongoDB) instead',
      labelNames: ['cache'],
      registers: [opts.registry],
    })
  }

  /**
   * The answer of `fromCache`, or, if it throws, of `fromTruth`. Only the
   * cache's failure is caught: a failure of the truth propagates. `cache`
   * names the cache (the metric's label, e.g. `unread`); `context` is added
   * to the warning. A site that reads the truth for its misses itself may
   * answer "nothing cached" from `fromTruth`, so every key counts as a miss.
   */
  async read<T> (cache: string, fromCache: () => Promise<T>, fromTruth: () => Promise<T>, context: object = {}): Promise<T> {
    try {
      return await fromCache()
    } catch (err) {
      this.fellBack(cache, err, context)
    }
    return await fromTruth()
  }

  /** Counts a fallback, and warns unless this cache already did within the interval. */
  private fellBack (cache: string, err: unknown, context: object): void {
    this.fallbacks.inc({ cache })
    const now = this.now()
    const state = this.warned.get(cache)
    if (state && now - state.lastAt < this.warnIntervalMs) {
      state.suppressed++
      return
    }
    // `suppressed`: fallbacks of this cache since its last warning that were counted but not logged.
    this.logger.warn({ ...context, err, cache, suppressed: state?.suppressed ?? 0 }, 'cache unavailable; answered from the truth')
    this.warned.set(cache, { lastAt: now, suppressed: 0 })
  }
}
