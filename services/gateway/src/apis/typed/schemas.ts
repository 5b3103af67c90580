import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Avatar, ClientMessageId, Email, Geolocation, Id, MessageKind, Password, RoomName, RoomVisibility, ROOM_MEMBERS_MAX, SYNC_MAX_CURSORS, SYNC_MAX_LIMIT, Username } from '@chat/contracts'

/**
 * Request payloads of the `typed` API (document 003 plus our documented
 * extensions). Unknown extra fields are ignored, as a client written for a
 * newer version may send them; every field we read has a strict type, so
 * objects where strings belong (operator injection) are refused here.
 */
const ClientId = Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), ClientMessageId])
const Base64Parts = Type.Array(Type.String(), { maxItems: 100000 })

export const TypedRequests = {
  REGISTER: Type.Object({ username: Username, password: Password, email: Type.Optional(Email), avatar: Type.Optional(Avatar) }),
  LOGIN: Type.Object({ username: Type.String({ minLength: 1, maxLength: 254 }), password: Password }),
  LOGIN_BY_TOKEN: Type.Object({ token: Type.String({ minLength: 1, maxLength: 4096 }) }),
  LOGOUT: Type.Object({ userId: Id }),
  UPDATE_PROFILE: Type.Object({
    userId: Id,
    username: Type.Optional(Username),
    password: Type.Optional(Password),
    /** Extension: required with `password`. */
    currentPassword: Type.Optional(Password),
    email: Type.Optional(Email),
    avatar: Type.Optional(Avatar),
  }),
  LOAD_CONTACTS: Type.Object({ userId: Id }),
  ADD_CONTACT: Type.Object({ userId: Id, targetId: Id }),
  DELETE_CONTACT: Type.Object({ userId: Id, targetId: Id }),
  SEND_MESSAGE: Type.Object({
    messageId: Type.Optional(ClientId),
    senderId: Id,
    receiverId: Id,
    content: Type.String(),
    /** Extension: the message kind, `text` when absent. */
    type: Type.Optional(MessageKind),
  }),
  SEND_FILE: Type.Object({ messageId: Type.Optional(ClientId), senderId: Id, receiverId: Id, fileName: Type.String({ minLength: 1, maxLength: 255 }), fileContent: Base64Parts }),
  SEND_IMAGE: Type.Object({ messageId: Type.Optional(ClientId), senderId: Id, receiverId: Id, imageName: Type.String({ minLength: 1, maxLength: 255 }), imageContent: Base64Parts }),
  LOAD_MESSAGES: Type.Object({
    userId: Id,
    targetId: Id,
    /** Extension: page back from this message id. */
    beforeId: Type.Optional(Id),
    /** Extension: skip this many of the newest messages (page-number paging); not with beforeId. */
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000000 })),
    /** Extension: page size, 50 by default. */
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  }),
  MARK_READ: Type.Object({ messageId: Id }),
  CLEAR_MESSAGES: Type.Object({ requesterUserId: Id, targetUserId: Id }),
  /** Extension: catch-up by sequence number per conversation. */
  SYNC: Type.Object({
    cursors: Type.Array(Type.Object({ conversationId: Id, lastSeq: Type.Integer({ minimum: 0 }) }), { maxItems: SYNC_MAX_CURSORS }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SYNC_MAX_LIMIT })),
  }),
  /** Extension: the user's non-zero unread counts. */
  LOAD_UNREAD: Type.Object({}),

  // Rooms (extension).
  CREATE_ROOM: Type.Object({
    name: RoomName,
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
    geolocation: Type.Optional(Geolocation),
    visibility: Type.Optional(RoomVisibility),
  }),
  LOAD_ROOMS: Type.Object({
    /** `visible` (default): public rooms and the user's; `mine`; `public`. */
    scope: Type.Optional(Type.Union([Type.Literal('mine'), Type.Literal('public'), Type.Literal('visible')])),
    beforeId: Type.Optional(Id),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  }),
  JOIN_ROOM: Type.Object({ roomId: Id }),
  LEAVE_ROOM: Type.Object({ roomId: Id }),
  DELETE_ROOM: Type.Object({ roomId: Id }),
  LOAD_ROOM_MEMBERS: Type.Object({ roomId: Id, after: Type.Optional(Type.String({ maxLength: 64 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: ROOM_MEMBERS_MAX })) }),
  SEND_ROOM_MESSAGE: Type.Object({
    messageId: Type.Optional(ClientId),
    senderId: Id,
    roomId: Id,
    content: Type.String(),
    type: Type.Optional(MessageKind),
  }),
  LOAD_ROOM_MESSAGES: Type.Object({
    roomId: Id,
    beforeId: Type.Optional(Id),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  }),

  // The message lifecycle (extension).
  EDIT_MESSAGE: Type.Object({ messageId: Id, content: Type.String() }),
  DELETE_MESSAGE: Type.Object({ messageId: Id }),
  DELETE_CONVERSATION: Type.Object({ userId: Id, targetUserId: Id }),
  TYPING: Type.Object({ targetId: Type.Optional(Id), roomId: Type.Optional(Id), typing: Type.Boolean() }),

  // People (extension).
  BLOCK_USER: Type.Object({ userId: Id, targetId: Id }),
  UNBLOCK_USER: Type.Object({ userId: Id, targetId: Id }),
  LOAD_BLOCKED: Type.Object({}),
  SEARCH_USERS: Type.Object({
    query: Type.String({ minLength: 1, maxLength: 64 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
  }),
  /** Extension: get or create the direct conversation with a user without sending anything. */
  OPEN_CONVERSATION: Type.Object({ userId: Id, targetId: Id }),
  /** Extension: take (and mark read) up to `limit` unread messages of a conversation, oldest first. */
  TAKE_UNREAD: Type.Object({
    conversationId: Id,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  }),
  LOAD_CONVERSATIONS: Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 128 })),
  }),
} satisfies Record<string, TSchema>

