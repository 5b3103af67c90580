import { Type, type Static } from '@sinclair/typebox'
import { ConnectionId, Id, Message, MessageKind, Timestamp } from './common.js'

/** Changes a message's content: the sender only. */
export const EditMessageRequest = Type.Object({
  actorId: Id,
  messageId: Id,
  content: Type.String(),
  /** The socket that asked: it gets the answer, not the event. */
  originConnectionId: Type.Optional(ConnectionId),
}, { additionalProperties: false })
export type EditMessageRequest = Static<typeof EditMessageRequest>

export const EditMessageReply = Type.Object({ message: Message })
export type EditMessageReply = Static<typeof EditMessageReply>

/** Deletes a message for everyone: the sender only. */
export const DeleteMessageRequest = Type.Object({
  actorId: Id,
  messageId: Id,
  originConnectionId: Type.Optional(ConnectionId),
}, { additionalProperties: false })
export type DeleteMessageRequest = Static<typeof DeleteMessageRequest>

export const DeleteMessageReply = Type.Object({ conversationId: Id, messageId: Id })
export type DeleteMessageReply = Static<typeof DeleteMessageReply>

/**
 * Deletes a direct conversation and all its messages, for both sides. By
 * default either member may; `openerOnly` restricts it to the member who
 * opened it (the first message's sender, or who opened it explicitly), for
 * APIs that give a direct conversation an owner. Conversations stored
 * before openers were recorded have none, and stay deletable by either.
 */
export const DeleteConversationRequest = Type.Object({
  actorId: Id,
  conversationId: Type.Optional(Id),
  peerId: Type.Optional(Id),
  openerOnly: Type.Optional(Type.Boolean()),
}, { additionalProperties: false })
export type DeleteConversationRequest = Static<typeof DeleteConversationRequest>

export const DeleteConversationReply = Type.Object({ conversationId: Id, peerId: Id })
export type DeleteConversationReply = Static<typeof DeleteConversationReply>

/** The actor is (or stopped) typing in a conversation; pushed, never stored. */
export const TypingRequest = Type.Object({
  actorId: Id,
  conversationId: Type.Optional(Id),
  peerId: Type.Optional(Id),
  typing: Type.Boolean(),
}, { additionalProperties: false })
export type TypingRequest = Static<typeof TypingRequest>

export const CONVERSATION_LIST_MAX = 100

/** The actor's conversations, most recently active first. */
export const ListConversationsRequest = Type.Object({
  actorId: Id,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CONVERSATION_LIST_MAX })),
  /** The `next` cursor of the previous page. */
  cursor: Type.Optional(Type.String({ maxLength: 128 })),
}, { additionalProperties: false })
export type ListConversationsRequest = Static<typeof ListConversationsRequest>

export const LastMessage = Type.Object({
  id: Id,
  senderId: Id,
  kind: MessageKind,
  content: Type.String(),
  createdAt: Timestamp,
})
export type LastMessage = Static<typeof LastMessage>

export const ConversationSummary = Type.Object({
  conversationId: Id,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('room')]),
  /** The other party of a direct conversation. */
  peerId: Type.Optional(Id),
  /** The other party's username, or the room's name. */
  name: Type.String(),
  lastMessage: Type.Union([LastMessage, Type.Null()]),
  /** The oldest message the actor can still see in it, or null. */
  firstMessageId: Type.Union([Id, Type.Null()]),
  lastActivityAt: Timestamp,
  unread: Type.Integer({ minimum: 0 }),
})
export type ConversationSummary = Static<typeof ConversationSummary>

export const ListConversationsReply = Type.Object({
  conversations: Type.Array(ConversationSummary),
  /** Pass as `cursor` for the next page; null at the end. */
  next: Type.Union([Type.String(), Type.Null()]),
})
export type ListConversationsReply = Static<typeof ListConversationsReply>
