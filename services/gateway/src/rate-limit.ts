/**
 * A token bucket: `burst` requests at once, refilled at `perSecond`. Pure and
 * clock-injected so it can be tested without waiting.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now
  ) {
    this.tokens = burst
    this.last = now()
  }

  /** Takes one token; false when the caller is over its rate. */
  take (): boolean {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond)
    this.last = t
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
