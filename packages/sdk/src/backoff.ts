/**
 * Reconnect delays: exponential backoff with jitter, so a gateway that comes
 * back (or the replica that remains) is not hit by every client at the same
 * instant.
 */

/** Backoff settings (all in milliseconds). */
export interface BackoffOptions {
  /** The first delay's ceiling; default 250. */
  initialMs?: number
  /** The ceiling delays stop growing at; default 10 000. */
  maxMs?: number
  /** Growth per failed attempt; default 2. */
  factor?: number
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first after a
 * drop): a uniformly random point in the upper half of
 * `min(maxMs, initialMs * factor^attempt)` ("equal jitter": spread out, yet
 * never close to zero, so a dead server is not hammered).
 */
export function backoffDelay (attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialMs ?? 250
  const max = opts.maxMs ?? 10_000
  const factor = opts.factor ?? 2
  const ceiling = Math.min(max, initial * Math.pow(factor, Math.min(attempt, 60)))
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}