export type TypedRequestType = keyof typeof TypedRequests
export type TypedPayload<T extends TypedRequestType> = Static<(typeof TypedRequests)[T]>

/** A decoded request: its type, payload and optional correlation id. */
export type TypedRequest = {
  [T in TypedRequestType]: { type: T, payload: TypedPayload<T>, id?: string | number }
}[TypedRequestType]

/** The failure frame type of each request (the document's, corrected per API.md, or ours). */
export const FailureTypes: Record<TypedRequestType, string> = {
  REGISTER: 'REGISTER_FAILURE',
  LOGIN: 'LOGIN_FAILURE',
  LOGIN_BY_TOKEN: 'LOGIN_FAILURE',
  LOGOUT: 'LOGOUT_FAILURE',
  UPDATE_PROFILE: 'PROFILE_UPDATE_FAILURE',
  LOAD_CONTACTS: 'CONTACTS_LOADED_FAILED',
  ADD_CONTACT: 'CONTACT_ADDED_FAILED',
  DELETE_CONTACT: 'CONTACT_DELETED_FAILED',
  SEND_MESSAGE: 'MESSAGE_SEND_FAILURE',
  SEND_FILE: 'MESSAGE_SEND_FAILURE',
  SEND_IMAGE: 'MESSAGE_SEND_FAILURE',
  LOAD_MESSAGES: 'MESSAGES_LOAD_FAILURE',
  MARK_READ: 'MARK_READ_FAILURE',
  CLEAR_MESSAGES: 'MESSAGES_CLEAR_FAILURE',
  SYNC: 'SYNC_FAILURE',
  LOAD_UNREAD: 'UNREAD_LOAD_FAILURE',
  CREATE_ROOM: 'ROOM_CREATE_FAILURE',
  LOAD_ROOMS: 'ROOMS_LOAD_FAILURE',
  JOIN_ROOM: 'ROOM_JOIN_FAILURE',
  LEAVE_ROOM: 'ROOM_LEAVE_FAILURE',
  DELETE_ROOM: 'ROOM_DELETE_FAILURE',
  LOAD_ROOM_MEMBERS: 'ROOM_MEMBERS_LOAD_FAILURE',
  SEND_ROOM_MESSAGE: 'MESSAGE_SEND_FAILURE',
  LOAD_ROOM_MESSAGES: 'MESSAGES_LOAD_FAILURE',
  EDIT_MESSAGE: 'MESSAGE_EDIT_FAILURE',
  DELETE_MESSAGE: 'MESSAGE_DELETE_FAILURE',
  DELETE_CONVERSATION: 'CONVERSATION_DELETE_FAILURE',
  TYPING: 'TYPING_FAILURE',
  BLOCK_USER: 'USER_BLOCK_FAILURE',
  UNBLOCK_USER: 'USER_UNBLOCK_FAILURE',
  LOAD_BLOCKED: 'BLOCKED_LOAD_FAILURE',
  SEARCH_USERS: 'USERS_SEARCH_FAILURE',
  LOAD_CONVERSATIONS: 'CONVERSATIONS_LOAD_FAILURE',
  OPEN_CONVERSATION: 'CONVERSATION_OPEN_FAILURE',
  TAKE_UNREAD: 'UNREAD_TAKE_FAILURE',
}

/** Requests allowed before login. */
export const PublicTypes: ReadonlySet<TypedRequestType> = new Set(['REGISTER', 'LOGIN', 'LOGIN_BY_TOKEN'])
