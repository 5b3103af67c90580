import {
  CONVERSATION_LIST_MAX, Commands, ROOM_LIST_MAX, ROOM_MEMBERS_MAX,
  type ConversationSummary, type Room, type RoomMember,
} from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'

/**
 * The document's lists have no paging, so they are read whole, page by
 * page, up to this many entries: the most recently active ones.
 */
export const CHATS_LIST_MAX = 1000

/** The caller's conversations (both kinds), most recently active first, at most CHATS_LIST_MAX. */
export async function allConversations (commands: CommandClient, actorId: number): Promise<ConversationSummary[]> {
  const out: ConversationSummary[] = []
  let cursor: string | undefined
  while (out.length < CHATS_LIST_MAX) {
    const limit = Math.min(CONVERSATION_LIST_MAX, CHATS_LIST_MAX - out.length)
    const page = await commands.call(Commands.message.listConversations, cursor === undefined ? { actorId, limit } : { actorId, limit, cursor })
    out.push(...page.conversations)
    if (page.next === null) break
    cursor = page.next
  }
  return out
}

/** The rooms the caller is a member of, newest first, at most CHATS_LIST_MAX. */
export async function allRooms (commands: CommandClient, actorId: number): Promise<Room[]> {
  const out: Room[] = []
  let beforeId: number | undefined
  while (out.length < CHATS_LIST_MAX) {
    const limit = Math.min(ROOM_LIST_MAX, CHATS_LIST_MAX - out.length)
    const page = await commands.call(Commands.message.roomList, beforeId === undefined
      ? { actorId, scope: 'mine', limit }
      : { actorId, scope: 'mine', limit, beforeId })
    out.push(...page.rooms)
    const last = page.rooms.at(-1)
    if (!page.hasMore || last === undefined) break
    beforeId = last.id
  }
  return out
}

/** Participants listed at most: a room's largest capacity. */
export const PARTICIPANTS_MAX = 100_000

/** A room's members in joining order, every page, at most PARTICIPANTS_MAX. */
export async function allMembers (commands: CommandClient, actorId: number, roomId: number): Promise<RoomMember[]> {
  const out: RoomMember[] = []
  let after: string | undefined
  while (out.length < PARTICIPANTS_MAX) {
    const limit = Math.min(ROOM_MEMBERS_MAX, PARTICIPANTS_MAX - out.length)
    const page = await commands.call(Commands.message.roomMembers, after === undefined ? { actorId, roomId, limit } : { actorId, roomId, limit, after })
    out.push(...page.members)
    if (page.next === null) break
    after = page.next
  }
  return out
}
