import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Geolocation, Id, RoomName } from '@chat/contracts'

/**
 * TypeBox schemas of the `chats` API (document 001): what fastify validates
 * on the way in, serializes on the way out and publishes at `/docs`. Field
 * names are the document's (snake_case); ids are numbers.
 */

/** `offset` is 1-based (1 = the newest message); `count` defaults to 20, at most 100. */
export const CHATS_DEFAULT_COUNT = 20
export const CHATS_MAX_COUNT = 100
/** The history command skips at most this many messages. */
export const CHATS_MAX_OFFSET = 1_000_001
/** What `/chats_v2/:chat_id` returns per call, as the document says. */
export const CHATS_V2_PAGE = 50

/** Message types the document lists for direct chats (`file` is not among them). */
export const CHAT_TYPES = ['text', 'image', 'sticker', 'location', 'audio', 'customize'] as const
/** Message types the document lists for chat rooms (no `customize`). */
export const ROOM_TYPES = ['text', 'image', 'sticker', 'location', 'audio'] as const

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))

/** An ISO-8601 UTC timestamp with milliseconds. */
const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-21T22:19:22.123Z'] })

// ----------------------------------------------------------------- requests

export const ChatIdParams = Type.Object({ chat_id: Id })
export type ChatIdParamsIn = Static<typeof ChatIdParams>

export const PairParams = Type.Object({ user_a_id: Id, user_b_id: Id })
export type PairParamsIn = Static<typeof PairParams>

export const RoomIdParams = Type.Object({ chat_room_id: Id })
export type RoomIdParamsIn = Static<typeof RoomIdParams>

export const PageQuery = Type.Object({
  count: Type.Integer({ minimum: 1, maximum: CHATS_MAX_COUNT, default: CHATS_DEFAULT_COUNT, description: 'How many messages (1–100)' }),
  offset: Type.Integer({ minimum: 1, maximum: CHATS_MAX_OFFSET, default: 1, description: 'The first message to return, 1 being the newest' }),
})
export type PageQueryIn = Static<typeof PageQuery>

/** Content: the message service checks emptiness, length (413) and per-type format. */
const Content = Type.String({ description: 'The content; `customize` content is free-form' })

export const SendChatBody = Type.Object({
  receiver_id: Id,
  message: Content,
  type: literals(CHAT_TYPES),
})
export type SendChatBodyIn = Static<typeof SendChatBody>

export const ReadChatBody = Type.Object({ chat_id: Id })
export type ReadChatBodyIn = Static<typeof ReadChatBody>

export const CreateRoomBody = Type.Object({
  title: RoomName,
  capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'Most participants; unlimited when absent' })),
  geolocation: Type.Optional(Type.Union([Geolocation, Type.Null()])),
})
export type CreateRoomBodyIn = Static<typeof CreateRoomBody>

export const SendRoomBody = Type.Object({
  message: Content,
  type: literals(ROOM_TYPES),
})
export type SendRoomBodyIn = Static<typeof SendRoomBody>

// ---------------------------------------------------------------- responses

export const ChatIdReply = Type.Object({ chat_id: Id }, { description: 'The chat id: the same for both users' })
export const RoomIdReply = Type.Object({ chat_room_id: Id }, { description: 'The new room' })
/** The body of 201 answers the document shows without one. */
export const Created = Type.Object({}, { description: 'Done; an empty object' })
/** 204 answers have no body. */
export const NoContent = Type.Null({ description: 'Done; no body' })

export const ChatMessage = Type.Object({
  chat_id: Id,
  message: Type.String(),
  message_sender_id: Id,
  message_sender_name: Type.String({ description: "The sender's username" }),
  message_timestamp: Timestamp,
  message_type: Type.String(),
  server_sent_timestamp: Timestamp,
})
export type ChatMessageOut = Static<typeof ChatMessage>

export const ChatMessages = Type.Array(ChatMessage, { description: 'Messages, newest first' })

/** `/chats_v2/:chat_id`: the messages, and how many are still unread in a header. */
export const TakenMessages = Type.Array(ChatMessage, {
  description: 'At most 50 unread messages, oldest first, now read',
  headers: { unread_count: Type.Integer({ minimum: 0, description: 'Messages still unread in this chat after this call' }) },
})

export const UnreadChat = Type.Object({
  chat_id: Id,
  last_message: Type.String(),
  last_message_sender_id: Id,
  last_message_sender_name: Type.String(),
  last_message_timestamp: Timestamp,
  last_message_type: Type.String(),
  unread_count: Type.Integer({ minimum: 0 }),
  server_sent_timestamp: Timestamp,
})
export type UnreadChatOut = Static<typeof UnreadChat>

export const ChatSummary = Type.Object({
  chat_id: Id,
  with_user_id: Id,
  with_user_name: Type.String(),
  with_nick_name: Type.String(),
  last_message: Type.String(),
  last_message_sender_id: Id,
  last_message_sender_name: Type.String(),
  last_message_type: Type.String(),
  last_message_timestamp: Timestamp,
  unread_count: Type.Integer({ minimum: 0 }),
  server_sent_timestamp: Timestamp,
})
export type ChatSummaryOut = Static<typeof ChatSummary>

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const RoomSummary = Type.Object({
  chat_room_id: Id,
  title: Type.String(),
  user_id: Id,
  geolocation: nullable(Geolocation),
  last_message: nullable(Type.String()),
  last_message_sender_id: nullable(Id),
  last_message_sender_name: nullable(Type.String()),
  last_message_type: nullable(Type.String()),
  last_message_timestamp: nullable(Timestamp),
  unread_count: Type.Integer({ minimum: 0 }),
  created_at: Timestamp,
  server_sent_timestamp: Timestamp,
})
export type RoomSummaryOut = Static<typeof RoomSummary>

export const RoomParticipant = Type.Object({
  chat_room_id: Id,
  user_id: Id,
  created_at: Timestamp,
})
export type RoomParticipantOut = Static<typeof RoomParticipant>

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'The error code without `chat_`, e.g. `room_full`' }),
  message: Type.String(),
})

const ERROR_DESCRIPTIONS = {
  400: 'Malformed request: a missing or mistyped field, a bad id or type (`bad_request`, `self_target`)',
  401: 'No session, or a bad, expired or revoked token (`unauthenticated`, `token_invalid`)',
  403: 'Not allowed: not your id (`id_mismatch`), not a member (`not_member`), blocked, `room_full`',
  404: 'No such user, chat or room (`user_not_found`, `conversation_not_found`)',
  413: 'The message is too long (`content_too_large`)',
  429: 'Too many requests (`rate_limited`)',
} as const

/** Error answers a route documents, by status. */
export function errors (...statuses: Array<keyof typeof ERROR_DESCRIPTIONS>): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const status of statuses) out[status] = { ...ErrorBody, description: ERROR_DESCRIPTIONS[status] }
  return out
}
