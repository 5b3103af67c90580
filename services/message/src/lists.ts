import { ChatError } from '@chat/contracts'

/**
 * Pure helpers of the list commands (conversation list, room list), kept
 * apart from the queries so cursors and merges are unit-tested.
 */

/** A position in a user's conversation list, newest activity first. */
export interface ConversationCursor {
  lastActivityAt: Date
  conversationId: number
}

const CURSOR = /^(\d{1,16})\.(\d{1,16})$/

/**
 * The opaque `next` cursor of the conversation list: base64url of
 * `<lastActivityAt ms>.<conversationId>` of the last row of a page. Opaque
 * so the ordering key can change without a contract change.
 */
export function encodeConversationCursor (c: ConversationCursor): string {
  return Buffer.from(`${c.lastActivityAt.getTime()}.${c.conversationId}`).toString('base64url')
}

/** Decodes a cursor from a client; anything malformed is CHAT_BAD_REQUEST. */
export function decodeConversationCursor (cursor: string): ConversationCursor {
  const bad = () => new ChatError('CHAT_BAD_REQUEST', 'cursor: not a cursor this service gave out')
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad()
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  if (!match) throw bad()
  const ms = Number(match[1])
  const conversationId = Number(match[2])
  if (!Number.isSafeInteger(conversationId) || conversationId < 1 || !Number.isSafeInteger(ms)) throw bad()
  const lastActivityAt = new Date(ms)
  if (Number.isNaN(lastActivityAt.getTime())) throw bad()
  return { lastActivityAt, conversationId }
}

/**
 * The filter of the rows after a cursor in the order
 * {lastActivityAt: -1, conversationId: -1}: older activity, or the same
 * activity time and a smaller conversation id.
 */
export function afterCursorFilter (c: ConversationCursor): Record<string, unknown> {
  return {
    $or: [
      { lastActivityAt: { $lt: c.lastActivityAt } },
      { lastActivityAt: c.lastActivityAt, conversationId: { $lt: c.conversationId } },
    ],
  }
}

/**
 * Merges two lists already sorted by id, newest (largest) first, dropping
 * duplicates, and cuts the result to `limit` with whether more exist. Each
 * input should hold up to `limit + 1` items, so `hasMore` is exact.
 */
export function mergeNewestFirst<T extends { _id: number }> (a: readonly T[], b: readonly T[], limit: number): { items: T[], hasMore: boolean } {
  const out: T[] = []
  let i = 0
  let j = 0
  let last: number | undefined
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    let next: T
    if (x !== undefined && (y === undefined || x._id >= y._id)) {
      next = x
      i++
    } else {
      next = y as T
      j++
    }
    if (next._id === last) continue
    last = next._id
    out.push(next)
  }
  return { items: out.slice(0, limit), hasMore: out.length > limit }
}

/**
 * What a conversation list says as `firstMessageId` for a member, from the
 * conversation document alone when it can: the stored firstMessage when the
 * member has not cleared past it; null when nothing is visible (no
 * messages, or the newest one is cleared); otherwise 'lookup': the member
 * cleared past the first message (or the conversation predates the stored
 * field) and the oldest message after their clear must be read.
 */
export function firstVisibleMessage (
  conv: { firstMessage?: { id: number, seq: number }, lastMessage?: { seq: number } },
  clearedSeq: number
): number | null | 'lookup' {
  const { firstMessage: first, lastMessage: last } = conv
  if (first && first.seq > clearedSeq) return first.id
  if (last) return last.seq > clearedSeq ? 'lookup' : null
  // A first message without a last one is a moment inside a send or a delete.
  return first ? 'lookup' : null
}
