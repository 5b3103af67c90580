import type { Message, MessageKind } from '@chat/contracts'

/** A message as stored. `_id` is the public message id. */
export interface MessageDoc {
  _id: number
  conversationId: number
  seq: number
  senderId: number
  recipientId?: number
  kind: MessageKind
  content: string
  createdAt: Date
  editedAt?: Date
  clientMessageId?: string
  clientTime?: string
  /** Unique; see keys.dedupeKey. */
  dedupeKey: string
  /** The message-service replica that stored it: its domain event's outbox (runtime Outbox.track). */
  writer?: string
}

/** The wire form of a stored message. */
export function toMessage (doc: MessageDoc): Message {
  const m: Message = {
    id: doc._id,
    conversationId: doc.conversationId,
    seq: doc.seq,
    senderId: doc.senderId,
    kind: doc.kind,
    content: doc.content,
    createdAt: doc.createdAt.toISOString(),
  }
  if (doc.recipientId !== undefined) m.recipientId = doc.recipientId
  if (doc.editedAt !== undefined) m.editedAt = doc.editedAt.toISOString()
  if (doc.clientMessageId !== undefined) m.clientMessageId = doc.clientMessageId
  if (doc.clientTime !== undefined) m.clientTime = doc.clientTime
  return m
}
