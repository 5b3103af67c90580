/**
 * The objects of the `typed` API as they travel (docs/api-typed.md,
 * Objects, Requests and Pushes). Written out here rather than imported so
 * the published package depends on no server package.
 */

/** Every frame, both ways: `{type, id?, payload}`. Answers carry their request's `id`; pushes never do. */
export interface Frame {
  type: string
  id?: string | number
  payload?: unknown
  /** MESSAGES_LOADED's `{conversationId, hasMore}`. */
  meta?: unknown
}

/** Message kinds (`type` of a message). */
export type MessageKind = 'text' | 'image' | 'file' | 'audio' | 'sticker' | 'location' | 'customize'

/** A message as every answer and push shows it. */
export interface Message {
  /** The server's id, unique across the system. */
  id: number
  senderId: number
  /** The other member of a direct conversation; `null` in a room. */
  receiverId: number | null
  content: string
  timestamp: string
  status: 'sent'
  type: MessageKind
  conversationId: number
  /** Its place in the conversation's one order (numbers skip; edits and deletions take places too). */
  seq: number
  roomId?: number
  editedAt?: string
}

/** An edit or deletion as SYNC returns it, in its own place (`seq`). */
export interface Change {
  seq: number
  change: 'edited' | 'deleted'
  messageId: number
  messageSeq: number
  senderId: number
  content?: string
  timestamp: string
}

/** The logged-in user, as LOGIN_SUCCESS / REGISTER_SUCCESS answer. */
export interface Session {
  userId: number
  username: string
  email: string
  avatar: string
  token: string
}

/** A room. */
export interface Room {
  id: number
  name: string
  ownerId: number
  capacity: number | null
  geolocation: { latitude: number, longitude: number } | null
  visibility: 'public' | 'private'
  memberCount: number
  createdAt: string
}

/** A contact in a contact list. */
export interface Contact {
  contactId: number
  username: string
  online: boolean
  avatar: string
}

/** A user found by SEARCH_USERS. */
export interface FoundUser {
  userId: number
  username: string
  nickname: string
  avatar: string
}

/** One entry of LOAD_CONVERSATIONS. */
export interface ConversationSummary {
  conversationId: number
  kind: 'direct' | 'room'
  peerId: number | null
  name: string
  lastMessage: { id: number, senderId: number, kind: MessageKind, content: string, createdAt: string } | null
  firstMessageId: number | null
  lastActivityAt: string
  unread: number
}

/** A conversation's unread count (LOAD_UNREAD, UNREAD_UPDATED). */
export interface UnreadCount {
  conversationId: number
  peerId: number | null
  count: number
}

/** MESSAGE_RECEIVED_SELF: the server's acknowledgement of a send. */
export interface SendAck {
  messageId: string | number | null
  id: number
  timestamp: string
  conversationId: number
  seq: number
}

/** A page of history, oldest first. */
export interface HistoryPage {
  messages: Message[]
  conversationId: number | null
  /** Older messages exist. */
  hasMore: boolean
}

/** One conversation of a SYNC_RESULT. */
export interface SyncConversation {
  conversationId: number
  hasMore: boolean
  messages: Message[]
  changes: Change[]
}
