import { Type, type Static } from '@sinclair/typebox'
import { ClientMessageId, ConnectionId, FileInfo, Id, Message, MessageChange, MessageKind } from './common.js'

/**
 * Sends a message. Direct messages name the peer (`peerId`); a conversation
 * id names an existing conversation the actor belongs to.
 */
export const SendMessageRequest = Type.Object({
  actorId: Id,
  peerId: Type.Optional(Id),
  conversationId: Type.Optional(Id),
  kind: MessageKind,
  content: Type.String(),
  clientMessageId: Type.Optional(ClientMessageId),
  clientTime: Type.Optional(Type.String({ maxLength: 64 })),
  /** The socket that sent it, so that socket alone is not echoed the message. */
  originConnectionId: Type.Optional(ConnectionId),
  /**
   * With a room's `conversationId`: join the room first if the actor isn't a
   * member (CHAT_ROOM_FULL at capacity). Content is checked before, so a
   * refused message makes nobody a member.
   */
  joinRoom: Type.Optional(Type.Boolean()),
}, { additionalProperties: false })
export type SendMessageRequest = Static<typeof SendMessageRequest>

export const SendMessageReply = Type.Object({
  message: Message,
  /** True when this was a retry of a message already stored. */
  duplicate: Type.Boolean(),
})
export type SendMessageReply = Static<typeof SendMessageReply>

export const HISTORY_DEFAULT_LIMIT = 50
export const HISTORY_MAX_LIMIT = 100

/** Newest messages first page, returned oldest first; `beforeId` pages back. */
export const HistoryRequest = Type.Object({
  actorId: Id,
  peerId: Type.Optional(Id),
  conversationId: Type.Optional(Id),
  beforeId: Type.Optional(Id),
  /** Skips this many of the newest messages first (page-number paging); not with `beforeId`. */
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000000 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: HISTORY_MAX_LIMIT })),
}, { additionalProperties: false })
export type HistoryRequest = Static<typeof HistoryRequest>

export const HistoryReply = Type.Object({
  /** Null when the two users have never talked. */
  conversationId: Type.Union([Id, Type.Null()]),
  messages: Type.Array(Message),
  hasMore: Type.Boolean(),
})
export type HistoryReply = Static<typeof HistoryReply>

/** Marks a message and everything before it read, or a whole conversation. */
export const ReadRequest = Type.Object({
  actorId: Id,
  messageId: Type.Optional(Id),
  conversationId: Type.Optional(Id),
  peerId: Type.Optional(Id),
}, { additionalProperties: false })
export type ReadRequest = Static<typeof ReadRequest>

export const ReadReply = Type.Object({
  conversationId: Id,
  /** The actor's unread count in that conversation afterwards. */
  unread: Type.Integer({ minimum: 0 }),
})
export type ReadReply = Static<typeof ReadReply>

/** Clears the actor's own view of a direct conversation. */
export const ClearRequest = Type.Object({
  actorId: Id,
  peerId: Id,
  /** The socket that asked; it gets the answer, the user's other sockets an event. */
  originConnectionId: Type.Optional(ConnectionId),
}, { additionalProperties: false })
export type ClearRequest = Static<typeof ClearRequest>

export const ClearReply = Type.Object({ conversationId: Type.Union([Id, Type.Null()]) })
export type ClearReply = Static<typeof ClearReply>

/** Most cursors one sync may give. */
export const SYNC_MAX_CURSORS = 500
export const SYNC_DEFAULT_LIMIT = 200
/** Largest per-conversation `limit` of a sync. */
export const SYNC_MAX_LIMIT = 1000
/**
 * Most messages one sync returns across all its conversations, whatever
 * the cursors and `limit` ask for: conversations past it come back cut
 * short (or empty) with `hasMore: true`, and the client syncs again from
 * there. Bounds what one request can make the service read and send.
 */
export const SYNC_TOTAL_MAX = 1000

/**
 * Catch-up: for each conversation, the messages after the last seq the
 * client has. A conversation given twice counts once, from the lower
 * `afterSeq`; replies keep the order of first appearance.
 */
