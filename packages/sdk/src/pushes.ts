/**
 * Pushes (frames without an `id`) to events. Message pushes go through the
 * timeline, which dedupes and orders them; the rest are passed on as they
 * come. A conversation that ends for this user is no longer followed, since
 * a catch-up naming it would be refused.
 */
import type { TypedEmitter } from './emitter.js'
import type { ChatEvents } from './events.js'
import type { Timeline } from './timeline.js'
import type { Frame, Message } from './wire-types.js'

/** Push types passed on unchanged, by the event they become. */
const PASS_ON = {
  MESSAGE_READ: 'read',
  TYPING: 'typing',
  PRESENCE_CHANGED: 'presence',
  UNREAD_UPDATED: 'unread',
  CONTACTS_CHANGED: 'contactsChanged',
  MESSAGES_CLEARED: 'messagesCleared',
  CONVERSATION_CREATED: 'conversationCreated',
  CONVERSATION_DELETED: 'conversationDeleted',
  ROOM_MEMBERSHIP_CHANGED: 'roomMembership',
  ROOM_MEMBER_JOINED: 'roomMemberJoined',
  ROOM_MEMBER_LEFT: 'roomMemberLeft',
  ROOM_DELETED: 'roomDeleted',
} as const satisfies Record<string, keyof ChatEvents>

/** Routes one push; unknown types are ignored (the API may add pushes). */
export function routePush (frame: Frame, timeline: Timeline, events: TypedEmitter<ChatEvents>): void {
  const p = frame.payload as Record<string, unknown> | undefined
  if (p === undefined || p === null || typeof p !== 'object') return
  switch (frame.type) {
    case 'MESSAGE_RECEIVED_OTHER':
    case 'MESSAGE_SENT':
      timeline.live(p as unknown as Message)
      return
    case 'MESSAGE_EDITED':
      timeline.edited(p as unknown as Message)
      return
    case 'MESSAGE_DELETED':
      timeline.deleted(p.conversationId as number, p.messageId as number)
      return
    case 'CONVERSATION_DELETED':
      timeline.forget(p.conversationId as number)
      break
    case 'ROOM_DELETED':
      timeline.forget(p.roomId as number)
      break
    case 'ROOM_MEMBERSHIP_CHANGED':
      if (p.member === false) timeline.forget(p.roomId as number)
      break
  }
  const event = (PASS_ON as Record<string, keyof ChatEvents | undefined>)[frame.type]
  if (event !== undefined) events.emit(event, p as never)
}
