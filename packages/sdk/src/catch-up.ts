/**
 * The catch-up after a (re)login: SYNC from every followed conversation's
 * position, apply each answer through the timeline (messages and changes
 * together, in `seq` order), and ask again from the new positions while
 * the server says `hasMore`; then find conversations started while away.
 */
import { ChatSdkError } from './errors.js'
import type { Position, Timeline } from './timeline.js'
import type { Frame, Message, SyncConversation, UnreadCount } from './wire-types.js'

/** At most this many cursors per SYNC (the server's limit). */
export const SYNC_MAX_CURSORS = 500

/** Codes SYNC fails with when a conversation named is no longer this user's. */
const GONE = new Set(['CHAT_NOT_MEMBER', 'CHAT_CONVERSATION_NOT_FOUND'])

export type Sync = (cursors: Position[]) => Promise<SyncConversation[]>

/**
 * Runs one catch-up; resolves with the number of conversation answers
 * applied, or null when `current()` turned false (a newer login took over).
 */
export async function catchUp (timeline: Timeline, sync: Sync, current: () => boolean): Promise<number | null> {
  let todo = timeline.positions()
  let answers = 0
  while (todo.length > 0) {
    const more = new Set<number>()
    for (let i = 0; i < todo.length; i += SYNC_MAX_CURSORS) {
      const result = await syncSome(timeline, sync, todo.slice(i, i + SYNC_MAX_CURSORS))
      if (!current()) return null
      timeline.applySync(result)
      for (const c of result) {
        answers++
        if (c.hasMore) more.add(c.conversationId)
      }
    }
    // The positions moved past what was applied: go on from there.
    todo = timeline.positions().filter((p) => more.has(p.conversationId))
  }
  return current() ? answers : null
}

/**
 * One SYNC. A conversation this user no longer belongs to fails the whole
 * request; then each is asked alone and the refused ones are no longer
 * followed.
 */
async function syncSome (timeline: Timeline, sync: Sync, cursors: Position[]): Promise<SyncConversation[]> {
  try {
    return await sync(cursors)
  } catch (err) {
    if (!(err instanceof ChatSdkError) || !GONE.has(err.code) || cursors.length === 1) {
      if (err instanceof ChatSdkError && GONE.has(err.code)) {
        timeline.forget((cursors[0] as Position).conversationId)
        return []
      }
      throw err
    }
  }
  const out: SyncConversation[] = []
  for (const c of cursors) {
    try {
      out.push(...await sync([c]))
    } catch (err) {
      if (!(err instanceof ChatSdkError) || !GONE.has(err.code)) throw err
      timeline.forget(c.conversationId)
    }
  }
  return out
}

/**
 * Follows the conversations with unread messages that are not followed yet
 * (started while away, or never seen): their newest unread messages (up to
 * 100) are applied as caught up, and they are followed from there. Resolves
 * with how many were found.
 */
export async function discoverUnread (timeline: Timeline, send: (type: string, payload: unknown) => Promise<Frame>, userId: number, current: () => boolean): Promise<number> {
  const unread = (await send('LOAD_UNREAD', {})).payload as { conversations: UnreadCount[] }
  let found = 0
  for (const u of unread.conversations) {
    if (!current()) return found
    if (timeline.follows(u.conversationId) || u.count <= 0) continue
    const limit = Math.min(100, u.count)
    const frame = u.peerId === null
      ? await send('LOAD_ROOM_MESSAGES', { roomId: u.conversationId, limit })
      : await send('LOAD_MESSAGES', { userId, targetId: u.peerId, limit })
    const messages = frame.payload as Message[]
    timeline.follow(u.conversationId, (messages[0]?.seq ?? 1) - 1)
    timeline.applySync([{ conversationId: u.conversationId, hasMore: false, messages, changes: [] }])
    found++
  }
  return found
}
