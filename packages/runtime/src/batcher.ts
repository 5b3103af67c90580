/**
 * Group commit. Items submitted while a flush runs wait for the next one,
 * and a flush starts the moment none runs, so a lone item waits for
 * nothing and a busy replica stores many items per round trip. Flushes run
 * one at a time, in submission order, so items keep their order.
 */
export class Batcher<I, R> {
  private queue: Array<{ item: I, since: number, resolve: (r: R) => void, reject: (e: unknown) => void }> = []
  private running = false

  constructor (
    /** Handles one batch: one result or Error per item, in order. A throw fails the whole batch. */
    private readonly flush: (items: I[]) => Promise<Array<R | Error>>,
    /** Most items per flush. */
    private readonly maxBatch: number
  ) {}

  /** Items waiting for a flush. */
  get waiting (): number {
    return this.queue.length
  }

  /** How long the oldest waiting item has waited (ms); 0 when none waits. */
  oldestWaitMs (now = Date.now()): number {
    const first = this.queue[0]
    return first === undefined ? 0 : now - first.since
  }

  submit (item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, since: Date.now(), resolve, reject })
      this.next()
    })
  }

  private next (): void {
    if (this.running || this.queue.length === 0) return
    this.running = true
    const batch = this.queue.splice(0, this.maxBatch)
    this.flush(batch.map((b) => b.item)).then(
      (results) => batch.forEach((b, i) => {
        const r = results[i]
        if (r instanceof Error) b.reject(r)
        else if (r === undefined && results.length <= i) b.reject(new Error('batch flush returned too few results'))
        else b.resolve(r as R)
      }),
      (err: unknown) => { for (const b of batch) b.reject(err) }
    ).finally(() => {
      this.running = false
      this.next()
    })
  }
}
