import type { NatsConnection } from '@nats-io/transport-node'

/** NATS' own default max_payload, used until the server has said its own. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024

/**
 * The largest reply a service should build: the server's max_payload with
 * headroom for the envelope and headers. A larger reply can't be sent at all.
 */
export function replyBudgetBytes (nc: NatsConnection): number {
  return Math.floor((nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) * 0.9)
}

/** JSON size of one item of a reply array (its comma included). */
export function jsonBytes (item: unknown): number {
  return Buffer.byteLength(JSON.stringify(item)) + 1
}

/**
 * Keeps a reply under a byte budget, because a NATS message (the reply
 * included) may not exceed the server's max_payload (1 MB by default): 100
 * messages of 4000 multi-byte characters would, and so would a few users
 * with 256 KiB avatars. `keepFromEnd` keeps the last items (the newest of an
 * oldest-first history page; the client pages back for the rest); otherwise
 * the first items are kept (the caller continues after the last one).
 * Always keeps at least one item so paging makes progress.
 */
export function fitToBudget<T> (
  items: readonly T[],
  sizeOf: (item: T) => number,
  budget: number,
  keepFromEnd: boolean
): { items: T[], truncated: boolean, used: number } {
  const order = keepFromEnd ? [...items].reverse() : [...items]
  const kept: T[] = []
  let used = 0
  for (const item of order) {
    const size = sizeOf(item)
    if (kept.length > 0 && used + size > budget) break
    kept.push(item)
    used += size
  }
  const truncated = kept.length < items.length
  return { items: keepFromEnd ? kept.reverse() : kept, truncated, used }
}
