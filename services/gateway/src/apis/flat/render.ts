import type { ConversationSummary, LiveEvent, Message } from '@chat/contracts'
import type { Frame } from '../../ws-api.js'
import { msgTypeOf } from './schemas.js'

/**
 * What an event becomes on one socket: frames ready now, or frames that
 * need some users' usernames first (the document names users by username,
 * events carry ids).
 */
export type FlatRendered =
  | Frame[]
  | { userIds: number[], build: (names: ReadonlyMap<number, string>) => Frame[] }

/** Who the socket is, for deciding what it is shown. */
export interface FlatViewer {
  /** The socket's id, to recognise the requests it made itself. */
  connectionId: string
  userId: number
  /**
   * Whether this socket itself asked to delete this conversation: its
   * answer is the DELETE_ROOM frame, so the push would be a second copy.
   * Consumes the mark.
   */
  ownDeletion: (conversationId: number) => boolean
}

/** A message as the document's READ_MSG response shows it. */
export function flatMessage (m: Message, sender: string): Frame {
  return {
    type: 'READ_MSG',
    status: 'OK',
    room_id: m.conversationId,
    message_id: m.id,
    msg_type: msgTypeOf(m.kind),
    message: m.content,
    date: m.createdAt,
    sender,
  }
}

/** READ_MSG frames for messages, oldest first, with their senders' usernames. */
export function flatMessages (messages: Message[], names: ReadonlyMap<number, string>): Frame[] {
  return messages.map((m) => flatMessage(m, names.get(m.senderId) ?? ''))
}

/** The answer to READ_MSG when there is nothing to send. */
export function emptyRead (roomId: number): Frame {
  return { type: 'READ_MSG', status: 'EMPTY', room_id: roomId }
}

/** OLD_DIALOGS: the conversations as three aligned arrays, in the given order. */
export function flatDialogs (conversations: Array<Pick<ConversationSummary, 'name' | 'conversationId' | 'firstMessageId'>>): Frame {
  return {
    type: 'OLD_DIALOGS',
    dialogs: conversations.map((c) => c.name),
    id: conversations.map((c) => c.conversationId),
    first_massage_id: conversations.map((c) => c.firstMessageId ?? null),
  }
}

/** A new message: the other members see it live; the sender's own sockets never do. */
function newMessage (viewer: FlatViewer, m: Message): FlatRendered {
  if (m.senderId === viewer.userId) return []
  return { userIds: [m.senderId], build: (names) => [flatMessage(m, names.get(m.senderId) ?? '')] }
}

/** An edit: the editing socket got this frame as its answer; everyone else gets it now. */
function edited (viewer: FlatViewer, m: Message, origin: string | undefined): FlatRendered {
  if (origin === viewer.connectionId) return []
  return [{ type: 'EDIT_MSG', id: m.id, new_msg: m.content }]
}

function deleted (viewer: FlatViewer, messageId: number, origin: string | undefined): FlatRendered {
  if (origin === viewer.connectionId) return []
  return [{ type: 'DELETE_MSG', id: messageId }]
}

function conversationGone (viewer: FlatViewer, conversationId: number): FlatRendered {
  if (viewer.ownDeletion(conversationId)) return []
  return [{ type: 'DELETE_ROOM', id: conversationId }]
}

/** Pushes for an event of the socket's user or of one of their rooms. */
export function renderFlatEvent (viewer: FlatViewer, event: LiveEvent): FlatRendered {
  switch (event.kind) {
    case 'message.new':
      return newMessage(viewer, event.message)
    case 'message.edited':
      return edited(viewer, event.message, event.originConnectionId)
    case 'message.deleted':
      return deleted(viewer, event.messageId, event.originConnectionId)
    case 'conversation.deleted':
      return conversationGone(viewer, event.conversationId)
    case 'room.deleted':
      return conversationGone(viewer, event.roomId)
    case 'conversation.created':
      // The customer learns of the room; `customer` names the other side, the creator.
      return {
        userIds: [event.peerId],
        build: (names) => [{ type: 'CREATE_ROOM', id: event.conversationId, customer: names.get(event.peerId) ?? '' }],
      }
    default:
      return []
  }
}
