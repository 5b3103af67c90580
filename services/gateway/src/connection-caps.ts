/**
 * Counts this replica's WebSocket connections per client address and
 * logged-in sockets per user, so one client cannot hold an unbounded share
 * of a replica's sockets (and the memory each may buffer). Per replica: a
 * load balancer spreading one client over N replicas allows N times as many.
 */
export class ConnectionCaps {
  private readonly byAddress = new Map<string, number>()
  private readonly byUser = new Map<number, number>()

  constructor (private readonly limits: { perAddress: number, perUser: number }) {}

  /** Counts one more connection from an address; false (and not counted) when it already holds its share. */
  admitAddress (address: string): boolean {
    return admit(this.byAddress, address, this.limits.perAddress)
  }

  releaseAddress (address: string): void {
    release(this.byAddress, address)
  }

  /** Counts one more logged-in socket of a user; false (and not counted) when they already hold their share. */
  admitUser (userId: number): boolean {
    return admit(this.byUser, userId, this.limits.perUser)
  }

  releaseUser (userId: number): void {
    release(this.byUser, userId)
  }
}

function admit<K> (counts: Map<K, number>, key: K, limit: number): boolean {
  const n = counts.get(key) ?? 0
  if (n >= limit) return false
  counts.set(key, n + 1)
  return true
}

function release<K> (counts: Map<K, number>, key: K): void {
  const n = counts.get(key) ?? 0
  if (n <= 1) counts.delete(key)
  else counts.set(key, n - 1)
}
