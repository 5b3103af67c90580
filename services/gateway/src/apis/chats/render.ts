import { ChatError, type ConversationSummary, type Message, type Room, type RoomMember, type UserName } from '@chat/contracts'
import type { ChatMessageOut, ChatSummaryOut, RoomParticipantOut, RoomSummaryOut, UnreadChatOut } from './schemas.js'

/**
 * Pure mappers from service replies to the `chats` document's shapes. The
 * routes do the lookups (profiles by id) and hand them in, with the time of
 * the response (`server_sent_timestamp`).
 */

/** Profiles by user id, as `UserDirectory.byIds` answers. */
export type Profiles = ReadonlyMap<number, UserName>

const usernameOf = (profiles: Profiles, id: number): string => profiles.get(id)?.username ?? ''

/**
 * `/chats/:user_a_id/:user_b_id`: one of the two must be the caller (the
 * order does not matter); the other is the peer. Neither: CHAT_ID_MISMATCH.
 */
export function peerOfPair (selfId: number, a: number, b: number): number {
  if (a === selfId) return b
  if (b === selfId) return a
  throw new ChatError('CHAT_ID_MISMATCH', 'One of the two user ids must be your own')
}

/** One history item. */
export function chatMessage (m: Message, profiles: Profiles, now: string): ChatMessageOut {
  return {
    chat_id: m.conversationId,
    message: m.content,
    message_sender_id: m.senderId,
    message_sender_name: usernameOf(profiles, m.senderId),
    message_timestamp: m.createdAt,
    message_type: m.kind,
    server_sent_timestamp: now,
  }
}

/** Direct conversations with a visible last message: the only ones the chat lists show. */
export type DirectSummary = ConversationSummary & { kind: 'direct', peerId: number, lastMessage: NonNullable<ConversationSummary['lastMessage']> }

export function isListedChat (c: ConversationSummary): c is DirectSummary {
  return c.kind === 'direct' && c.peerId !== undefined && c.lastMessage !== null
}

/** Newest last message first; ties by id, newest first, so the order is stable. */
export function byLastMessage<T extends { time: string, id: number }> (a: T, b: T): number {
  if (a.time !== b.time) return a.time < b.time ? 1 : -1
  return b.id - a.id
}

/** Direct conversations as the chat lists show them: newest last message first. */
export function listedChats (all: readonly ConversationSummary[]): DirectSummary[] {
  return all.filter(isListedChat)
    .map((c) => ({ c, time: c.lastMessage.createdAt, id: c.conversationId }))
    .sort(byLastMessage)
    .map(({ c }) => c)
}

/** User ids a chat list needs profiles of: peers and last senders. */
export function chatProfileIds (chats: readonly DirectSummary[]): number[] {
  return [...new Set(chats.flatMap((c) => [c.peerId, c.lastMessage.senderId]))]
}

/** One item of `GET /chats/unread`. */
export function unreadChat (c: DirectSummary, profiles: Profiles, now: string): UnreadChatOut {
  return {
    chat_id: c.conversationId,
    last_message: c.lastMessage.content,
    last_message_sender_id: c.lastMessage.senderId,
    last_message_sender_name: usernameOf(profiles, c.lastMessage.senderId),
    last_message_timestamp: c.lastMessage.createdAt,
    last_message_type: c.lastMessage.kind,
    unread_count: c.unread,
    server_sent_timestamp: now,
  }
}

/** One item of `GET /chats`. */
export function chatSummary (c: DirectSummary, profiles: Profiles, now: string): ChatSummaryOut {
  const peer = profiles.get(c.peerId)
  return {
    chat_id: c.conversationId,
    with_user_id: c.peerId,
    with_user_name: peer?.username ?? '',
    with_nick_name: peer?.nickname ?? '',
    last_message: c.lastMessage.content,
    last_message_sender_id: c.lastMessage.senderId,
    last_message_sender_name: usernameOf(profiles, c.lastMessage.senderId),
    last_message_type: c.lastMessage.kind,
    last_message_timestamp: c.lastMessage.createdAt,
    unread_count: c.unread,
    server_sent_timestamp: now,
  }
}

/** A room the caller takes part in, with its entry in the caller's conversation list (if any). */
export interface RoomEntry {
  room: Room
  summary: ConversationSummary | undefined
}

/**
 * The caller's rooms joined with their conversation-list entries, newest
 * last message first; a room without a message yet sorts by its creation
 * time, as if that were its last activity.
 */
export function listedRooms (rooms: readonly Room[], conversations: readonly ConversationSummary[]): RoomEntry[] {
  const byId = new Map(conversations.filter((c) => c.kind === 'room').map((c) => [c.conversationId, c]))
  return rooms
    .map((room) => {
      const summary = byId.get(room.id)
      return { entry: { room, summary }, time: summary?.lastMessage?.createdAt ?? room.createdAt, id: room.id }
    })
    .sort(byLastMessage)
    .map(({ entry }) => entry)
}

/** User ids a room list needs profiles of: last senders. */
export function roomProfileIds (entries: readonly RoomEntry[]): number[] {
  const ids = new Set<number>()
  for (const e of entries) if (e.summary?.lastMessage) ids.add(e.summary.lastMessage.senderId)
  return [...ids]
}

/** One item of `GET /chat_rooms` and `GET /chat_rooms/message/unread`; no message yet: the last_message_* fields are null. */
export function roomSummary ({ room, summary }: RoomEntry, profiles: Profiles, now: string): RoomSummaryOut {
  const last = summary?.lastMessage ?? null
  return {
    chat_room_id: room.id,
    title: room.name,
    user_id: room.ownerId,
    geolocation: room.geolocation === null ? null : { latitude: room.geolocation.latitude, longitude: room.geolocation.longitude },
    last_message: last?.content ?? null,
    last_message_sender_id: last?.senderId ?? null,
    last_message_sender_name: last ? usernameOf(profiles, last.senderId) : null,
    last_message_type: last?.kind ?? null,
    last_message_timestamp: last?.createdAt ?? null,
    unread_count: summary?.unread ?? 0,
    created_at: room.createdAt,
    server_sent_timestamp: now,
  }
}

/** One item of `GET /chat_rooms/:chat_room_id/users`: `created_at` is when they joined. */
export function roomParticipant (roomId: number, m: RoomMember): RoomParticipantOut {
  return { chat_room_id: roomId, user_id: m.userId, created_at: m.joinedAt }
}
