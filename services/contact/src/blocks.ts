import type { Collection, Db } from 'mongodb'
import { isDuplicateKeyError } from '@chat/runtime'
import type { Watch } from './store.js'

/**
 * One directed block: `blockerId` has blocked `blockedId`. As with contacts,
 * the `_id` is derived from the pair, so the primary key settles concurrent
 * blocks of the same user (one insert wins, the other is a duplicate, which
 * is success: blocking is idempotent) and answers "is X blocked by Y" with a
 * single primary-key lookup. Unblocking is a delete, equally idempotent.
 * Neither needs a transaction or an atomic update of an existing document.
 */
export interface BlockDoc {
  _id: string
  blockerId: number
  blockedId: number
  createdAt: Date
}

/** The `_id` of the block blockerId → blockedId. */
export function blockDocId (blockerId: number, blockedId: number): string {
  return `${blockerId}:${blockedId}`
}

/** A block as the fan-out filter needs it. */
export interface BlockPair {
  blockerId: number
  blockedId: number
}

/**
 * The watches whose watcher may see the watched user's presence: drops every
 * watch (`userId` watches `contactId`) where `contactId` has blocked
 * `userId`. Pure, so the fan-out's rule is tested without a database.
 */
export function visibleWatches (watches: readonly Watch[], blocks: readonly BlockPair[]): Watch[] {
  if (blocks.length === 0) return [...watches]
  const hidden = new Set(blocks.map((b) => blockDocId(b.blockerId, b.blockedId)))
  return watches.filter((w) => !hidden.has(blockDocId(w.contactId, w.userId)))
}

/**
 * Who is told about a batch of presence changes: the users' watchers, minus
 * those each user has blocked. Exactly two queries for the whole batch, run
 * in parallel (never one per watcher): the watchers, and the blocks the
 * changed users made.
 */
export async function presenceAudience (
  contacts: { watchersOf(contactIds: readonly number[]): Promise<Watch[]> },
  blocks: { blocksBy(blockerIds: readonly number[]): Promise<BlockPair[]> },
  userIds: readonly number[]
): Promise<Watch[]> {
  if (userIds.length === 0) return []
  const [watches, blocked] = await Promise.all([contacts.watchersOf(userIds), blocks.blocksBy(userIds)])
  return visibleWatches(watches, blocked)
}

/** The contact service's `blocks` collection. */
export class BlockStore {
  readonly blocks: Collection<BlockDoc>

  constructor (db: Db) {
    this.blocks = db.collection<BlockDoc>('blocks')
  }

  async init (): Promise<void> {
    // "Who blocked X": contact.list hides the presence of contacts who blocked the lister.
    await this.blocks.createIndex({ blockedId: 1 }, { name: 'blocked' })
    // A blocker's list in block order, and the blocks of a batch of users whose presence changed.
    await this.blocks.createIndex({ blockerId: 1, createdAt: 1 }, { name: 'blocker_added' })
  }

  /** Records a block; true when it is new, false when it already existed. */
  async block (blockerId: number, blockedId: number, now = new Date()): Promise<boolean> {
    try {
      await this.blocks.insertOne({ _id: blockDocId(blockerId, blockedId), blockerId, blockedId, createdAt: now })
      return true
    } catch (err) {
      if (isDuplicateKeyError(err)) return false
      throw err
    }
  }

  /** Removes a block; true when there was one. */
  async unblock (blockerId: number, blockedId: number): Promise<boolean> {
    const result = await this.blocks.deleteOne({ _id: blockDocId(blockerId, blockedId) })
    return result.deletedCount === 1
  }

  /** Whether blockerId has blocked blockedId: one primary-key lookup. */
  async isBlocked (blockerId: number, blockedId: number): Promise<boolean> {
    if (blockerId === blockedId) return false
    const doc = await this.blocks.findOne({ _id: blockDocId(blockerId, blockedId) }, { projection: { _id: 1 } })
    return doc !== null
  }

  /** The users blockerId has blocked, oldest block first (ties broken by id, so the order is stable). */
  async listBlocked (blockerId: number): Promise<number[]> {
    const docs = await this.blocks
      .find({ blockerId }, { projection: { _id: 1, blockedId: 1, createdAt: 1 } })
      .sort({ createdAt: 1, _id: 1 })
      .toArray()
    return docs.map((d) => d.blockedId)
  }

  /** Which of `candidates` have blocked `blockedId` (contact.list: one query for the whole list). */
  async blockersAmong (blockedId: number, candidates: readonly number[]): Promise<Set<number>> {
    if (candidates.length === 0) return new Set()
    const docs = await this.blocks
      .find({ blockedId, blockerId: { $in: [...new Set(candidates)] } }, { projection: { _id: 0, blockerId: 1 } })
      .toArray()
    return new Set(docs.map((d) => d.blockerId))
  }

  /**
   * Every block made by any of `blockerIds`: one query for a whole batch of
   * presence changes, bounded by how many users those users blocked (few),
   * not by how many watch them (many).
   */
  async blocksBy (blockerIds: readonly number[]): Promise<BlockPair[]> {
    if (blockerIds.length === 0) return []
    const docs = await this.blocks
      .find({ blockerId: { $in: [...new Set(blockerIds)] } }, { projection: { _id: 0, blockerId: 1, blockedId: 1 } })
      .toArray()
    return docs.map((d) => ({ blockerId: d.blockerId, blockedId: d.blockedId }))
  }
}
