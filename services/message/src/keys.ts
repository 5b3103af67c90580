/**
 * Pure key builders for the documents whose identity is derived rather than
 * generated. Deriving them makes "get or create" races settle on a unique
 * index instead of needing a transaction.
 */

/**
 * The unique key of the direct conversation between two users: the smaller
 * id first, so both sides compute the same key. Ids are compared as numbers
 * (9 < 10), not as strings.
 */
export function directKey (a: number, b: number): string {
  if (a === b) throw new RangeError('a direct conversation needs two different users')
  return a < b ? `${a}:${b}` : `${b}:${a}`
}

/**
 * The `directKey` a room stores. Every conversation carries a key because a
 * unique index over a field some documents lack is not portable (MongoDB
 * indexes the missing value as null and would reject the second room; partial
 * indexes are not implemented by FerretDB).
 */
export function roomKey (conversationId: number): string {
  return `room:${conversationId}`
}

/** `_id` of a member document: one per (conversation, user). */
export function memberKey (conversationId: number, userId: number): string {
  return `${conversationId}:${userId}`
}

/**
 * The unique de-duplication key of a message: the sender's own id for it when
 * the client gave one (so a retried send is stored once), else a key derived
 * from the message id, which is unique anyway. Always present for the same
 * portability reason as {@link roomKey}.
 */
export function dedupeKey (senderId: number, clientMessageId: string | undefined, messageId: number): string {
  return clientMessageId === undefined ? `id:${messageId}` : `${senderId}:${clientMessageId}`
}

/** Redis key of the lock serialising moves of one user's read mark in one conversation (read, clear, take). */
export function readMarkLockKey (userId: number, conversationId: number): string {
  return `lock:read-mark:${userId}:${conversationId}`
}
