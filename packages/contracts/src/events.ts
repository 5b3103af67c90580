import { Type, type Static } from '@sinclair/typebox'
import { ConnectionId, Id, Message, Timestamp } from './common.js'

/**
 * Live events. Two kinds of subject carry them:
 *
 * - `<prefix>.v1.evt.user.<userId>.<kind>`: one copy per user concerned, so a
 *   gateway only receives events for users it holds (`userId` names the
 *   addressee);
 * - `<prefix>.v1.evt.room.<roomId>.<kind>`: one copy per room; every
 *   gateway holding a member receives it and hands it to the members'
 *   sockets.
 *
 * What happens in a conversation (a message sent, edited or deleted,
 * someone typing) has one shape whatever the conversation: a direct
 * conversation's event goes to each member's subject with `userId` set, a
 * room's once to the room's subject with `roomId` set. Exactly one of the
 * two is present.
 */
const Addressee = {
  /** The user a direct conversation's copy is addressed to. */
  userId: Type.Optional(Id),
  /** The room (its conversation id) of a room's one copy. */
  roomId: Type.Optional(Id),
}

export const MessageNewEvent = Type.Object({
  kind: Type.Literal('message.new'),
  ...Addressee,
  message: Message,
  /** The socket the message came from; it is answered, not echoed. */
  originConnectionId: Type.Optional(ConnectionId),
  /**
   * The recipients' unread counts in the conversation, this message
   * counted, by user id: the unread.changed each of them would otherwise
   * get, so a message is one event per recipient (one per room) whatever the
   * room's size. Recipients whose counts are being rebuilt are left out (an
   * unread.changed follows for them).
   */
  unread: Type.Optional(Type.Record(Type.String({ pattern: '^[1-9][0-9]*$' }), Type.Integer({ minimum: 0 }))),
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

export const MessageEditedEvent = Type.Object({
  kind: Type.Literal('message.edited'),
  ...Addressee,
  message: Message,
  originConnectionId: Type.Optional(ConnectionId),
})
export type MessageEditedEvent = Static<typeof MessageEditedEvent>

export const MessageDeletedEvent = Type.Object({
  kind: Type.Literal('message.deleted'),
  ...Addressee,
  conversationId: Id,
  messageId: Id,
  originConnectionId: Type.Optional(ConnectionId),
})
export type MessageDeletedEvent = Static<typeof MessageDeletedEvent>

/** A direct conversation was deleted for both sides. */
export const ConversationDeletedEvent = Type.Object({
  kind: Type.Literal('conversation.deleted'),
  userId: Id,
  conversationId: Id,
  peerId: Id,
})
export type ConversationDeletedEvent = Static<typeof ConversationDeletedEvent>

/** Read receipt, to the senders of the messages read. */
export const MessageReadEvent = Type.Object({
  kind: Type.Literal('message.read'),
  userId: Id,
  conversationId: Id,
  readerId: Id,
  /** Everything up to and including this sequence number has been read. */
  seq: Type.Integer({ minimum: 0 }),
  /** The newest message read, when known. */
  messageId: Type.Optional(Id),
})
export type MessageReadEvent = Static<typeof MessageReadEvent>

/** Someone is typing: to the peer of a direct conversation, or to a room (its members ignore their own). */
export const TypingEvent = Type.Object({
  kind: Type.Literal('typing'),
  ...Addressee,
  conversationId: Id,
  fromUserId: Id,
  typing: Type.Boolean(),
})
export type TypingEvent = Static<typeof TypingEvent>

/**
 * The user joined or left a room (or it was deleted): gateways start or
 * stop listening to the room's events for that user.
 */
export const MembershipChangedEvent = Type.Object({
  kind: Type.Literal('membership.changed'),
  userId: Id,
  roomId: Id,
  member: Type.Boolean(),
})
export type MembershipChangedEvent = Static<typeof MembershipChangedEvent>

/** Someone opened a direct conversation with this user (before any message). */
export const ConversationCreatedEvent = Type.Object({
  kind: Type.Literal('conversation.created'),
  userId: Id,
  conversationId: Id,
  /** Who opened it. */
  peerId: Id,
})
export type ConversationCreatedEvent = Static<typeof ConversationCreatedEvent>

/** What is published on a user's subject. */
export const UserEvent = Type.Union([
  MessageNewEvent,
  UnreadChangedEvent,
  PresenceChangedEvent,
  MessagesClearedEvent,
  ContactsChangedEvent,
  MessageEditedEvent,
  MessageDeletedEvent,
  ConversationDeletedEvent,
  MessageReadEvent,
  TypingEvent,
  MembershipChangedEvent,
  ConversationCreatedEvent,
])
export type UserEvent = Static<typeof UserEvent>

/** Events of rooms alone, on the room's subject. */
export const RoomMemberEvent = Type.Object({
  kind: Type.Union([Type.Literal('member.joined'), Type.Literal('member.left')]),
  roomId: Id,
  userId: Id,
  username: Type.String(),
  nickname: Type.String(),
  at: Timestamp,
})
export type RoomMemberEvent = Static<typeof RoomMemberEvent>

export const RoomDeletedEvent = Type.Object({
  kind: Type.Literal('room.deleted'),
  roomId: Id,
})
export type RoomDeletedEvent = Static<typeof RoomDeletedEvent>

/** What is published on a room's subject. */
export const RoomEvent = Type.Union([
  MessageNewEvent,
  MessageEditedEvent,
  MessageDeletedEvent,
  TypingEvent,
  RoomMemberEvent,
  RoomDeletedEvent,
])
export type RoomEvent = Static<typeof RoomEvent>

/** An event of a conversation, direct or room: the one shape both kinds of subject carry. */
export type ConversationEvent = MessageNewEvent | MessageEditedEvent | MessageDeletedEvent | TypingEvent

/** Whatever a gateway hands its sockets: an event of one of its users or of one of their rooms. */
export type LiveEvent = UserEvent | RoomEvent
