/** One request as the pipeline sees it, once its frame has been read. */
export interface PipelinedRequest<T> {
  /**
   * Requests with a key may run while earlier ones still do; those with the
   * same key (one conversation) run one after another, in arrival order.
   * Without a key a request waits until everything before it has been
   * answered, and everything after it waits for it.
   */
  key?: string | undefined
  run: () => Promise<T>
}

export type Settled<T> = { ok: true, value: T } | { ok: false, error: unknown }

/** Keyed requests that wait too long are refused instead of run. */
export interface StaleLimit {
  /** Longest a keyed request may wait between its arrival and its start (ms). */
  maxWaitMs: number
  /** The failure a request that waited longer gets (a retryable "busy"). */
  error: () => unknown
}

/**
 * The order of one socket's requests. Requests start in arrival order;
 * keyed ones (sends) overlap, up to `maxInFlight` at once, so one client is
 * not held to one round trip per message, while a sender's messages in one
 * conversation are still stored in the order sent. Answers always leave in
 * arrival order, so APIs without request ids match them by position.
 *
 * A conversation can take only so many sends a second from one socket
 * (one round trip each, to keep their order). A client sending faster
 * would make its later sends wait ever longer, until every one of them
 * timed out; with a `stale` limit, a keyed request that has waited longer
 * than it when its turn comes is refused at once instead (not stored), so
 * the sends that are taken keep a bounded wait and the client learns
 * early that it should slow down.
 */
export class RequestPipeline<T> {
  /** Starts requests one at a time, in arrival order. */
  private starting: Promise<void> = Promise.resolve()
  /** Delivers answers one at a time, in arrival order. */
  private answering: Promise<void> = Promise.resolve()
  private readonly running = new Set<Promise<unknown>>()
  /** The last started request of each key. */
  private readonly tails = new Map<string, Promise<unknown>>()
  /** Requests added and not yet started. */
  private waiting = 0
  /** Whether a request without a key is running. */
  private exclusive = false

  constructor (
    private readonly maxInFlight: number,
    /** Called whenever `busy` may have changed. */
    private readonly onChange: () => void = noop,
    private readonly stale?: StaleLimit
  ) {}

  /** Keyed requests started and not yet finished. */
  get inFlight (): number {
    return this.running.size
  }

  /** Resolves once every request added so far has been answered. */
  get answered (): Promise<void> {
    return this.answering
  }

  /**
   * Whether a new request would have to wait to start: the socket should
   * stop reading then, so TCP pushes back instead of our memory growing.
   */
  get busy (): boolean {
    return this.waiting > 0 || this.exclusive || this.running.size >= this.maxInFlight
  }

  /**
   * Queues a request. `prepare` runs in arrival order once every earlier
   * request has started (it decodes, and may throw: that is the request's
   * failure); `deliver` gets its outcome in arrival order. Resolves once
   * the answer was delivered.
   */
  add (prepare: () => PipelinedRequest<T>, deliver: (outcome: Settled<T>) => void): Promise<void> {
    let outcome!: Promise<Settled<T>>
    const arrived = Date.now()
    const earlierAnswers = this.answering
    this.waiting++
    this.onChange()
    const started = this.starting.then(async () => {
      let req: PipelinedRequest<T>
      try {
        req = prepare()
      } catch (error) {
        outcome = Promise.resolve({ ok: false, error })
        this.waiting--
        this.onChange()
        return
      }
      if (req.key === undefined) {
        this.waiting--
        this.exclusive = true
        // Everything before it is answered first: it may depend on it.
        await earlierAnswers
        outcome = settle(req.run())
        await outcome
        this.exclusive = false
        this.onChange()
        return
      }
      while (this.running.size >= this.maxInFlight) await Promise.race(this.running)
      this.waiting--
      const previous = this.tails.get(req.key)
      const run = this.stale === undefined ? req.run : this.refusingStale(req.run, arrived, this.stale)
      const result = previous === undefined ? run() : previous.then(run, run)
      const tracked = result.then(noop, noop)
      this.running.add(tracked)
      this.tails.set(req.key, tracked)
      void tracked.then(() => {
        this.running.delete(tracked)
        if (this.tails.get(req.key as string) === tracked) this.tails.delete(req.key as string)
        this.onChange()
      })
      outcome = settle(result)
      this.onChange()
    })
    this.starting = started
    const answered = earlierAnswers.then(async () => {
      await started
      deliver(await outcome)
    })
    this.answering = answered.then(noop, noop)
    return answered
  }

  /** `run`, unless the request has waited past the limit when its turn comes. */
  private refusingStale (run: () => Promise<T>, arrived: number, stale: StaleLimit): () => Promise<T> {
    return () => Date.now() - arrived > stale.maxWaitMs ? Promise.reject(stale.error()) : run()
  }
}

function noop (): void {}

function settle<T> (p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, error }))
}
