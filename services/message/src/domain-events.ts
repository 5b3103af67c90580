/**
 * The message service's domain events (contracts/domain-events.ts), built
 * from stored documents, and what confirms them after a crash: the outbox
 * (runtime outbox.ts) asks this module what a change it recorded but never
 * saw finish left in MongoDB.
 */
import { DOMAIN_EVENT_VERSION, type DomainEvent, type DomainEventOf } from '@chat/contracts'
import { composeId, findWhereIn, type RecoveredPage } from '@chat/runtime'
import type { Collection } from 'mongodb'
import { toMessage, type MessageDoc } from './message-doc.js'

/**
 * A message is stored within this long of its id being made (older drafts
 * are refused, MessageStore): a dead writer's messages are looked for from
 * twice this long before its last mark, so none is missed.
 */
export const DRAFT_MAX_AGE_MS = 60_000

/** A message's conversation as events name it: direct messages name their recipient. */
function conversationOf (doc: MessageDoc): { id: number, kind: 'direct' | 'room' } {
  return { id: doc.conversationId, kind: doc.recipientId === undefined ? 'room' : 'direct' }
}

// Ids follow from the change, so recording the same change twice (a retry)
// gives one event id, which the stream stores once.

export function messageCreated (doc: MessageDoc): DomainEventOf<'message.created'> {
  return {
    id: `message.created:${doc._id}`,
    type: 'message.created',
    version: DOMAIN_EVENT_VERSION,
    time: doc.createdAt.toISOString(),
    data: { conversation: conversationOf(doc), message: toMessage(doc) },
  }
}

export function messageEdited (doc: MessageDoc, content: string, editedAt: Date): DomainEventOf<'message.edited'> {
  return {
    id: `message.edited:${doc._id}:${editedAt.getTime()}`,
    type: 'message.edited',
    version: DOMAIN_EVENT_VERSION,
    time: editedAt.toISOString(),
    data: { conversation: conversationOf(doc), messageId: doc._id, senderId: doc.senderId, content, editedAt: editedAt.toISOString() },
  }
}

export function messageDeleted (doc: MessageDoc, at: Date): DomainEventOf<'message.deleted'> {
  return {
    id: `message.deleted:${doc._id}`,
    type: 'message.deleted',
    version: DOMAIN_EVENT_VERSION,
    time: at.toISOString(),
    data: { conversation: conversationOf(doc), messageId: doc._id, senderId: doc.senderId },
  }
}

/** The message an event is about. */
function messageIdOf (event: DomainEvent): number {
  switch (event.type) {
    case 'message.created': return event.data.message.id
    case 'message.edited':
    case 'message.deleted': return event.data.messageId
  }
  // Other owners' events have outboxes of their own: never recorded here.
  throw new Error(`not a message event: ${event.type}`)
}

/**
 * What each recorded event's change left: a created message as it is
 * stored (its number may have moved on a retry), an edit the message still
 * carries or has gone past, a deletion of a message no longer there; null
 * where the change did not happen. A message created and deleted since
 * leaves only its deletion.
 */
export async function confirmMessageEvents (messages: Collection<MessageDoc>, events: DomainEvent[]): Promise<Array<DomainEvent | null>> {
  const docs = await findWhereIn(messages, '_id', events.map(messageIdOf))
  const byId = new Map(docs.map((d) => [d._id, d]))
  return events.map((event) => {
    const doc = byId.get(messageIdOf(event))
    switch (event.type) {
      case 'message.created': return doc ? messageCreated(doc) : null
      case 'message.edited': return doc?.editedAt !== undefined && doc.editedAt.getTime() >= Date.parse(event.data.editedAt) ? event : null
      case 'message.deleted': return doc ? null : event
    }
    return null
  })
}

/**
 * What a message-service replica (`writer`) stored from `fromMs` on, after
 * the message `after`, oldest first: the creations it may have died
 * before publishing (runtime OutboxRecovery). Message ids grow with time,
 * so on MongoDB this reads the `_id` index from that moment on; FerretDB
 * reads the collection, once per replica that died.
 */
export async function recoverCreated (
  messages: Collection<MessageDoc>, writer: string, fromMs: number, after: number | undefined, limit: number
): Promise<RecoveredPage> {
  const low = composeId(fromMs - 2 * DRAFT_MAX_AGE_MS, 0, 0)
  const docs = await messages.find({ writer, _id: { $gte: Math.max(low, (after ?? 0) + 1) } }).sort({ _id: 1 }).limit(limit).toArray()
  const last = docs[docs.length - 1]
  return { events: docs.map(messageCreated), next: docs.length === limit && last ? last._id : undefined }
}
