import { Type, type Static } from '@sinclair/typebox'

/** Every id the system exposes: a positive integer below 2^53. */
export const Id = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })

/**
 * Characters no name (username, nickname, room name) may contain, as a
 * regular-expression character-class body: C0 and C1 controls and DEL,
 * and the bidirectional marks, embeddings, overrides and isolates
 * (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069). Controls break
 * logs and terminals; bidi controls make a name display as another one
 * (`admin` spelled backwards behind U+202E). Decided once here, so every
 * name schema refuses the same set.
 */
export const NAME_FORBIDDEN_CHARS = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069'

/** The `pattern` of a name of at least one character, none of {@link NAME_FORBIDDEN_CHARS}. */
export const NAME_PATTERN = `^[^${NAME_FORBIDDEN_CHARS}]+$`

/** As {@link NAME_PATTERN}, the empty name allowed (a nickname may be cleared). */
export const OPTIONAL_NAME_PATTERN = `^[^${NAME_FORBIDDEN_CHARS}]*$`

const FORBIDDEN_NAME_CHAR = new RegExp(`[${NAME_FORBIDDEN_CHARS}]`)

/** Whether `text` contains a character no name may contain. */
export function hasForbiddenNameChar (text: string): boolean {
  return FORBIDDEN_NAME_CHAR.test(text)
}

/** 1–64 characters, none of {@link NAME_FORBIDDEN_CHARS}; unique case-insensitively. */
export const Username = Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN })

export const Password = Type.String({ minLength: 1, maxLength: 1024 })

export const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s\\u0000-\\u001f]+@[^@\\s\\u0000-\\u001f]+$' })

/** Up to 64 characters, none of {@link NAME_FORBIDDEN_CHARS}; may be empty. */
export const Nickname = Type.String({ maxLength: 64, pattern: OPTIONAL_NAME_PATTERN })

/** A URL or a data URI. */
export const Avatar = Type.String({ maxLength: 262144 })

/** ISO-8601 UTC timestamp with milliseconds. */
export const Timestamp = Type.String({ maxLength: 40 })

/** The kinds of message every API maps onto. */
export const MessageKind = Type.Union([
  Type.Literal('text'),
  Type.Literal('image'),
  Type.Literal('file'),
  Type.Literal('audio'),
  Type.Literal('sticker'),
  Type.Literal('location'),
  Type.Literal('customize'),
])
export type MessageKind = Static<typeof MessageKind>

/** A client's own id for a message it sends, for idempotent retries. */
export const ClientMessageId = Type.String({ minLength: 1, maxLength: 64 })

/** Identifies one socket across the cluster: `<gatewayId>:<n>`. */
export const ConnectionId = Type.String({ minLength: 1, maxLength: 128 })

/** The longest avatar URL lists carry; longer ones (and data URIs) are left out of lists. */
export const LIST_AVATAR_MAX = 2048

/**
 * An avatar as lists carry it: the user's avatar when it is a short URL
 * (http, https, or a path of ours), else empty, with `hasAvatar` saying
 * whether the user has one at all (a data URI may be 256 KiB: lists never
 * carry those; gateways serve them at `GET /users/{id}/avatar`).
 */
export function listAvatar (avatar: string): { avatar: string, hasAvatar: boolean } {
  const url = avatar.length <= LIST_AVATAR_MAX && /^(https?:\/\/|\/(?!\/))/i.test(avatar)
  return { avatar: url ? avatar : '', hasAvatar: avatar !== '' }
}

/** Profile fields anyone logged in may see. */
export const PublicUser = Type.Object({
  id: Id,
  username: Username,
  nickname: Type.String(),
  /** The avatar; in lists (search results), only a short URL, see listAvatar. */
  avatar: Type.String(),
  /** In lists: whether the user has an avatar, even one left out of the list. */
  hasAvatar: Type.Optional(Type.Boolean()),
})
export type PublicUser = Static<typeof PublicUser>

/**
 * A user's names only: what lists and pushes need to show who someone is.
 * Small and bounded (no avatar, which may be a 256 KiB data URI), so a
 * thousand of them always fit in one NATS message.
 */
export const UserName = Type.Object({
  id: Id,
  username: Username,
  nickname: Type.String(),
})
export type UserName = Static<typeof UserName>

/** The profile as its owner sees it. */
export const OwnUser = Type.Object({
  id: Id,
  username: Username,
  nickname: Type.String(),
  avatar: Type.String(),
  email: Type.String(),
  createdAt: Timestamp,
})
export type OwnUser = Static<typeof OwnUser>

/** A stored message as every service and API adapter sees it. */
export const Message = Type.Object({
  id: Id,
  conversationId: Id,
  seq: Type.Integer({ minimum: 1 }),
  senderId: Id,
  /** The other party of a direct conversation; absent for rooms. */
  recipientId: Type.Optional(Id),
  kind: MessageKind,
  content: Type.String(),
  createdAt: Timestamp,
  editedAt: Type.Optional(Timestamp),
  clientMessageId: Type.Optional(ClientMessageId),
  /** The time the sender's client claimed; kept, never trusted for ordering. */
  clientTime: Type.Optional(Type.String({ maxLength: 64 })),
})
export type Message = Static<typeof Message>

/**
 * An edit or deletion of a message, with its own place (`seq`) in its
 * conversation's order: changes take numbers from the same counter as
 * messages, so one position says what a client has seen of both (SYNC).
 */
export const MessageChange = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  kind: Type.Union([Type.Literal('edited'), Type.Literal('deleted')]),
  messageId: Id,
  /** The changed message's own seq. */
  messageSeq: Type.Integer({ minimum: 1 }),
  senderId: Id,
  /** Edits: the new content. */
  content: Type.Optional(Type.String()),
  at: Timestamp,
})
export type MessageChange = Static<typeof MessageChange>

/** A stored file's metadata. */
export const FileInfo = Type.Object({
  id: Id,
  ownerId: Id,
  name: Type.String(),
  contentType: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  chunkSize: Type.Integer({ minimum: 1 }),
  chunks: Type.Integer({ minimum: 0 }),
  createdAt: Timestamp,
})
export type FileInfo = Static<typeof FileInfo>

/** An empty object, the reply of commands with nothing to say. */
export const Empty = Type.Object({})
export type Empty = Static<typeof Empty>
