import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Id, Message, Timestamp } from './common.js'
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

/** Each event type's `data`, by type. */
export const DomainEventData = {
  'message.created': Type.Object({
    conversation: Conversation,
    /** The message as stored; `recipientId` is set in direct conversations. */
    message: Message,
  }),
  'message.edited': Type.Object({
    conversation: Conversation,
    messageId: Id,
    senderId: Id,
    content: Type.String(),
    editedAt: Timestamp,
  }),
  'message.deleted': Type.Object({
    conversation: Conversation,
    messageId: Id,
    senderId: Id,
  }),
} as const satisfies Record<string, TSchema>

export type DomainEventType = keyof typeof DomainEventData

/** The services that own a stream, and the event types each publishes. */
export const DomainEventOwners = {
  message: ['message.created', 'message.edited', 'message.deleted'],
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

/** Every domain event's schema, by type: what the services validate with and docs/asyncapi.yaml shows. */
export const DomainEventSchemas = {
  'message.created': MessageCreatedDomainEvent,
  'message.edited': MessageEditedDomainEvent,
  'message.deleted': MessageDeletedDomainEvent,
} as const satisfies { [T in DomainEventType]: TSchema }

export type DomainEvent = { [T in DomainEventType]: Static<typeof DomainEventSchemas[T]> }[DomainEventType]
export type DomainEventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>

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