export const SyncRequest = Type.Object({
  actorId: Id,
  cursors: Type.Array(Type.Object({
    conversationId: Id,
    afterSeq: Type.Integer({ minimum: 0 }),
  }, { additionalProperties: false }), { maxItems: SYNC_MAX_CURSORS }),
  /** At most this many messages per conversation (and SYNC_TOTAL_MAX in all); `hasMore` says if there are more. */
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SYNC_MAX_LIMIT })),
}, { additionalProperties: false })
export type SyncRequest = Static<typeof SyncRequest>

export const SyncReply = Type.Object({
  conversations: Type.Array(Type.Object({
    conversationId: Id,
    messages: Type.Array(Message),
    /**
     * Edits and deletions after the cursor of messages at or before it (the
     * client has them): newer messages come as they are now, deleted ones
     * not at all. With `messages`, in one order by seq; the limits count
     * both. Absent from replicas older than this field.
     */
    changes: Type.Optional(Type.Array(MessageChange)),
    hasMore: Type.Boolean(),
  })),
})
export type SyncReply = Static<typeof SyncReply>

export const UnreadRequest = Type.Object({ actorId: Id }, { additionalProperties: false })
export type UnreadRequest = Static<typeof UnreadRequest>

/** One (user, conversation) unread count. */
export const UnreadCount = Type.Object({
  conversationId: Id,
  /** The other party of a direct conversation. */
  peerId: Type.Optional(Id),
  count: Type.Integer({ minimum: 0 }),
})
export type UnreadCount = Static<typeof UnreadCount>

export const UnreadReply = Type.Object({ conversations: Type.Array(UnreadCount) })
export type UnreadReply = Static<typeof UnreadReply>

/** Files are uploaded in chunks so no NATS message exceeds its payload limit. */
export const FILE_CHUNK_SIZE = 256 * 1024

export const FileCreateRequest = Type.Object({
  actorId: Id,
  name: Type.String({ minLength: 1, maxLength: 255 }),
  contentType: Type.String({ minLength: 1, maxLength: 255 }),
  size: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false })
export type FileCreateRequest = Static<typeof FileCreateRequest>

export const FileCreateReply = Type.Object({ fileId: Id, chunkSize: Type.Integer({ minimum: 1 }) })
export type FileCreateReply = Static<typeof FileCreateReply>

export const FileChunkPutRequest = Type.Object({
  actorId: Id,
  fileId: Id,
  n: Type.Integer({ minimum: 0 }),
  /** Base64 of at most chunkSize bytes. */
  data: Type.String({ maxLength: Math.ceil(FILE_CHUNK_SIZE / 3) * 4 }),
}, { additionalProperties: false })
export type FileChunkPutRequest = Static<typeof FileChunkPutRequest>

export const FileRef = Type.Object({ actorId: Id, fileId: Id }, { additionalProperties: false })
export type FileRef = Static<typeof FileRef>

export const FileReply = Type.Object({ file: FileInfo })
export type FileReply = Static<typeof FileReply>

export const FileChunkGetRequest = Type.Object({
  actorId: Id,
  fileId: Id,
  n: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false })
export type FileChunkGetRequest = Static<typeof FileChunkGetRequest>

export const FileChunkGetReply = Type.Object({ data: Type.String() })
export type FileChunkGetReply = Static<typeof FileChunkGetReply>

/** Gets or creates the direct conversation with `peerId` without sending anything. */
export const OpenConversationRequest = Type.Object({
  actorId: Id,
  peerId: Id,
}, { additionalProperties: false })
export type OpenConversationRequest = Static<typeof OpenConversationRequest>

export const OpenConversationReply = Type.Object({
  conversationId: Id,
  /** True when this call created it (the peer is then sent `conversation.created`). */
  created: Type.Boolean(),
})
export type OpenConversationReply = Static<typeof OpenConversationReply>

export const TAKE_UNREAD_MAX = 100

/**
 * Returns up to `limit` of the actor's unread messages in a conversation,
 * oldest first, and marks them read. Two devices taking at once never get
 * the same message, and none is skipped.
 */
export const TakeUnreadRequest = Type.Object({
  actorId: Id,
  conversationId: Id,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: TAKE_UNREAD_MAX })),
}, { additionalProperties: false })
export type TakeUnreadRequest = Static<typeof TakeUnreadRequest>

export const TakeUnreadReply = Type.Object({
  messages: Type.Array(Message),
  /** Unread messages still left after this call. */
  remaining: Type.Integer({ minimum: 0 }),
})
export type TakeUnreadReply = Static<typeof TakeUnreadReply>
