import type { Collection, Db } from 'mongodb'
import { ChatError, type MessageKind } from '@chat/contracts'
import { isDuplicateKeyError } from '@chat/runtime'
import { directKey, memberKey } from './keys.js'
import { retryOnDuplicate } from './retry.js'

/** A summary of the newest stored message, for conversation lists. */
export interface LastMessage {
  id: number
  seq: number
  senderId: number
  kind: MessageKind
  content: string
  createdAt: Date
}

/**
 * A conversation. `seq` is the last sequence number handed out; messages
 * are numbered 1, 2, … per conversation (a send that failed between taking a
 * number and storing its message leaves a gap, which nothing relies on).
 */
export interface ConversationDoc {
  _id: number
  kind: 'direct' | 'room'
  /**
   * Unique. `<minUserId>:<maxUserId>` for direct conversations, so both
   * sides find the same one; `room:<_id>` for rooms (see keys.roomKey).
   */
  directKey: string
  /** The two users of a direct conversation. Rooms keep membership in `members` only. */
  memberIds: number[]
  seq: number
  lastMessage?: LastMessage
  lastActivityAt: Date
  createdAt: Date
}

/**
 * One user's state in one conversation. `lastReadSeq` and `clearedSeq` only
 * ever grow ($max), so concurrent or late updates cannot move them back.
 */
export interface MemberDoc {
  /** `<conversationId>:<userId>` (keys.memberKey). */
  _id: string
  conversationId: number
  userId: number
  /** The other user, for direct conversations. */
  peerId?: number
  lastReadSeq: number
  clearedSeq: number
  joinedAt: Date
  lastActivityAt: Date
}

/** The marks that decide what a member has read and still sees. */
export type Marks = Pick<MemberDoc, 'lastReadSeq' | 'clearedSeq' | 'peerId'>

/** The seq below which (inclusive) nothing counts as unread for a member. */
export function readMark (m: Pick<MemberDoc, 'lastReadSeq' | 'clearedSeq'>): number {
  return Math.max(m.lastReadSeq, m.clearedSeq)
}

/** The other user of a direct conversation. */
export function peerOf (conv: Pick<ConversationDoc, 'kind' | 'memberIds'>, userId: number): number | undefined {
  if (conv.kind !== 'direct') return undefined
  return conv.memberIds.find((id) => id !== userId)
}

/** Conversations and their members. */
export class ConversationStore {
  readonly conversations: Collection<ConversationDoc>
  readonly members: Collection<MemberDoc>

  constructor (db: Db) {
    this.conversations = db.collection<ConversationDoc>('conversations')
    this.members = db.collection<MemberDoc>('members')
  }

  async init (): Promise<void> {
    await Promise.all([
      this.conversations.createIndex({ directKey: 1 }, { unique: true, name: 'direct_key_unique' }),
      // A user's conversations, most recently active first.
      this.members.createIndex({ userId: 1, lastActivityAt: -1 }, { name: 'user_activity' }),
      this.members.createIndex({ conversationId: 1 }, { name: 'conversation' }),
    ])
  }

  byId (id: number): Promise<ConversationDoc | null> {
    return this.conversations.findOne({ _id: id })
  }

  byDirectKey (a: number, b: number): Promise<ConversationDoc | null> {
    return this.conversations.findOne({ directKey: directKey(a, b) })
  }

  /**
   * The direct conversation of two users, created with both member documents
   * when there is none. Concurrent first messages from both sides race on the
   * unique directKey: the loser's insert fails and it reads the winner's.
   */
  async getOrCreateDirect (a: number, b: number, newId: () => number): Promise<ConversationDoc> {
    const key = directKey(a, b)
    let conv = await this.conversations.findOne({ directKey: key })
    if (!conv) {
      const now = new Date()
      const doc: ConversationDoc = {
        _id: newId(),
        kind: 'direct',
        directKey: key,
        memberIds: [Math.min(a, b), Math.max(a, b)],
        seq: 0,
        lastActivityAt: now,
        createdAt: now,
      }
      try {
        await this.conversations.insertOne(doc)
        conv = doc
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err
        conv = await this.conversations.findOne({ directKey: key })
        if (!conv) throw new ChatError('CHAT_UNAVAILABLE', 'conversation creation raced and lost; try again', { cause: err })
      }
    }
    // Idempotent, so a crash between the two inserts heals on the next send.
    await Promise.all(conv.memberIds.map((uid) => this.ensureMember(conv, uid)))
    return conv
  }

  /**
   * The fields a member document gets when an upsert creates it, other than
   * those the same update sets: MongoDB refuses an update naming one field
   * in both $setOnInsert and another operator.
   */
  private memberDefaults (conv: ConversationDoc, userId: number, now: Date, except: ReadonlyArray<keyof MemberDoc> = []) {
    const peerId = peerOf(conv, userId)
    const all: Omit<MemberDoc, '_id'> = {
      conversationId: conv._id,
      userId,
      ...(peerId === undefined ? {} : { peerId }),
      lastReadSeq: 0,
      clearedSeq: 0,
      joinedAt: now,
      lastActivityAt: now,
    }
    for (const k of except) delete (all as Partial<MemberDoc>)[k]
    return all
  }

  /** Creates a member document unless it exists; never changes an existing one. */
  async ensureMember (conv: ConversationDoc, userId: number): Promise<void> {
    await retryOnDuplicate(() => this.members.updateOne(
      { _id: memberKey(conv._id, userId) },
      { $setOnInsert: this.memberDefaults(conv, userId, new Date()) },
      { upsert: true },
    ))
  }

