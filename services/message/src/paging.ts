import { ChatError } from '@chat/contracts'

/**
 * Pure paging arithmetic for history and sync, kept apart from the queries
 * so the edge cases (cleared history, the first page, limits) are unit-tested.
 */

/** A seq range to read: strictly above `afterSeq`, strictly below `beforeSeq` when set. */
export interface SeqRange {
  afterSeq: number
  beforeSeq?: number
  /** How many to fetch: one more than the page, to learn whether there is more. */
  fetch: number
  /** How many of the range's first rows (in the read's order) to pass over: history's `offset`. */
  skip?: number
}

/** Clamps a requested page size to [1, max], using the default when absent. */
export function pageLimit (requested: number | undefined, defaultLimit: number, max: number): number {
  if (requested === undefined || !Number.isFinite(requested)) return defaultLimit
  return Math.min(max, Math.max(1, Math.floor(requested)))
}

/**
 * The range of one history page, read newest first. Messages at or below the
 * actor's clearedSeq are gone from their view; `beforeSeq` is the seq of the
 * `beforeId` message when paging back; `offset` instead skips that many of
 * the newest visible messages (the two exclude each other:
 * CHAT_BAD_REQUEST). Returns undefined when the range is
 * empty (paging back past the cleared mark), so no query is needed.
 */
export function historyRange (opts: { clearedSeq: number, beforeSeq?: number, offset?: number, limit: number }): SeqRange | undefined {
  if (opts.beforeSeq !== undefined && opts.offset !== undefined) throw new ChatError('CHAT_BAD_REQUEST', 'give offset or beforeId, not both')
  if (opts.beforeSeq !== undefined && opts.beforeSeq <= opts.clearedSeq + 1) return undefined
  const range: SeqRange = { afterSeq: opts.clearedSeq, beforeSeq: opts.beforeSeq, fetch: opts.limit + 1 }
  // Page-number paging: skip the `offset` newest visible messages. Still
  // one index range; the server walks past the skipped keys.
  if (opts.offset !== undefined && opts.offset > 0) range.skip = Math.floor(opts.offset)
  return range
}

/**
 * The range of a sync: everything after what the client has, but never what
 * the actor cleared.
 */
export function syncRange (opts: { afterSeq: number, clearedSeq: number, limit: number }): SeqRange {
  return { afterSeq: Math.max(opts.afterSeq, opts.clearedSeq), fetch: opts.limit + 1 }
}

/**
 * Turns a newest-first history read of up to `limit + 1` rows into a page:
 * the newest `limit` rows, oldest first, and whether older ones exist.
 */
export function historyPage<T> (newestFirst: readonly T[], limit: number): { items: T[], hasMore: boolean } {
  const hasMore = newestFirst.length > limit
  return { items: newestFirst.slice(0, limit).reverse(), hasMore }
}

/**
 * Turns an oldest-first sync read of up to `limit + 1` rows into a page: the
 * oldest `limit` rows and whether newer ones exist.
 */
export function syncPage<T> (oldestFirst: readonly T[], limit: number): { items: T[], hasMore: boolean } {
  return { items: oldestFirst.slice(0, limit), hasMore: oldestFirst.length > limit }
}

/**
 * A sync's cursors with each conversation once, at the lowest `afterSeq`
 * given for it (the most the client may be missing), in order of first
 * appearance. Without this, one conversation named a hundred times would be
 * read and sent a hundred times.
 */
export function mergeSyncCursors<C extends { conversationId: number, afterSeq: number }> (cursors: readonly C[]): Array<{ conversationId: number, afterSeq: number }> {
  const lowest = new Map<number, number>()
  for (const c of cursors) {
    const seen = lowest.get(c.conversationId)
    if (seen === undefined || c.afterSeq < seen) lowest.set(c.conversationId, c.afterSeq)
  }
  return [...lowest].map(([conversationId, afterSeq]) => ({ conversationId, afterSeq }))
}

/**
 * Two lists, each oldest first by `seq` and each cut at the same length
 * (a read of `limit + 1`), as one list in seq order: its first `limit`
 * entries are the first `limit` of both together, since each of them is
 * among the first `limit` of its own list.
 */
export function mergeBySeq<A extends { seq: number }, B extends { seq: number }> (a: readonly A[], b: readonly B[]): Array<A | B> {
  const out: Array<A | B> = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    if (y === undefined || (x !== undefined && x.seq <= y.seq)) {
      out.push(x as A)
      i++
    } else {
      out.push(y)
      j++
    }
  }
  return out
}
