import type { LiveEvent, Message, MessageChange, Room, RoomMemberEvent, Session } from '@chat/contracts'
import type { Frame } from '../../ws-api.js'
import { sharedFrames } from '../../ws-connection.js'

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
    // Room messages have no receiver; their conversation is the room.
    ...(m.recipientId === undefined ? { roomId: m.conversationId } : {}),
    ...(m.editedAt ? { editedAt: m.editedAt } : {}),
  }
}

/** An edit or deletion as SYNC returns it: its place (`seq`), what happened, to which message, and when. */
export function typedChange (c: MessageChange): Record<string, unknown> {
  return {
    seq: c.seq,
    change: c.kind,
    messageId: c.messageId,
    messageSeq: c.messageSeq,
    senderId: c.senderId,
    ...(c.content === undefined ? {} : { content: c.content }),
    timestamp: c.at,
  }
}

/** A room as the `typed` API shows it (the contract's shape). */
export function typedRoom (r: Room): Record<string, unknown> {
  return { ...r }
}

/**
 * How a new message shows on one socket: to others, to the sender
 * elsewhere, or not at all. What every recipient's socket gets for one message, built once per event:
 * a room message reaches hundreds of sockets of a gateway, and the shared
 * frame is also encoded once (WsConnection.send).
 */
const receivedOther = new WeakMap<Message, Frame[]>()

function newMessageFrames (connectionId: string, userId: number, m: Message, origin: string | undefined): Frame[] {
  if (m.senderId !== userId) {
    let frames = receivedOther.get(m)
    if (frames === undefined) {
      frames = sharedFrames([{ type: 'MESSAGE_RECEIVED_OTHER', payload: typedMessage(m) }])
      receivedOther.set(m, frames)
    }
    return frames
  }
  if (origin === connectionId) return []
  return [{ type: 'MESSAGE_SENT', payload: typedMessage(m) }]
}

/** LOGIN_SUCCESS / REGISTER_SUCCESS payload. */
export function sessionPayload (s: Session): Record<string, unknown> {
  return { userId: s.user.id, username: s.user.username, email: s.user.email, avatar: s.user.avatar, token: s.token }
}

/** A room's join and leave notices, built once per event (see receivedOther). */
const memberNotices = new WeakMap<RoomMemberEvent, Frame[]>()

function memberNotice (userId: number, event: RoomMemberEvent): Frame[] {
  // Members see others come and go, not themselves.
  if (event.userId === userId) return []
  // Every member's sockets get the same frame: built (and encoded) once per gateway.
  let frames = memberNotices.get(event)
  if (frames === undefined) {
    frames = sharedFrames([{
      type: event.kind === 'member.joined' ? 'ROOM_MEMBER_JOINED' : 'ROOM_MEMBER_LEFT',
      payload: { roomId: event.roomId, userId: event.userId, username: event.username, nickname: event.nickname, at: event.at },
    }])
    memberNotices.set(event, frames)
  }
  return frames
}

/** A room's events name the room as well as the conversation. */
function inRoom (event: { roomId?: number }): Record<string, number> {
  return event.roomId === undefined ? {} : { roomId: event.roomId }
}

/**
 * Pushes for one socket. A message reaches the recipient as
 * MESSAGE_RECEIVED_OTHER; the sender's other sockets get MESSAGE_SENT (so
 * every device shows the conversation), the sending socket nothing (it got
 * MESSAGE_RECEIVED_SELF as its answer).
 */
export function renderTypedEvent (connectionId: string, userId: number, event: LiveEvent): Frame[] {
  switch (event.kind) {
    case 'message.new':
      return newMessageFrames(connectionId, userId, event.message, event.originConnectionId)
    case 'unread.changed':
      return [{ type: 'UNREAD_UPDATED', payload: { conversationId: event.conversationId, peerId: event.peerId ?? null, count: event.count } }]
    case 'presence.changed':
      return [{ type: 'PRESENCE_CHANGED', payload: { userId: event.contactId, online: event.online } }]
    case 'messages.cleared':
      if (event.originConnectionId === connectionId) return []
      return [{ type: 'MESSAGES_CLEARED', payload: { userId, targetUserId: event.peerId, conversationId: event.conversationId } }]
    case 'contacts.changed':
      return [{ type: 'CONTACTS_CHANGED', payload: { added: event.added ?? null, removed: event.removed ?? null } }]
    case 'message.edited':
      if (event.originConnectionId === connectionId) return []
      return [{ type: 'MESSAGE_EDITED', payload: typedMessage(event.message) }]
    case 'message.deleted':
      if (event.originConnectionId === connectionId) return []
      return [{ type: 'MESSAGE_DELETED', payload: { messageId: event.messageId, conversationId: event.conversationId, ...inRoom(event) } }]
    case 'conversation.deleted':
      return [{ type: 'CONVERSATION_DELETED', payload: { conversationId: event.conversationId, userId, targetUserId: event.peerId } }]
    case 'message.read':
      return [{ type: 'MESSAGE_READ', payload: { conversationId: event.conversationId, readerId: event.readerId, seq: event.seq, messageId: event.messageId ?? null } }]
    case 'typing':
      // A room's typing notice reaches the typist's sockets too.
      if (event.fromUserId === userId) return []
      return [{ type: 'TYPING', payload: { conversationId: event.conversationId, ...inRoom(event), userId: event.fromUserId, typing: event.typing } }]
    case 'membership.changed':
      return [{ type: 'ROOM_MEMBERSHIP_CHANGED', payload: { roomId: event.roomId, member: event.member } }]
    case 'conversation.created':
      return [{ type: 'CONVERSATION_CREATED', payload: { conversationId: event.conversationId, userId: event.peerId } }]
    case 'member.joined':
    case 'member.left':
      return memberNotice(userId, event)
    case 'room.deleted':
      return [{ type: 'ROOM_DELETED', payload: { roomId: event.roomId } }]
    default:
      return []
  }
}
