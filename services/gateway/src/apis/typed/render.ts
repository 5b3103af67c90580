import type { Message, Session, UserEvent } from '@chat/contracts'
import type { Frame } from '../../ws-api.js'

/** A stored message as document 003 shows it, plus `conversationId`, `seq` and `editedAt`. */
export function typedMessage (m: Message): Record<string, unknown> {
  return {
    id: m.id,
    senderId: m.senderId,
    receiverId: m.recipientId ?? null,
    content: m.content,
    timestamp: m.createdAt,
    status: 'sent',
    type: m.kind,
    conversationId: m.conversationId,
    seq: m.seq,
    ...(m.editedAt ? { editedAt: m.editedAt } : {}),
  }
}

/** LOGIN_SUCCESS / REGISTER_SUCCESS payload. */
export function sessionPayload (s: Session): Record<string, unknown> {
  return { userId: s.user.id, username: s.user.username, email: s.user.email, avatar: s.user.avatar, token: s.token }
}

/**
 * Pushes for one socket. A message reaches the recipient as
 * MESSAGE_RECEIVED_OTHER; the sender's other sockets get MESSAGE_SENT (so
 * every device shows the conversation), the sending socket nothing (it got
 * MESSAGE_RECEIVED_SELF as its answer).
 */
export function renderTypedEvent (connectionId: string, userId: number, event: UserEvent): Frame[] {
  switch (event.kind) {
    case 'message.new': {
      const m = event.message
      if (m.senderId !== userId) return [{ type: 'MESSAGE_RECEIVED_OTHER', payload: typedMessage(m) }]
      if (event.originConnectionId === connectionId) return []
      return [{ type: 'MESSAGE_SENT', payload: typedMessage(m) }]
    }
    case 'unread.changed':
      return [{ type: 'UNREAD_UPDATED', payload: { conversationId: event.conversationId, peerId: event.peerId ?? null, count: event.count } }]
    case 'presence.changed':
      return [{ type: 'PRESENCE_CHANGED', payload: { userId: event.contactId, online: event.online } }]
    case 'messages.cleared':
      if (event.originConnectionId === connectionId) return []
      return [{ type: 'MESSAGES_CLEARED', payload: { userId, targetUserId: event.peerId, conversationId: event.conversationId } }]
    case 'contacts.changed':
      return [{ type: 'CONTACTS_CHANGED', payload: { added: event.added ?? null, removed: event.removed ?? null } }]
    default:
      return []
  }
}
