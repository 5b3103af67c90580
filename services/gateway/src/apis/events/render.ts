import type { ChatError, Contact, LiveEvent, Message } from '@chat/contracts'
import type { Frame } from '../../ws-api.js'

/**
 * Frames of the `events` API: `{event, data}` both ways. Answers are only
 * OK and FAIL; pushes are only NOTIFY_*. Ids go out as decimal strings.
 */

export function ok (data: Record<string, unknown> = {}): Frame {
  return { event: 'OK', data }
}

/** What a failure says. The document shows "Already exists" for a taken name and a duplicate contact. */
export function failMessage (err: ChatError): string {
  switch (err.code) {
    case 'CHAT_USERNAME_TAKEN':
    case 'CHAT_CONTACT_EXISTS':
      return 'Already exists'
    default:
      return err.message
  }
}

export function fail (err: ChatError): Frame {
  return { event: 'FAIL', data: { msg: failMessage(err) } }
}

/** NOTIFY_NEW_MSG's `msg`: from_email is the sender's username. */
export function newMessage (m: Message, senderName: string): Frame {
  return { event: 'NOTIFY_NEW_MSG', data: { msg: { id: String(m.id), content: m.content, time: m.createdAt, from_email: senderName } } }
}

/** One CHAT_HISTORY item: `user` is the sender's username. */
export function historyItem (m: Message, names: ReadonlyMap<number, string>): Record<string, unknown> {
  return { content: m.content, time: m.createdAt, user: names.get(m.senderId) ?? '', id: String(m.id) }
}

/**
 * The contact list with each contact's unread count in the direct
 * conversation with them (0 when none), in the order contacts were added.
 */
export function contactsUnread (
  contacts: ReadonlyArray<Pick<Contact, 'userId' | 'username'>>,
  unread: ReadonlyArray<{ peerId?: number, count: number }>
): Record<string, number> {
  const byPeer = new Map<number, number>()
  for (const c of unread) if (c.peerId !== undefined) byPeer.set(c.peerId, c.count)
  const out: Record<string, number> = {}
  for (const c of contacts) out[c.username] = byPeer.get(c.userId) ?? 0
  return out
}

export function updateContact (contacts: Record<string, number>): Frame {
  return { event: 'NOTIFY_UPDATE_CONTACT', data: { contacts } }
}

export function updateUnread (username: string, count: number): Frame {
  return { event: 'NOTIFY_UPDATE_UNREAD', data: { unread_msg_count: { [username]: count } } }
}

/** What one user event means for an `events` socket; the adapter does the lookups it needs. */
export type EventsPush =
  | { kind: 'new-message', message: Message, senderId: number }
  | { kind: 'unread', peerId: number, count: number }
  | { kind: 'contacts' }

/**
 * Which events an `events` socket shows. Only direct conversations exist in
 * this API: room events and the typed API's extensions (presence, typing,
 * receipts, edits, deletions) have no frame here. The sender's own messages
 * (from this socket or any other) are not pushed back: the document has no
 * frame for them.
 */
export function pushFor (userId: number, event: LiveEvent): EventsPush | undefined {
  switch (event.kind) {
    case 'message.new': {
      const m = event.message
      if (m.recipientId === undefined || m.senderId === userId) return undefined
      return { kind: 'new-message', message: m, senderId: m.senderId }
    }
    case 'unread.changed':
      if (event.peerId === undefined) return undefined
      return { kind: 'unread', peerId: event.peerId, count: event.count }
    case 'contacts.changed':
      return { kind: 'contacts' }
    default:
      return undefined
  }
}
