/**
 * What a client emits. Message events (`message`, `messageEdited`,
 * `messageDeleted`) go through the timeline (timeline.ts), which emits each
 * once and, in a catch-up, in `seq` order; the others are the server's pushes
 * passed on as they come.
 */
import type { ChatSdkError } from './errors.js'
import type { Message, Session, UnreadCount } from './wire-types.js'

/** Where a message event came from. */
export type EventSource = 'live' | 'sync' | 'sent'

/** A message, new to this client. */
export interface MessageEvent {
  message: Message
  /** `live`: pushed; `sync`: found by the catch-up after a reconnect; `sent`: sent by this client, now stored. */
  source: EventSource
}

/** A message's new content. */
export interface MessageEditedEvent {
  conversationId: number
  messageId: number
  senderId: number
  content: string
  editedAt: string
  source: EventSource
}

/** A message gone for everyone. */
export interface MessageDeletedEvent {
  conversationId: number
  messageId: number
  source: EventSource
}

/** The connection's state. */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'

/** Every event a ChatClient emits, by name. */
export interface ChatEvents {
  message: MessageEvent
  messageEdited: MessageEditedEvent
  messageDeleted: MessageDeletedEvent
  /** MESSAGE_READ: `readerId` has read everything up to `seq`. */
  read: { conversationId: number, readerId: number, seq: number, messageId: number | null }
  typing: { conversationId: number, userId: number, typing: boolean, roomId?: number }
  presence: { userId: number, online: boolean }
  unread: UnreadCount
  contactsChanged: { added: number | null, removed: number | null }
  messagesCleared: { userId: number, targetUserId: number, conversationId: number | null }
  conversationCreated: { conversationId: number, userId: number }
  conversationDeleted: { conversationId: number, userId: number, targetUserId: number }
  roomMembership: { roomId: number, member: boolean }
  roomMemberJoined: { roomId: number, userId: number, username: string, nickname: string, at: string }
  roomMemberLeft: { roomId: number, userId: number, username: string, nickname: string, at: string }
  roomDeleted: { roomId: number }
  /** Logged in (first time and after every reconnect), before the catch-up. */
  connected: Session
  /** The catch-up after a login is done: everything missed has been emitted. */
  caughtUp: { conversations: number }
  /** The socket closed; the client reconnects unless the session ended or it was closed. */
  disconnected: { code: number, reason: string }
  state: ConnectionState
  /** The session cannot continue (revoked, expired, refused); the client stopped. */
  sessionEnded: ChatSdkError
  /** Something failed in the background (a catch-up, a listener). */
  error: unknown
}
