import type { Collection, Db, Filter } from 'mongodb'
import type { Message, MessageKind } from '@chat/contracts'
import type { SeqRange } from './paging.js'

/** A message as stored. `_id` is the public message id. */
export interface MessageDoc {
  _id: number
  conversationId: number
  seq: number
  senderId: number
  recipientId?: number
  kind: MessageKind
  content: string
  createdAt: Date
  editedAt?: Date
  clientMessageId?: string
  clientTime?: string
  /** Unique; see keys.dedupeKey. */
  dedupeKey: string
}

/** The wire form of a stored message. */
export function toMessage (doc: MessageDoc): Message {
  const m: Message = {
    id: doc._id,
    conversationId: doc.conversationId,
    seq: doc.seq,
    senderId: doc.senderId,
    kind: doc.kind,
    content: doc.content,
    createdAt: doc.createdAt.toISOString(),
  }
  if (doc.recipientId !== undefined) m.recipientId = doc.recipientId
  if (doc.editedAt !== undefined) m.editedAt = doc.editedAt.toISOString()
  if (doc.clientMessageId !== undefined) m.clientMessageId = doc.clientMessageId
  if (doc.clientTime !== undefined) m.clientTime = doc.clientTime
  return m
}

/** Messages, numbered per conversation. */
/** Unread counts asked of the database at once while rebuilding one user's counts. */
const COUNTS_AT_ONCE = 8

export class MessageStore {
  readonly messages: Collection<MessageDoc>

  constructor (db: Db) {
    this.messages = db.collection<MessageDoc>('messages')
  }

  async init (): Promise<void> {
    await Promise.all([
      // Serves every history, sync and unread query, and forbids two messages
      // with one seq.
      this.messages.createIndex({ conversationId: 1, seq: 1 }, { unique: true, name: 'conversation_seq_unique' }),
      this.messages.createIndex({ dedupeKey: 1 }, { unique: true, name: 'dedupe_key_unique' }),
    ])
  }

  /** Inserts a message; a duplicate-key error means a retry of the same send won. */
  async insert (doc: MessageDoc): Promise<void> {
    await this.messages.insertOne(doc)
  }

  /**
   * Inserts many messages in one round trip (group commit). Unordered: a
   * document refused by a unique index fails alone, reported in the
   * MongoBulkWriteError's writeErrors by its index.
   */
  async insertMany (docs: MessageDoc[]): Promise<void> {
    await this.messages.insertMany(docs, { ordered: false })
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

  /** Changes a message's content; false when it is gone (or not the sender's). */
  async edit (id: number, senderId: number, content: string, editedAt: Date): Promise<boolean> {
    return (await this.messages.updateOne({ _id: id, senderId }, { $set: { content, editedAt } })).matchedCount === 1
  }

  /**
   * Deletes one message (hard delete: history, sync and unread counts simply
   * no longer find it). True for the one caller that deleted it.
   */
  async deleteOwn (id: number, senderId: number): Promise<boolean> {
    return (await this.messages.deleteOne({ _id: id, senderId })).deletedCount === 1
  }

  /** Deletes every message of a conversation. */
  async deleteConversation (conversationId: number): Promise<void> {
    await this.messages.deleteMany({ conversationId })
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
