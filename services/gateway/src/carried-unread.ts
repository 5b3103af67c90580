import type { LiveEvent, UnreadChangedEvent } from '@chat/contracts'

/**
 * The unread change a new message's event carries for one of its
 * recipients (MessageNewEvent.unread), as the unread.changed the adapters
 * render; undefined when it carries none for them (the sender, or a count
 * being rebuilt).
 */
export function unreadCarriedBy (event: LiveEvent, userId: number): UnreadChangedEvent | undefined {
  if (event.kind !== 'message.new' || event.unread === undefined) return undefined
  const count = event.unread[String(userId)]
  if (count === undefined) return undefined
  const { conversationId, senderId, recipientId } = event.message
  const unread: UnreadChangedEvent = { kind: 'unread.changed', userId, conversationId, count }
  // In a direct conversation the count is the one with the sender.
  if (recipientId !== undefined) unread.peerId = senderId
  return unread
}
