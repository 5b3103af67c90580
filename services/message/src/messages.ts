import { MongoBulkWriteError, type Collection, type Db, type Filter } from 'mongodb'
import { ChatError, type DomainEvent } from '@chat/contracts'
import { idTime, isDuplicateKeyError, type Outbox, type PendingChange } from '@chat/runtime'
import { DRAFT_MAX_AGE_MS, messageCreated, messageDeleted, messageEdited } from './domain-events.js'
import { ChangeStore } from './changes.js'
import type { MessageDoc } from './message-doc.js'
import type { SeqRange } from './paging.js'

export { toMessage, type MessageDoc } from './message-doc.js'

/**
 * A MongoBulkWriteError from insertMany, as its callers read it: these
 * documents (writeErrors) were refused, the others stored. The driver also
 * wraps an error that refused no document in particular (the server
 * unreachable, a connection closed mid-write, a write concern error) in a
 * MongoBulkWriteError, without writeErrors: read that way, every document
 * would count as stored, and a send would be acknowledged that MongoDB never
 * stored (found by the fault suite, MongoDB restarted under load). Such an
 * error becomes CHAT_UNAVAILABLE: nothing is known to be stored, and a retry
 * with the same client id finds whatever was.
 */
export function asBatchRefusal (err: unknown): unknown {
  if (!(err instanceof MongoBulkWriteError)) return err
  const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]
  if (writeErrors.length > 0 && writeErrors.every((we) => we != null) && err.result?.getWriteConcernError() === undefined) return err
  return new ChatError('CHAT_UNAVAILABLE', 'the messages could not be stored; try again', { cause: err })
}

/** Unread counts asked of the database at once while rebuilding one user's counts. */
const COUNTS_AT_ONCE = 8

/**
 * Messages, numbered per conversation. Every creation, edit and deletion
 * goes through here and through the outbox (when given), so its domain
 * event is published once it is stored, even if this replica dies first
 * (runtime outbox.ts): creations are tracked, edits and deletions recorded
 * before they are made.
 */
export class MessageStore {
  readonly messages: Collection<MessageDoc>
  /** Their edits and deletions, for catch-up (changes.ts). */
  readonly changes: ChangeStore

  constructor (db: Db, private readonly outbox?: Outbox) {
    this.messages = db.collection<MessageDoc>('messages')
    this.changes = new ChangeStore(db)
  }

  async init (): Promise<void> {
    await Promise.all([
      this.changes.init(),
      // Serves every history, sync and unread query, and forbids two messages
      // with one seq.
      this.messages.createIndex({ conversationId: 1, seq: 1 }, { unique: true, name: 'conversation_seq_unique' }),
      this.messages.createIndex({ dedupeKey: 1 }, { unique: true, name: 'dedupe_key_unique' }),
    ])
  }

  /** Inserts a message; a duplicate-key error means a retry of the same send won. */
  async insert (doc: MessageDoc): Promise<void> {
    await this.create([doc], () => this.messages.insertOne(doc))
  }

  /**
   * Inserts many messages in one round trip (group commit). Unordered: a
   * document refused by a unique index fails alone, reported in the
   * MongoBulkWriteError's writeErrors by its index.
   */
  async insertMany (docs: MessageDoc[]): Promise<void> {
    await this.create(docs, async () => {
      try {
        await this.messages.insertMany(docs, { ordered: false })
      } catch (err) {
        throw asBatchRefusal(err)
      }
    })
  }

  /**
   * Stores new messages with their creation tracked by the outbox: the
   * documents name this replica as their writer and are their own outbox
   * entry (runtime Outbox.track), so a send costs no extra write. A draft
   * older than DRAFT_MAX_AGE_MS is refused: a replica that died is
   * recovered from a little before its last mark, and only that far.
   */
  private async create (docs: MessageDoc[], write: () => Promise<unknown>): Promise<void> {
    if (!this.outbox) {
      await write()
      return
    }
    if (docs.some((d) => idTime(d._id) < Date.now() - DRAFT_MAX_AGE_MS)) {
      throw new ChatError('CHAT_TIMEOUT', 'the message waited too long to be stored; send it again')
    }
    for (const doc of docs) doc.writer = this.outbox.replica
    const change = this.outbox.track(docs.map(messageCreated))
    try {
      await write()
    } catch (err) {
      this.settleFailedCreate(change, docs, err)
      throw err
    }
    this.outbox.stored(change)
  }

