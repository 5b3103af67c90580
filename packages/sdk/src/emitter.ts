/**
 * A small typed event emitter: `on('message', (m) => ...)` is checked against
 * the event map, in browsers and Node alike (no `node:events`).
 */
export type Listener<T> = (value: T) => void

export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()

  /** Calls `fn` for every `event`; returns a function that removes it. */
  on<K extends keyof Events> (event: K, fn: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(fn as Listener<never>)
    return () => this.off(event, fn)
  }

  /** Calls `fn` for the next `event` only. */
  once<K extends keyof Events> (event: K, fn: Listener<Events[K]>): () => void {
    const off = this.on(event, (value) => {
      off()
      fn(value)
    })
    return off
  }

  off<K extends keyof Events> (event: K, fn: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(fn as Listener<never>)
  }

  /**
   * Calls every listener of `event`. A listener that throws does not stop the
   * others nor the SDK's own processing: its error is reported as an `error`
   * event (or, for `error` listeners themselves, rethrown asynchronously so it
   * surfaces as an uncaught error rather than vanishing).
   */
  emit<K extends keyof Events> (event: K, value: Events[K]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const fn of [...set]) {
      try {
        (fn as Listener<Events[K]>)(value)
      } catch (err) {
        if (event === 'error' || !this.#listeners.get('error' as keyof Events)?.size) {
          queueMicrotask(() => { throw err })
        } else {
          this.emit('error' as K, err as Events[K])
        }
      }
    }
  }
}
