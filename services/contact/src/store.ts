import type { Collection, Db } from 'mongodb'
import { ChatError } from '@chat/contracts'
import { isDuplicateKeyError } from '@chat/runtime'

/**
 * One directed contact edge: `userId` has `contactId` in their list. The
 * `_id` is derived from the pair, so the primary key itself settles two
 * concurrent adds of the same contact (one insert wins, the other gets a
 * duplicate-key error) without a separate unique index.
 */
export interface ContactDoc {
  _id: string
  userId: number
  contactId: number
  createdAt: Date
}

/** The `_id` of the edge userId → contactId. */
export function contactDocId (userId: number, contactId: number): string {
  return `${userId}:${contactId}`
}

/** A watcher relation: `userId` has `contactId` as a contact, so is told of its presence. */
export interface Watch {
  userId: number
  contactId: number
}

/** The contact service's MongoDB collection. */
export class ContactStore {
  readonly contacts: Collection<ContactDoc>

  constructor (db: Db) {
    this.contacts = db.collection<ContactDoc>('contacts')
  }

  async init (): Promise<void> {
    // userId + createdAt serves the list query and its order in one index.
    await this.contacts.createIndex({ userId: 1, createdAt: 1 }, { name: 'user_added' })
    // The reverse lookup: who has X as a contact (X's presence watchers).
    await this.contacts.createIndex({ contactId: 1 }, { name: 'contact_watchers' })
  }

  /** A user's contacts in the order they were added (ties broken by id, so the order is stable). */
  list (userId: number): Promise<ContactDoc[]> {
    return this.contacts.find({ userId }).sort({ createdAt: 1, _id: 1 }).toArray()
  }

  /** Adds an edge; CHAT_CONTACT_EXISTS when it is already there. */
  async add (userId: number, contactId: number, now = new Date()): Promise<ContactDoc> {
    const doc: ContactDoc = { _id: contactDocId(userId, contactId), userId, contactId, createdAt: now }
    try {
      await this.contacts.insertOne(doc)
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ChatError('CHAT_CONTACT_EXISTS', 'Already a contact', { cause: err })
      throw err
    }
    return doc
  }

  /** The edge userId → contactId, if there is one: one primary-key lookup. */
  get (userId: number, contactId: number): Promise<ContactDoc | null> {
    return this.contacts.findOne({ _id: contactDocId(userId, contactId) })
  }

  /** Removes this edge (read by `get`); false when it is gone already, or was removed and added again meanwhile. */
  async remove (edge: Pick<ContactDoc, '_id' | 'createdAt'>): Promise<boolean> {
    const result = await this.contacts.deleteOne({ _id: edge._id, createdAt: edge.createdAt })
    return result.deletedCount === 1
  }

  /** Whether `userId` has `contactId` as a contact: one primary-key lookup. */
  async has (userId: number, contactId: number): Promise<boolean> {
    return await this.contacts.findOne({ _id: contactDocId(userId, contactId) }, { projection: { _id: 1 } }) !== null
  }

  /** Everyone who has any of `contactIds` as a contact: one query for a whole batch of presence changes. */
  async watchersOf (contactIds: readonly number[]): Promise<Watch[]> {
    if (contactIds.length === 0) return []
    const docs = await this.contacts
      .find({ contactId: { $in: [...contactIds] } }, { projection: { _id: 0, userId: 1, contactId: 1 } })
      .toArray()
    return docs.map((d) => ({ userId: d.userId, contactId: d.contactId }))
  }
}
