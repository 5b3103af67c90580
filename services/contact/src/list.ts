import { CONTACT_LIST_MAX, type Contact, type ListContactsReply, type ListContactsRequest, type PublicUser, ChatError } from '@chat/contracts'
import { jsonBytes } from '@chat/runtime'
import type { ContactDoc } from './store.js'
import { toContact } from './targets.js'

/** Profiles are fetched this many at a time, so a page never holds more avatars in memory than it can send. */
const PROFILE_BATCH = 100

/** What a page of contacts needs from the rest of the service. */
export interface ContactListPorts {
  /** Every edge of the user. */
  edges: (userId: number) => Promise<ContactDoc[]>
  profiles: (ids: number[]) => Promise<Map<number, PublicUser>>
  /** Whether each contact shows as online to this user (presence, unless they blocked them). */
  shownOnline: (userId: number, contactIds: number[]) => Promise<boolean[]>
}

/** The `next` cursor of a contact page: `<createdAt ms>.<contactId>` of its last edge. */
export function contactCursor (doc: ContactDoc): string {
  return `${doc.createdAt.getTime()}.${doc.contactId}`
}

/** Where a cursor points in the list; CHAT_BAD_REQUEST when it isn't one. */
function startAfter (docs: readonly ContactDoc[], cursor: string | undefined): number {
  if (cursor === undefined) return 0
  const match = /^(\d{1,15})\.(\d{1,16})$/.exec(cursor)
  if (!match) throw new ChatError('CHAT_BAD_REQUEST', 'after: not a cursor from a previous page')
  const at = Number(match[1])
  const contactId = Number(match[2])
  // The first edge past the cursor's place in (createdAt, contactId) order;
  // an edge removed meanwhile doesn't lose the place.
  const index = docs.findIndex((d) => d.createdAt.getTime() > at || (d.createdAt.getTime() === at && d.contactId > contactId))
  return index === -1 ? docs.length : index
}

/**
 * One page of a user's contacts: up to `limit`, and no more than fit in
 * `budget` bytes, profiles joined in batches.
 */
export async function listContacts (ports: ContactListPorts, req: ListContactsRequest, budget: number): Promise<ListContactsReply> {
  // The cursor's order: when added, then the contact's id (edges added in one millisecond).
  const docs = (await ports.edges(req.actorId))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.contactId - b.contactId)
  const from = startAfter(docs, req.after)
  const window = docs.slice(from, from + (req.limit ?? CONTACT_LIST_MAX))
  const contacts: Contact[] = []
  let used = 0
  let last: ContactDoc | undefined
  for (let i = 0; i < window.length; i += PROFILE_BATCH) {
    const batch = window.slice(i, i + PROFILE_BATCH)
    const ids = batch.map((d) => d.contactId)
    const [users, online] = await Promise.all([ports.profiles(ids), ports.shownOnline(req.actorId, ids)])
    for (const [k, doc] of batch.entries()) {
      const user = users.get(doc.contactId)
      if (user) {
        const contact = toContact(doc, user, online[k] ?? false)
        const size = jsonBytes(contact)
        // Always one contact, so paging makes progress; then only what fits.
        if (contacts.length > 0 && used + size > budget) return { contacts, next: last ? contactCursor(last) : null }
        contacts.push(contact)
        used += size
      }
      // A contact whose account is gone is passed over: the cursor moves past it too.
      last = doc
    }
  }
  const more = from + window.length < docs.length
  return { contacts, next: more && last ? contactCursor(last) : null }
}
