import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { SessionId } from './auth.js'
import { Id, Message, Timestamp, Username } from './common.js'
import { RoomVisibility } from './room.js'
import { SUBJECT_VERSION } from './subjects.js'

/**
 * Domain events: the durable record of what happened, for other teams'
 * services (notifications, search, analytics, moderation). Unlike the live
 * events of events.ts (core NATS, for the gateways, gone if nobody
 * listens), these are stored in JetStream streams, one per owning service,
 * and published only after the change they describe is stored (see
 * docs/events.md for the guarantees).
 *
 * Every event is an envelope: a unique `id` (also the JetStream message id,
 * so a republished event is stored once within the stream's duplicate
 * window), its `type` (also the last tokens of its subject), the schema
 * `version` of its `data`, the `time` of the change, and `data`, which
 * names every id the event concerns.
 */

/** The schema version of every event type's `data`; a breaking change gets a new one. */
export const DOMAIN_EVENT_VERSION = 1

const Conversation = Type.Object({
  id: Id,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('room')]),
})

/** The profile fields an update may change, as `user.updated` names them. */
export const UserField = Type.Union([
  Type.Literal('username'),
  Type.Literal('nickname'),
  Type.Literal('avatar'),
  Type.Literal('email'),
  Type.Literal('password'),
])
export type UserField = Static<typeof UserField>

/** Why a session ended before its time. */
export const SessionRevokedReason = Type.Union([
  /** Its user logged it out. */
  Type.Literal('logout'),
  /** Its user changed the password from another session: every other session ends. */
  Type.Literal('password-changed'),
])
export type SessionRevokedReason = Static<typeof SessionRevokedReason>

/** One directed contact edge: `userId` has `contactId` in their list since `addedAt`. */
const ContactEdge = {
  userId: Id,
  contactId: Id,
  /** When the edge was added: with the pair, it names this edge among re-adds of the same contact. */
  addedAt: Timestamp,
}

/** A change's place in its conversation's order: messages, edits and deletions share one counter. Absent from events older than it. */
const ChangeSeq = Type.Integer({ minimum: 1 })

/** Each event type's `data`, by type. */
export const DomainEventData = {
  'message.created': Type.Object({
    conversation: Conversation,
    /** The message as stored; `recipientId` is set in direct conversations. */
    message: Message,
  }),
  'message.edited': Type.Object({
    conversation: Conversation,
    /** The edit's own place in the conversation's order (the message keeps its `seq`). */
    seq: Type.Optional(ChangeSeq),
    messageId: Id,
    senderId: Id,
    content: Type.String(),
    editedAt: Timestamp,
  }),
  'message.deleted': Type.Object({
    conversation: Conversation,
    /** The deletion's own place in the conversation's order. */
    seq: Type.Optional(ChangeSeq),
    messageId: Id,
    senderId: Id,
  }),
  'conversation.created': Type.Object({
    conversation: Conversation,
    /** Who opened it: the first sender or opener of a direct conversation, a room's owner. */
    createdBy: Id,
    /** The two users of a direct conversation; empty for a room (its members join: member.joined). */
    memberIds: Type.Array(Id, { maxItems: 2 }),
    /** Rooms only. */
    room: Type.Optional(Type.Object({
      name: Type.String(),
      visibility: RoomVisibility,
      /** Most members at once; null: unlimited. */
      capacity: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    })),
    createdAt: Timestamp,
  }),
  /** With its messages and memberships: no message.deleted or member.left follows for them. */
  'conversation.deleted': Type.Object({
    conversation: Conversation,
    deletedBy: Id,
  }),
  /** Rooms only: a direct conversation's two members are named when it is created. */
  'member.joined': Type.Object({
    conversation: Conversation,
    userId: Id,
    joinedAt: Timestamp,
  }),
  /** `joinedAt` is when the membership that ended began; the envelope's `time`, when it ended. */
  'member.left': Type.Object({
    conversation: Conversation,
    userId: Id,
    joinedAt: Timestamp,
  }),
  // Names only: never the password hash, the e-mail address or a token.
  'user.registered': Type.Object({
    userId: Id,
    username: Username,
    nickname: Type.String(),
    createdAt: Timestamp,
  }),
  'user.updated': Type.Object({
    userId: Id,
    /** The fields the update changed; the new values of names only (an avatar may be a 256 KiB data URI). */
    changed: Type.Array(UserField, { minItems: 1 }),
    /** The new username, when it changed. */
    username: Type.Optional(Username),
    /** The new nickname, when it changed (may be empty: cleared). */
    nickname: Type.Optional(Type.String()),
    updatedAt: Timestamp,
  }),
  'session.revoked': Type.Object({
    userId: Id,
    sessionId: SessionId,
    reason: SessionRevokedReason,
  }),
  'contact.added': Type.Object(ContactEdge),
  /** `addedAt` is when the removed edge had been added; the envelope's `time`, when it was removed. */
  'contact.removed': Type.Object(ContactEdge),
} as const satisfies Record<string, TSchema>

