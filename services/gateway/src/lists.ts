import {
  CONTACT_LIST_MAX, CONVERSATION_LIST_MAX, Commands, ROOM_LIST_MAX, ROOM_MEMBERS_MAX,
  type Contact, type ConversationSummary, type Message, type Room, type RoomMember,
} from '@chat/contracts'
import type { Actor } from './actor.js'

/**
 * Several documents show lists without paging, so the gateway reads them
 * page by page from the services. Each list has one cap, here, and no
 * client-chosen number raises it: a list longer than its cap shows its
 * first `cap` entries (in the list's own order).
 */
export const ListCaps = {
  /** Contacts in any API's contact list (oldest added first). */
  contacts: 10_000,
  /** Conversations in the `chats` lists and `flat` OLD_DIALOGS (most recently active first). */
  conversations: 1000,
  /** Rooms in the `rooms` API's `GET /Room` and the `chats` lists (newest first). */
  rooms: 1000,
  /** Participants the `chats` API lists of one room: the largest room capacity. */
  members: 100_000,
  /** Messages `flat` READ_MSG ALL sends of one conversation (oldest first). */
  history: 10_000,
  /** Unread messages `flat` READ_MSG RESENT takes from one conversation per request (oldest first). */
  unread: 10_000,
} as const

/** One page of a list: its items and where the next starts (undefined after the last). */
export interface Page<T, C> {
  items: T[]
  next: C | undefined
}

/**
 * Reads a list page by page, handing each page to `onPage` as it arrives
 * (so callers can stream it out instead of holding the whole list), and
 * stops at the end or at `cap` items. `fetch` gets the cursor and how many
 * items are still wanted (at most `pageSize`).
 */
export async function forEachPage<T, C> (
  fetch: (cursor: C | undefined, limit: number) => Promise<Page<T, C>>,
  opts: { cap: number, pageSize: number },
  onPage: (items: T[]) => void | Promise<void>
): Promise<void> {
  let seen = 0
  let cursor: C | undefined
  do {
    const page = await fetch(cursor, Math.min(opts.pageSize, opts.cap - seen))
    const items = page.items.slice(0, opts.cap - seen)
    seen += items.length
    if (items.length > 0) await onPage(items)
    // A page with nothing in it can't move a cursor forward: stop rather than spin.
    cursor = items.length === 0 ? undefined : page.next
  } while (cursor !== undefined && seen < opts.cap)
}

/** As forEachPage, collecting every item (for answers that are one frame or one body). */
export async function readAllPages<T, C> (
  fetch: (cursor: C | undefined, limit: number) => Promise<Page<T, C>>,
  opts: { cap: number, pageSize: number }
): Promise<T[]> {
  const out: T[] = []
  await forEachPage(fetch, opts, (items) => { out.push(...items) })
  return out
}

/** The actor's contacts, oldest added first, up to ListCaps.contacts. */
export function allContacts (actor: Actor): Promise<Contact[]> {
  return readAllPages<Contact, string>(async (after, limit) => {
    const page = await actor.call(Commands.contact.list, after === undefined ? { limit } : { after, limit })
    return { items: page.contacts, next: page.next ?? undefined }
  }, { cap: ListCaps.contacts, pageSize: CONTACT_LIST_MAX })
}

/** Pages of the actor's conversations (both kinds), most recently active first. */
export function conversationPages (actor: Actor) {
  return async (cursor: string | undefined, limit: number): Promise<Page<ConversationSummary, string>> => {
    const page = await actor.call(Commands.message.listConversations, cursor === undefined ? { limit } : { limit, cursor })
    return { items: page.conversations, next: page.next ?? undefined }
  }
}

/** The actor's conversations, most recently active first, up to ListCaps.conversations. */
export function allConversations (actor: Actor): Promise<ConversationSummary[]> {
  return readAllPages(conversationPages(actor), { cap: ListCaps.conversations, pageSize: CONVERSATION_LIST_MAX })
}

/** Rooms of a scope (`mine`: the actor's; `visible`: public ones and the actor's), newest first, up to ListCaps.rooms. */
export function allRooms (actor: Actor, scope: 'mine' | 'visible'): Promise<Room[]> {
  return readAllPages<Room, number>(async (beforeId, limit) => {
    const page = await actor.call(Commands.message.roomList, beforeId === undefined ? { scope, limit } : { scope, limit, beforeId })
    return { items: page.rooms, next: page.hasMore ? page.rooms.at(-1)?.id : undefined }
  }, { cap: ListCaps.rooms, pageSize: ROOM_LIST_MAX })
}

/** A room's members in joining order, up to ListCaps.members. */
export function allMembers (actor: Actor, roomId: number): Promise<RoomMember[]> {
  return readAllPages<RoomMember, string>(async (after, limit) => {
    const page = await actor.call(Commands.message.roomMembers, after === undefined ? { roomId, limit } : { roomId, limit, after })
    return { items: page.members, next: page.next ?? undefined }
  }, { cap: ListCaps.members, pageSize: ROOM_MEMBERS_MAX })
}

/**
 * Messages of a conversation per page, oldest first, from the start
 * (catch-up by sequence number). Edits and deletions in a page are passed
 * over: each message comes as it is now, deleted ones not at all.
 */
export function historyPages (actor: Actor, conversationId: number) {
  return async (afterSeq: number | undefined, limit: number): Promise<Page<Message, number>> => {
    const r = await actor.call(Commands.message.sync, { cursors: [{ conversationId, afterSeq: afterSeq ?? 0 }], limit })
    const c = r.conversations.find((x) => x.conversationId === conversationId)
    const items = c?.messages ?? []
    // A page may end with changes: the next starts after the last place it holds.
    const last = Math.max(items.at(-1)?.seq ?? 0, c?.changes?.at(-1)?.seq ?? 0)
    return { items, next: c?.hasMore && last > 0 ? last : undefined }
  }
}

/** The actor's unread messages of a conversation per page, oldest first, each page marked read as it is taken. */
export function unreadPages (actor: Actor, conversationId: number) {
  return async (_cursor: true | undefined, limit: number): Promise<Page<Message, true>> => {
    const r = await actor.call(Commands.message.takeUnread, { conversationId, limit })
    return { items: r.messages, next: r.remaining > 0 ? true : undefined }
  }
}

/**
 * A page of history by position, as page-numbered APIs ask for it: `count`
 * messages after skipping the `offset` newest, oldest first. One
 * message.history reply may hold fewer (it stays under the NATS payload
 * limit by dropping a page's oldest messages when they are very long), and
 * a client paging by `count` would then never see those: the rest is asked
 * for until the page is whole or the history ends. Each reply brings at
 * least one message, so this makes at most `count` (≤ HISTORY_MAX_LIMIT)
 * requests and holds one page.
 */
export async function historyAt (
  actor: Actor,
  target: { peerId: number } | { conversationId: number },
  offset: number,
  count: number
): Promise<{ conversationId: number | null, messages: Message[] }> {
  let messages: Message[] = []
  for (;;) {
    const r = await actor.call(Commands.message.history, { ...target, offset: offset + messages.length, limit: count - messages.length })
    // Each reply is older than what we hold.
    messages = [...r.messages, ...messages]
    if (messages.length >= count || !r.hasMore || r.messages.length === 0) return { conversationId: r.conversationId, messages }
  }
}
