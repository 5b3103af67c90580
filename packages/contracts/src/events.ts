import { Type, type Static } from '@sinclair/typebox'
import { ConnectionId, Id, Message } from './common.js'

/**
 * Events published to `<prefix>.v1.evt.user.<userId>.<kind>`: one copy per
 * user concerned, so a gateway only receives events for users it holds.
 * `userId` is always the user the event is addressed to.
 */
export const MessageNewEvent = Type.Object({
  kind: Type.Literal('message.new'),
  userId: Id,
  message: Message,
  /** The socket the message came from; it is answered, not echoed. */
  originConnectionId: Type.Optional(ConnectionId),
})
export type MessageNewEvent = Static<typeof MessageNewEvent>

export const UnreadChangedEvent = Type.Object({
  kind: Type.Literal('unread.changed'),
  userId: Id,
  conversationId: Id,
  peerId: Type.Optional(Id),
  count: Type.Integer({ minimum: 0 }),
})
export type UnreadChangedEvent = Static<typeof UnreadChangedEvent>

export const PresenceChangedEvent = Type.Object({
  kind: Type.Literal('presence.changed'),
  userId: Id,
  /** The contact whose presence changed. */
  contactId: Id,
  online: Type.Boolean(),
})
export type PresenceChangedEvent = Static<typeof PresenceChangedEvent>

export const MessagesClearedEvent = Type.Object({
  kind: Type.Literal('messages.cleared'),
  userId: Id,
  conversationId: Id,
  peerId: Id,
  originConnectionId: Type.Optional(ConnectionId),
})
export type MessagesClearedEvent = Static<typeof MessagesClearedEvent>

export const ContactsChangedEvent = Type.Object({
  kind: Type.Literal('contacts.changed'),
  userId: Id,
  added: Type.Optional(Id),
  removed: Type.Optional(Id),
})
export type ContactsChangedEvent = Static<typeof ContactsChangedEvent>

export const UserEvent = Type.Union([
  MessageNewEvent,
  UnreadChangedEvent,
  PresenceChangedEvent,
  MessagesClearedEvent,
  ContactsChangedEvent,
])
export type UserEvent = Static<typeof UserEvent>