export type DomainEventType = keyof typeof DomainEventData

/** The services that own a stream, and the event types each publishes. */
export const DomainEventOwners = {
  message: ['message.created', 'message.edited', 'message.deleted', 'conversation.created', 'conversation.deleted', 'member.joined', 'member.left'],
  auth: ['user.registered', 'user.updated', 'session.revoked'],
  contact: ['contact.added', 'contact.removed'],
} as const satisfies Record<string, readonly DomainEventType[]>

export type DomainEventOwner = keyof typeof DomainEventOwners

/** The envelope of one event type. */
function envelope<T extends DomainEventType> (type: T) {
  return Type.Object({
    id: Type.String({ minLength: 1, maxLength: 64 }),
    type: Type.Literal(type),
    version: Type.Literal(DOMAIN_EVENT_VERSION),
    time: Timestamp,
    data: DomainEventData[type],
  }, { $id: `domain.${type}` })
}

export const MessageCreatedDomainEvent = envelope('message.created')
export const MessageEditedDomainEvent = envelope('message.edited')
export const MessageDeletedDomainEvent = envelope('message.deleted')
export const ConversationCreatedDomainEvent = envelope('conversation.created')
export const ConversationDeletedDomainEvent = envelope('conversation.deleted')
export const MemberJoinedDomainEvent = envelope('member.joined')
export const MemberLeftDomainEvent = envelope('member.left')
export const UserRegisteredDomainEvent = envelope('user.registered')
export const UserUpdatedDomainEvent = envelope('user.updated')
export const SessionRevokedDomainEvent = envelope('session.revoked')
export const ContactAddedDomainEvent = envelope('contact.added')
export const ContactRemovedDomainEvent = envelope('contact.removed')

/** Every domain event's schema, by type: what the services validate with and docs/asyncapi.yaml shows. */
export const DomainEventSchemas = {
  'message.created': MessageCreatedDomainEvent,
  'message.edited': MessageEditedDomainEvent,
  'message.deleted': MessageDeletedDomainEvent,
  'conversation.created': ConversationCreatedDomainEvent,
  'conversation.deleted': ConversationDeletedDomainEvent,
  'member.joined': MemberJoinedDomainEvent,
  'member.left': MemberLeftDomainEvent,
  'user.registered': UserRegisteredDomainEvent,
  'user.updated': UserUpdatedDomainEvent,
  'session.revoked': SessionRevokedDomainEvent,
  'contact.added': ContactAddedDomainEvent,
  'contact.removed': ContactRemovedDomainEvent,
} as const satisfies { [T in DomainEventType]: TSchema }

export type DomainEvent = { [T in DomainEventType]: Static<typeof DomainEventSchemas[T]> }[DomainEventType]
export type DomainEventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>
/** The events one owner publishes, e.g. `OwnedDomainEvent<'contact'>`. */
export type OwnedDomainEvent<O extends DomainEventOwner> = DomainEventOf<typeof DomainEventOwners[O][number]>

/** Subjects and stream names of the domain events, for one prefix. */
export function domainEventNames (prefix = 'chat') {
  const base = `${prefix}.${SUBJECT_VERSION}.domain`
  // Stream names allow no dots or wildcards; prefixes only add dots.
  const streamPrefix = prefix.replace(/\./g, '_').toUpperCase()
  return {
    /** `<prefix>.v1.domain.<type>`, e.g. `chat.v1.domain.message.created`. */
    subject (type: DomainEventType): string {
      return `${base}.${type}`
    },
    /** Every domain event subject: `<prefix>.v1.domain.>`. */
    all: `${base}.>`,
    /** What every stream name of this prefix starts with, e.g. `CHAT_`. */
    streamPrefix: `${streamPrefix}_`,
    /** The stream an owner creates at start-up, e.g. `CHAT_MESSAGE_EVENTS`. */
    stream (owner: DomainEventOwner): string {
      return `${streamPrefix}_${owner.toUpperCase()}_EVENTS`
    },
    /** The subjects of an owner's stream. */
    streamSubjects (owner: DomainEventOwner): string[] {
      return DomainEventOwners[owner].map((type) => `${base}.${type}`)
    },
  }
}

export type DomainEventNames = ReturnType<typeof domainEventNames>