  member (conversationId: number, userId: number): Promise<MemberDoc | null> {
    return this.members.findOne({ _id: memberKey(conversationId, userId) })
  }

  /**
   * The actor's marks in a conversation, or null when they are not a member.
   * A direct conversation's two users are members by definition, even if
   * their member document is missing (a crash right after the conversation
   * was created); it is then read as "nothing read, nothing cleared".
   */
  async marksOf (conv: ConversationDoc, userId: number): Promise<Marks | null> {
    const m = await this.member(conv._id, userId)
    if (m) return m
    if (conv.kind === 'direct' && conv.memberIds.includes(userId)) {
      const peerId = peerOf(conv, userId)
      return { lastReadSeq: 0, clearedSeq: 0, ...(peerId === undefined ? {} : { peerId }) }
    }
    return null
  }

  /** Several conversations' marks of one user at once, keyed by conversation id. */
  async marksMany (conversationIds: number[], userId: number): Promise<Map<number, Marks>> {
    const out = new Map<number, Marks>()
    if (conversationIds.length === 0) return out
    const docs = await this.members.find({ _id: { $in: conversationIds.map((c) => memberKey(c, userId)) } }).toArray()
    for (const d of docs) out.set(d.conversationId, d)
    const missing = conversationIds.filter((c) => !out.has(c))
    if (missing.length > 0) {
      const convs = await this.conversations.find({ _id: { $in: missing }, kind: 'direct', memberIds: userId }).toArray()
      for (const c of convs) {
        const peerId = peerOf(c, userId)
        out.set(c._id, { lastReadSeq: 0, clearedSeq: 0, ...(peerId === undefined ? {} : { peerId }) })
      }
    }
    return out
  }

  /** Every member's user id. Direct conversations carry them; rooms are looked up. */
  async memberIdsOf (conv: ConversationDoc): Promise<number[]> {
    if (conv.kind === 'direct') return conv.memberIds
    const docs = await this.members.find({ conversationId: conv._id }, { projection: { userId: 1 } }).toArray()
    return docs.map((d) => d.userId)
  }

  /**
   * Proposes the next sequence number. On MongoDB $inc is atomic, so
   * concurrent senders on any replica get distinct numbers; the unique index
   * on messages {conversationId, seq} is the actual arbiter (see
   * ChatService.send), because servers without atomic single-document
   * updates (FerretDB v1) can hand the same number out twice.
   */
  async nextSeq (conversationId: number, now: Date): Promise<number> {
    const conv = await this.conversations.findOneAndUpdate(
      { _id: conversationId },
      { $inc: { seq: 1 }, $max: { lastActivityAt: now } },
      // No projection: FerretDB does not implement one on findAndModify.
      { returnDocument: 'after' },
    )
    if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    return conv.seq
  }

  /** Raises the seq counter to at least `seq` after a collision showed it lagging. */
  async raiseSeq (conversationId: number, seq: number): Promise<void> {
    await this.conversations.updateOne({ _id: conversationId }, { $max: { seq } })
  }

  /**
   * Records a stored message as the conversation's last one unless a newer
   * one is already recorded. Done after the message is stored (not together
   * with taking the seq) so lastMessage never names a message that a lost
   * de-duplication race or a crash left unstored.
   */
  async setLastMessage (conversationId: number, last: LastMessage): Promise<void> {
    await this.conversations.updateOne(
      { _id: conversationId, $or: [{ lastMessage: { $exists: false } }, { 'lastMessage.seq': { $lt: last.seq } }] },
      { $set: { lastMessage: last } },
    )
  }

  /**
   * A member read up to `seq`; with `activityAt`, they also just sent it
   * (sending reads the conversation). Upserts, so a missing member document
   * heals.
   */
  async markRead (conv: ConversationDoc, userId: number, seq: number, activityAt?: Date): Promise<void> {
    const max: Pick<MemberDoc, 'lastReadSeq'> & Partial<Pick<MemberDoc, 'lastActivityAt'>> = { lastReadSeq: seq }
    if (activityAt) max.lastActivityAt = activityAt
    await retryOnDuplicate(() => this.members.updateOne(
      { _id: memberKey(conv._id, userId) },
      { $max: max, $setOnInsert: this.memberDefaults(conv, userId, new Date(), Object.keys(max) as Array<keyof MemberDoc>) },
      { upsert: true },
    ))
  }

  /** Bumps the activity time of members other than the sender, for conversation lists. */
  async touchMembers (conv: ConversationDoc, userIds: number[], now: Date): Promise<void> {
    await Promise.all(userIds.map((uid) => retryOnDuplicate(() => this.members.updateOne(
      { _id: memberKey(conv._id, uid) },
      { $max: { lastActivityAt: now }, $setOnInsert: this.memberDefaults(conv, uid, now, ['lastActivityAt']) },
      { upsert: true },
    ))))
  }

  /**
   * Clears the member's view up to `seq`: those messages disappear from
   * their history and count as read. Only their own document changes.
   */
  async clearUpTo (conv: ConversationDoc, userId: number, seq: number): Promise<void> {
    await retryOnDuplicate(() => this.members.updateOne(
      { _id: memberKey(conv._id, userId) },
      { $max: { clearedSeq: seq, lastReadSeq: seq }, $setOnInsert: this.memberDefaults(conv, userId, new Date(), ['clearedSeq', 'lastReadSeq']) },
      { upsert: true },
    ))
  }

  /** All of a user's memberships (for rebuilding their unread counts). */
  membershipsOf (userId: number): Promise<MemberDoc[]> {
    return this.members.find({ userId }, { projection: { conversationId: 1, lastReadSeq: 1, clearedSeq: 1, peerId: 1 } }).toArray()
  }

}
