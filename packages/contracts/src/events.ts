import { Type, type Static } from '@sinclair/typebox'
import { ConnectionId, Id, Message, Timestamp } from './common.js'

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
  /**
   * The addressee's unread count in the message's conversation, this message
   * counted, when the message raised it: the same as an unread.changed
   * (peerId: the sender), carried here so one message costs one event per
   * recipient. Absent on the sender's copy and when the count is being
   * rebuilt (an unread.changed follows then).
   */
  unread: Type.Optional(Type.Integer({ minimum: 0 })),
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
  userId: Id,
  message: Message,
  originConnectionId: Type.Optional(ConnectionId),
})
export type MessageEditedEvent = Static<typeof MessageEditedEvent>

export const MessageDeletedEvent = Type.Object({
  kind: Type.Literal('message.deleted'),
  userId: Id,
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

export const TypingEvent = Type.Object({
  kind: Type.Literal('typing'),
  userId: Id,
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

/**
 * Events published once per room on `<prefix>.v1.evt.room.<roomId>.<kind>`;
 * every gateway holding a member of the room receives one copy and hands it
 * to its members' sockets.
 */
export const RoomMessageNewEvent = Type.Object({
  kind: Type.Literal('message.new'),
  roomId: Id,
  message: Message,
  originConnectionId: Type.Optional(ConnectionId),
  /**
   * The members' unread counts in the room, this message counted, by user
   * id: the unread.changed each of them would otherwise get, so a room
   * message is one event whatever the room's size. Members whose counts
   * are being rebuilt are left out.
   */
  unread: Type.Optional(Type.Record(Type.String({ pattern: '^[1-9][0-9]*$' }), Type.Integer({ minimum: 0 }))),
})
export type RoomMessageNewEvent = Static<typeof RoomMessageNewEvent>

export const RoomMessageEditedEvent = Type.Object({
  kind: Type.Literal('message.edited'),
  roomId: Id,
  message: Message,
  originConnectionId: Type.Optional(ConnectionId),
})
export type RoomMessageEditedEvent = Static<typeof RoomMessageEditedEvent>

export const RoomMessageDeletedEvent = Type.Object({
  kind: Type.Literal('message.deleted'),
  roomId: Id,
  messageId: Id,
  originConnectionId: Type.Optional(ConnectionId),
})
export type RoomMessageDeletedEvent = Static<typeof RoomMessageDeletedEvent>

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

export const RoomTypingEvent = Type.Object({
  kind: Type.Literal('typing'),
  roomId: Id,
  fromUserId: Id,
  typing: Type.Boolean(),
})
export type RoomTypingEvent = Static<typeof RoomTypingEvent>

export const RoomEvent = Type.Union([
  RoomMessageNewEvent,
  RoomMessageEditedEvent,
  RoomMessageDeletedEvent,
  RoomMemberEvent,
  RoomDeletedEvent,
  RoomTypingEvent,
])
export type RoomEvent = Static<typeof RoomEvent>
