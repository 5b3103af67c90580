import type { RoomEvent, UnreadChangedEvent, UserEvent } from '@chat/contracts'

/**
 * The unread change a direct message's event carries for its addressee
 * (MessageNewEvent.unread), as the unread.changed the adapters render.
 */
export function unreadCarriedBy (event: UserEvent): UnreadChangedEvent | undefined {
  if (event.kind !== 'message.new' || event.unread === undefined) return undefined
  return {
    kind: 'unread.changed',
    userId: event.userId,
    conversationId: event.message.conversationId,
    peerId: event.message.senderId,
    count: event.unread,
  }
}

/** The unread change a room message's event carries for one member (RoomMessageNewEvent.unread). */
export function roomUnreadCarriedBy (event: RoomEvent, userId: number): UnreadChangedEvent | undefined {
  if (event.kind !== 'message.new' || event.unread === undefined) return undefined
  const count = event.unread[String(userId)]
  if (count === undefined) return undefined
  return { kind: 'unread.changed', userId, conversationId: event.roomId, count }
}
