import type { Collection, Db } from 'mongodb'
import type { MessageChange } from '@chat/contracts'
import { isDuplicateKeyError } from '@chat/runtime'

/**
 * An edit or deletion of a message, kept so a client that was away catches
 * up on it (SYNC): it has its own place in the conversation's order,
 * numbered from the same counter as messages.
 */
export interface ChangeDoc {
  /** `<conversationId>:<seq>`: two changes never share a place. */
  _id: string
  conversationId: number
  seq: number
  kind: MessageChange['kind']
  messageId: number
  messageSeq: number
  senderId: number
  content?: string
  at: Date
}

export type ChangeDraft = Omit<ChangeDoc, '_id' | 'seq'>

export function toChange (doc: ChangeDoc): MessageChange {
  const out: MessageChange = { seq: doc.seq, kind: doc.kind, messageId: doc.messageId, messageSeq: doc.messageSeq, senderId: doc.senderId, at: doc.at.toISOString() }
  if (doc.content !== undefined) out.content = doc.content
  return out
}

/**
 * Changes to messages, by conversation and place. They live as long as
 * their conversation. Edits and deletions are a person's own actions, so
 * there are few next to messages; a catch-up reads at most a page of them.
 */
export class ChangeStore {
  readonly changes: Collection<ChangeDoc>

  constructor (db: Db) {
    this.changes = db.collection<ChangeDoc>('message_changes')
  }

  async init (): Promise<void> {
    await this.changes.createIndex({ conversationId: 1, seq: 1 }, { name: 'conversation_seq' })
  }

  /** Stores a change at `seq`; false if another change holds that place (the counter was lost and handed it out twice). */
  async insert (draft: ChangeDraft, seq: number): Promise<boolean> {
    try {
      await this.changes.insertOne({ ...draft, _id: `${draft.conversationId}:${seq}`, seq })
      return true
    } catch (err) {
      if (isDuplicateKeyError(err)) return false
      throw err
    }
  }

  async remove (conversationId: number, seq: number): Promise<void> {
    await this.changes.deleteOne({ _id: `${conversationId}:${seq}` })
  }

  /**
   * Up to `fetch` changes after `afterSeq`, oldest first, of messages at or
   * before it and after `clearedSeq` (what the reader has and still sees).
   */
  after (conversationId: number, afterSeq: number, clearedSeq: number, fetch: number): Promise<ChangeDoc[]> {
    return this.changes.find({ conversationId, seq: { $gt: afterSeq }, messageSeq: { $lte: afterSeq, $gt: clearedSeq } })
      .sort({ seq: 1 }).limit(fetch).toArray()
  }

  /** The highest place a change took in a conversation (0 without changes). */
  async latestSeq (conversationId: number): Promise<number> {
    const top = await this.changes.find({ conversationId }, { projection: { seq: 1 } }).sort({ seq: -1 }).limit(1).toArray()
    return top[0]?.seq ?? 0
  }

  async removeConversation (conversationId: number): Promise<void> {
    await this.changes.deleteMany({ conversationId })
  }
}