  /** After a failed insert: documents a unique index refused were not stored; any other failure leaves it open. */
  private settleFailedCreate (change: PendingChange, docs: MessageDoc[], err: unknown): void {
    const outbox = this.outbox as Outbox
    if (isDuplicateKeyError(err) && docs.length === 1) return outbox.failed(change)
    if (!(err instanceof MongoBulkWriteError)) return outbox.unsure(change)
    const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]
    if (!writeErrors.every((we) => isDuplicateKeyError(we))) return outbox.unsure(change)
    const refused = new Set(writeErrors.map((we) => we.index))
    outbox.stored(change, change.events.filter((_, k) => !refused.has(k)))
  }

  /**
   * Makes one change with its events recorded first: published when
   * `happened` says the change took, dropped when it did not or a unique
   * index refused it, confirmed from the database when its outcome is unknown.
   */
  private async change<R> (events: DomainEvent[], write: () => Promise<R>, happened: (result: R) => boolean): Promise<R> {
    if (!this.outbox) return await write()
    const entry = await this.outbox.record(events)
    let result: R
    try {
      result = await write()
    } catch (err) {
      if (isDuplicateKeyError(err)) this.outbox.failed(entry)
      else this.outbox.unsure(entry)
      throw err
    }
    if (happened(result)) this.outbox.stored(entry)
    else this.outbox.failed(entry)
    return result
  }

  byId (id: number): Promise<MessageDoc | null> {
    return this.messages.findOne({ _id: id })
  }

  byDedupeKey (key: string): Promise<MessageDoc | null> {
    return this.messages.findOne({ dedupeKey: key })
  }

  private rangeFilter (conversationId: number, range: SeqRange): Filter<MessageDoc> {
    const seq: { $gt: number, $lt?: number } = { $gt: range.afterSeq }
    if (range.beforeSeq !== undefined) seq.$lt = range.beforeSeq
    return { conversationId, seq }
  }

  /** Up to `range.fetch` messages of the range, newest first (history). */
  newestFirst (conversationId: number, range: SeqRange): Promise<MessageDoc[]> {
    const cursor = this.messages.find(this.rangeFilter(conversationId, range)).sort({ seq: -1 })
    if (range.skip !== undefined && range.skip > 0) cursor.skip(range.skip)
    return cursor.limit(range.fetch).toArray()
  }

  /** Up to `range.fetch` messages of the range, oldest first (sync). */
  oldestFirst (conversationId: number, range: SeqRange): Promise<MessageDoc[]> {
    return this.messages.find(this.rangeFilter(conversationId, range)).sort({ seq: 1 }).limit(range.fetch).toArray()
  }

  /** The highest stored seq of a conversation (0 when it has no messages). */
  async latestSeq (conversationId: number): Promise<number> {
    const top = await this.messages.find({ conversationId }, { projection: { seq: 1 } }).sort({ seq: -1 }).limit(1).toArray()
    return top[0]?.seq ?? 0
  }

  /** The oldest stored message of a conversation, or null. */
  async oldest (conversationId: number): Promise<MessageDoc | null> {
    const top = await this.messages.find({ conversationId }).sort({ seq: 1 }).limit(1).toArray()
    return top[0] ?? null
  }

  /**
   * The oldest message after each given seq, for several conversations
   * (conversation lists: the first message a member who cleared still
   * sees): one seek of the {conversationId, seq} index each, all at once.
   * Not one aggregation: that needs $group's $first or $min, which FerretDB
   * v1 does not implement, and would read every message after each clear
   * instead of one. Conversations with none are left out.
   */
  async oldestAfterMany (ranges: ReadonlyArray<{ conversationId: number, afterSeq: number }>): Promise<Map<number, { id: number, seq: number }>> {
    const out = new Map<number, { id: number, seq: number }>()
    const found = await Promise.all(ranges.map((r) => this.messages
      .find({ conversationId: r.conversationId, seq: { $gt: r.afterSeq } }, { projection: { _id: 1, seq: 1 } })
      .sort({ seq: 1 }).limit(1).toArray()))
    ranges.forEach((r, i) => {
      const d = found[i]?.[0]
      if (d) out.set(r.conversationId, { id: d._id, seq: d.seq })
    })
    return out
  }

  /**
   * Up to `limit` unread messages of a member, oldest first: others'
   * messages after `mark` (unread.take).
   */
  unreadOldestFirst (conversationId: number, userId: number, mark: number, limit: number): Promise<MessageDoc[]> {
    return this.messages.find({ conversationId, seq: { $gt: mark }, senderId: { $ne: userId } }).sort({ seq: 1 }).limit(limit).toArray()
  }

  /** The newest stored message of a conversation, or null. */
  async newest (conversationId: number): Promise<MessageDoc | null> {
    const top = await this.messages.find({ conversationId }).sort({ seq: -1 }).limit(1).toArray()
    return top[0] ?? null
  }

  /** Changes a message's content, the change taking place `seq` in its conversation; false when it is gone. */
  async edit (doc: MessageDoc, content: string, editedAt: Date, seq: number): Promise<boolean> {
    const r = await this.change(
      [messageEdited(doc, content, editedAt, seq)],
      () => this.messages.updateOne({ _id: doc._id, senderId: doc.senderId }, { $set: { content, editedAt } }),
      (r) => r.matchedCount === 1
    )
    return r.matchedCount === 1
  }

  /**
   * Deletes one message (hard delete: history, sync and unread counts simply
   * no longer find it). True for the one caller that deleted it. `seq`: the
   * deletion's place in the conversation (none for a message withdrawn from
   * a conversation deleted meanwhile).
   */
  async deleteOwn (doc: MessageDoc, at = new Date(), seq?: number): Promise<boolean> {
    const r = await this.change(
      [messageDeleted(doc, at, seq)],
      () => this.messages.deleteOne({ _id: doc._id, senderId: doc.senderId }),
      (r) => r.deletedCount === 1
    )
    return r.deletedCount === 1
  }

  /** Deletes every message of a conversation, and their changes. */
  async deleteConversation (conversationId: number): Promise<void> {
    await Promise.all([this.messages.deleteMany({ conversationId }), this.changes.removeConversation(conversationId)])
  }

  /** Whether a message of the conversation has this seq. */
  async hasSeq (conversationId: number, seq: number): Promise<boolean> {
    return (await this.messages.countDocuments({ conversationId, seq }, { limit: 1 })) > 0
  }

  /**
   * The distinct senders, other than `readerId`, of the messages with seq in
   * (afterSeq, upToSeq]: who gets a read receipt. One index range.
   */
  async sendersBetween (conversationId: number, afterSeq: number, upToSeq: number, readerId: number): Promise<number[]> {
    if (upToSeq <= afterSeq) return []
    const ids = await this.messages.distinct('senderId', { conversationId, seq: { $gt: afterSeq, $lte: upToSeq }, senderId: { $ne: readerId } })
    return ids.filter((x): x is number => typeof x === 'number')
  }

  /**
   * Unread counts of one user in many conversations: one count per
   * conversation, a few at a time. Each is one index range on
   * {conversationId, seq} in MongoDB. One aggregation over an $or of the
   * ranges would be one round trip there, but a server that cannot hand an
   * $or to its storage (FerretDB v1 passes only top-level equalities down
   * to PostgreSQL) reads every message of every conversation for it: 15 s
   * with 200,000 messages stored, against a few filtered scans this way.
   */
  async countUnreadMany (userId: number, marks: ReadonlyArray<{ conversationId: number, mark: number }>): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    for (let i = 0; i < marks.length; i += COUNTS_AT_ONCE) {
      const part = marks.slice(i, i + COUNTS_AT_ONCE)
      const counts = await Promise.all(part.map((m) => this.countUnread(m.conversationId, userId, m.mark)))
      part.forEach((m, k) => { if ((counts[k] as number) > 0) out.set(m.conversationId, counts[k] as number) })
    }
    return out
  }

  /** How many messages after `mark` others sent: a member's unread count. */
  countUnread (conversationId: number, userId: number, mark: number): Promise<number> {
    return this.messages.countDocuments({ conversationId, seq: { $gt: mark }, senderId: { $ne: userId } })
  }
}
