/**
 * The message service's domain events (contracts/domain-events.ts), built
 * from stored documents, and what confirms them after a crash: the outbox
 * (runtime outbox.ts) asks this module what a change it recorded but never
 * saw finish left in MongoDB.
 */
import { DOMAIN_EVENT_VERSION, type DomainEvent, type DomainEventOf } from '@chat/contracts'
import { composeId, findWhereIn, type RecoveredPage } from '@chat/runtime'
import type { Collection } from 'mongodb'
import type { ConversationDoc, MemberDoc } from './conversations.js'
import { memberKey } from './keys.js'
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

export function messageEdited (doc: MessageDoc, content: string, editedAt: Date, seq: number): DomainEventOf<'message.edited'> {
  return {
    id: `message.edited:${doc._id}:${editedAt.getTime()}`,
    type: 'message.edited',
    version: DOMAIN_EVENT_VERSION,
    time: editedAt.toISOString(),
    data: { conversation: conversationOf(doc), seq, messageId: doc._id, senderId: doc.senderId, content, editedAt: editedAt.toISOString() },
  }
}

/** `seq`: the deletion's place; none when a message is withdrawn from a conversation deleted meanwhile. */
export function messageDeleted (doc: MessageDoc, at: Date, seq?: number): DomainEventOf<'message.deleted'> {
  return {
    id: `message.deleted:${doc._id}`,
    type: 'message.deleted',
    version: DOMAIN_EVENT_VERSION,
    time: at.toISOString(),
    data: { conversation: conversationOf(doc), ...(seq === undefined ? {} : { seq }), messageId: doc._id, senderId: doc.senderId },
  }
}

function conversationRef (conv: Pick<ConversationDoc, '_id' | 'kind'>): { id: number, kind: 'direct' | 'room' } {
  return { id: conv._id, kind: conv.kind }
}

export function conversationCreated (conv: ConversationDoc): DomainEventOf<'conversation.created'> {
  const room = conv.kind === 'room' && conv.name !== undefined
    ? { room: { name: conv.name, visibility: conv.visibility ?? 'public', capacity: conv.capacity ?? null } }
    : {}
  return {
    id: `conversation.created:${conv._id}`,
    type: 'conversation.created',
    version: DOMAIN_EVENT_VERSION,
    time: conv.createdAt.toISOString(),
    data: {
      conversation: conversationRef(conv),
      createdBy: (conv.kind === 'room' ? conv.ownerId : conv.openedBy) ?? conv.memberIds[0] ?? 0,
      memberIds: conv.kind === 'direct' ? [...conv.memberIds] : [],
      ...room,
      createdAt: conv.createdAt.toISOString(),
    },
  }
}

export function conversationDeleted (conv: Pick<ConversationDoc, '_id' | 'kind'>, deletedBy: number, at: Date): DomainEventOf<'conversation.deleted'> {
  return {
    id: `conversation.deleted:${conv._id}`,
    type: 'conversation.deleted',
    version: DOMAIN_EVENT_VERSION,
    time: at.toISOString(),
    data: { conversation: conversationRef(conv), deletedBy },
  }
}

// A membership is named by its room, user and start: joining, leaving and
// joining again are three changes with three ids.

export function memberJoined (member: Pick<MemberDoc, 'conversationId' | 'userId' | 'joinedAt'>): DomainEventOf<'member.joined'> {
  return {
    id: `member.joined:${member.conversationId}:${member.userId}:${member.joinedAt.getTime()}`,
    type: 'member.joined',
    version: DOMAIN_EVENT_VERSION,
    time: member.joinedAt.toISOString(),
    data: { conversation: { id: member.conversationId, kind: 'room' }, userId: member.userId, joinedAt: member.joinedAt.toISOString() },
  }
}

export function memberLeft (member: Pick<MemberDoc, 'conversationId' | 'userId' | 'joinedAt'>, at: Date): DomainEventOf<'member.left'> {
  return {
    id: `member.left:${member.conversationId}:${member.userId}:${member.joinedAt.getTime()}`,
    type: 'member.left',
    version: DOMAIN_EVENT_VERSION,
    time: at.toISOString(),
    data: { conversation: { id: member.conversationId, kind: 'room' }, userId: member.userId, joinedAt: member.joinedAt.toISOString() },
  }
}

/** The collections the message service's events are confirmed from. */
export interface EventSources {
  messages: Collection<MessageDoc>
  conversations: Collection<ConversationDoc>
  members: Collection<MemberDoc>
}

/** The message an event is about, if it is about one. */
function messageIdOf (event: DomainEvent): number | undefined {
  switch (event.type) {
    case 'message.created': return event.data.message.id
    case 'message.edited':
    case 'message.deleted': return event.data.messageId
  }
  return undefined
}

function conversationIdOf (event: DomainEvent): number | undefined {
  return event.type === 'conversation.created' || event.type === 'conversation.deleted' ? event.data.conversation.id : undefined
}

function membershipOf (event: DomainEvent): string | undefined {
  return event.type === 'member.joined' || event.type === 'member.left' ? memberKey(event.data.conversation.id, event.data.userId) : undefined
}

const defined = <T>(xs: Array<T | undefined>): T[] => xs.filter((x): x is T => x !== undefined)

/**
 * What each recorded event's change left: a created message as it is
 * stored (its number may have moved on a retry), an edit the message still
 * carries or has gone past, a deletion of a message no longer there, a
 * conversation there or gone, a membership begun at that time there or
 * gone; null where the change did not happen. A message created and deleted
 * since leaves only its deletion, a membership begun and ended only its end.
 */
export async function confirmMessageEvents (sources: EventSources, events: DomainEvent[]): Promise<Array<DomainEvent | null>> {
  const [messages, conversations, members] = await Promise.all([
    findWhereIn(sources.messages, '_id', defined(events.map(messageIdOf))),
    findWhereIn(sources.conversations, '_id', defined(events.map(conversationIdOf))),
    findWhereIn(sources.members, '_id', defined(events.map(membershipOf))),
  ])
  const message = new Map(messages.map((d) => [d._id, d]))
  const conversation = new Map(conversations.map((d) => [d._id, d]))
  const member = new Map(members.map((d) => [d._id, d]))
  return events.map((event) => {
    switch (event.type) {
      case 'message.created': {
        const doc = message.get(event.data.message.id)
        return doc ? messageCreated(doc) : null
      }
      case 'message.edited': {
        const doc = message.get(event.data.messageId)
        return doc?.editedAt !== undefined && doc.editedAt.getTime() >= Date.parse(event.data.editedAt) ? event : null
      }
      case 'message.deleted': return message.has(event.data.messageId) ? null : event
      case 'conversation.created': return conversation.has(event.data.conversation.id) ? event : null
      case 'conversation.deleted': return conversation.has(event.data.conversation.id) ? null : event
      case 'member.joined':
      case 'member.left': {
        const doc = member.get(memberKey(event.data.conversation.id, event.data.userId))
        const same = doc !== undefined && doc.joinedAt.getTime() === Date.parse(event.data.joinedAt)
        return (event.type === 'member.joined') === same ? event : null
      }
    }
    // Other owners' events have outboxes of their own: never recorded here.
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
