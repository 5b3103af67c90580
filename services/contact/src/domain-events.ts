/**
 * The contact service's domain events (contracts/domain-events.ts), built
 * from the contact edges it adds and removes, and what confirms them after
 * a crash: the outbox (runtime outbox.ts) asks this module what a change
 * it recorded but never saw finish left in MongoDB.
 */
import { DOMAIN_EVENT_VERSION, type DomainEvent, type DomainEventOf } from '@chat/contracts'
import { findWhereIn } from '@chat/runtime'
import type { Collection } from 'mongodb'
import { contactDocId, type ContactDoc } from './store.js'

// A pair may be added and removed again and again: an edge is named by its
// pair and the time it was added (`createdAt`, stored with it), so each
// addition and each removal has its own id, and two removals of one edge
// (racing requests) share theirs.

const edgeKey = (edge: Pick<ContactDoc, 'userId' | 'contactId' | 'createdAt'>) => `${edge.userId}:${edge.contactId}:${edge.createdAt.getTime()}`

export function contactAdded (edge: ContactDoc): DomainEventOf<'contact.added'> {
  return {
    id: `contact.added:${edgeKey(edge)}`,
    type: 'contact.added',
    version: DOMAIN_EVENT_VERSION,
    time: edge.createdAt.toISOString(),
    data: { userId: edge.userId, contactId: edge.contactId, addedAt: edge.createdAt.toISOString() },
  }
}

/** The removal, at `at`, of the edge as it was stored. */
export function contactRemoved (edge: ContactDoc, at: Date): DomainEventOf<'contact.removed'> {
  return {
    id: `contact.removed:${edgeKey(edge)}`,
    type: 'contact.removed',
    version: DOMAIN_EVENT_VERSION,
    time: at.toISOString(),
    data: { userId: edge.userId, contactId: edge.contactId, addedAt: edge.createdAt.toISOString() },
  }
}

/**
 * What each recorded event's change left: an addition happened if its
 * edge (pair and time) is stored; a removal, if that edge is gone (absent,
 * or the pair added again since). Null where the change did not happen. An
 * edge added and removed again before a takeover leaves only its removal.
 */
export async function confirmContactEvents (contacts: Collection<ContactDoc>, events: DomainEvent[]): Promise<Array<DomainEvent | null>> {
  const pairs = events.flatMap((e) => e.type === 'contact.added' || e.type === 'contact.removed' ? [contactDocId(e.data.userId, e.data.contactId)] : [])
  const docs = await findWhereIn(contacts, '_id', pairs)
  const stored = new Map(docs.map((d) => [d._id, d.createdAt.getTime()]))
  return events.map((event) => {
    if (event.type !== 'contact.added' && event.type !== 'contact.removed') return null
    const there = stored.get(contactDocId(event.data.userId, event.data.contactId)) === Date.parse(event.data.addedAt)
    return (event.type === 'contact.added') === there ? event : null
  })
}
