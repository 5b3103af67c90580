import type { Collection, Db } from 'mongodb'
import { ChatError, type DomainEvent, type Geolocation, type MessageKind, type RoomVisibility } from '@chat/contracts'
import { findWhereIn, isDuplicateKeyError, recordChange, type Outbox } from '@chat/runtime'
import { conversationCreated, conversationDeleted } from './domain-events.js'
import { directKey, memberKey } from './keys.js'
import { afterCursorFilter, type ConversationCursor } from './lists.js'
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

/** The oldest message of a conversation: its id and seq. */
export interface FirstMessage {
  id: number
  seq: number
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
  /**
   * Who opened a direct conversation: the sender of its first message, or
   * the user who opened it without one. Missing on rooms (they have
   * ownerId) and on conversations from before this field.
   */
  openedBy?: number
  seq: number
  lastMessage?: LastMessage
  /**
   * The oldest stored message (conversation lists' firstMessageId for
   * members who never cleared past it). Set by the first send, re-pointed
   * when that message is deleted; missing on conversations without
   * messages, and on ones from before this field (filled lazily by the list).
   */
  firstMessage?: FirstMessage
  lastActivityAt: Date
  createdAt: Date
  // Rooms only (see rooms.ts):
  name?: string
  ownerId?: number
  /** Most members at once; null: unlimited. Enforced by seats, never by memberCount. */
  capacity?: number | null
  geolocation?: Geolocation | null
  visibility?: RoomVisibility
  /** A recount after each join and leave: shown, never trusted. */
  memberCount?: number
  /** When the count in memberCount was started (ms); an older count never overwrites a newer one. */
  memberCountAt?: number
}

/** A room: a conversation with the room fields present. */
export type RoomDoc = ConversationDoc & {
  kind: 'room'
  name: string
  ownerId: number
  capacity: number | null
  geolocation: Geolocation | null
  visibility: RoomVisibility
  memberCount: number
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
  /** Set on room memberships (so a user's rooms are one index range). */
  kind?: 'room'
  /** The room seat held (rooms with a capacity): its slot and the claim that took it. */
  seat?: number
  seatClaim?: number
  lastReadSeq: number
  clearedSeq: number
  joinedAt: Date
  lastActivityAt: Date
}

/** The marks that decide what a member has read and still sees. */
export type Marks = Pick<MemberDoc, 'lastReadSeq' | 'clearedSeq' | 'peerId' | 'kind'>

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

  /** `outbox`: where creations and deletions are recorded as domain events (runtime outbox.ts), if anywhere. */
  constructor (db: Db, private readonly outbox?: Outbox) {
    this.conversations = db.collection<ConversationDoc>('conversations')
    this.members = db.collection<MemberDoc>('members')
  }

  /** A write with its domain events (runtime recordChange), or just the write without an outbox. */
  private async recorded<R> (events: DomainEvent[], write: () => Promise<R>, happened?: (result: R) => boolean): Promise<R> {
    return this.outbox ? await recordChange(this.outbox, events, write, happened) : await write()
  }

  async init (): Promise<void> {
    await Promise.all([
      this.conversations.createIndex({ directKey: 1 }, { unique: true, name: 'direct_key_unique' }),
      // Public rooms, newest first (direct conversations have no visibility).
      this.conversations.createIndex({ visibility: 1, _id: -1 }, { name: 'visibility_newest' }),
      // A user's conversations, most recently active first, ties broken by
      // id so the conversation list pages stably without an in-memory sort.
      // (Supersedes the former {userId, lastActivityAt} index `user_activity`.)
      this.members.createIndex({ userId: 1, lastActivityAt: -1, conversationId: -1 }, { name: 'user_activity_conversation' }),
      // A user's rooms (memberships, room lists).
      this.members.createIndex({ userId: 1, kind: 1, conversationId: -1 }, { name: 'user_rooms' }),
      // A conversation's members, in joining order.
      this.members.createIndex({ conversationId: 1, joinedAt: 1 }, { name: 'conversation_joined' }),
    ])
  }

  byId (id: number): Promise<ConversationDoc | null> {
    return this.conversations.findOne({ _id: id })
  }

  /** Whether the conversation still exists (a send re-checks after storing; see ChatService.send). */
  async exists (id: number): Promise<boolean> {
    return (await this.conversations.countDocuments({ _id: id }, { limit: 1 })) > 0
  }

  byDirectKey (a: number, b: number): Promise<ConversationDoc | null> {
    return this.conversations.findOne({ directKey: directKey(a, b) })
  }

  /**
   * The direct conversation of two users, created with both member documents
   * when there is none. Concurrent first messages from both sides race on the
   * unique directKey: the loser's insert fails and it reads the winner's.
   */
  async getOrCreateDirect (opener: number, peer: number, newId: () => number): Promise<ConversationDoc> {
    return (await this.openDirect(opener, peer, newId)).conv
  }

  /**
   * getOrCreateDirect, also saying whether this call created it: the unique
   * directKey insert decides, so of concurrent callers exactly one is told
   * `created` (a reliable arbiter on FerretDB too). `opener` is recorded as
   * the conversation's openedBy when this call creates it.
   */
  async openDirect (opener: number, peer: number, newId: () => number): Promise<{ conv: ConversationDoc, created: boolean }> {
    const key = directKey(opener, peer)
    let conv = await this.conversations.findOne({ directKey: key })
    let created = false
    if (!conv) {
      const now = new Date()
      const doc: ConversationDoc = {
        _id: newId(),
        kind: 'direct',
        directKey: key,
        memberIds: [Math.min(opener, peer), Math.max(opener, peer)],
        openedBy: opener,
        seq: 0,
        lastActivityAt: now,
        createdAt: now,
      }
      try {
        await this.recorded([conversationCreated(doc)], async () => { await this.conversations.insertOne(doc) })
        conv = doc
        created = true
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err
        conv = await this.conversations.findOne({ directKey: key })
        if (!conv) throw new ChatError('CHAT_UNAVAILABLE', 'conversation creation raced and lost; try again', { cause: err })
      }
    }
    // Idempotent, so a crash between the two inserts heals on the next send.
    await Promise.all(conv.memberIds.map((uid) => this.ensureMember(conv, uid)))
    return { conv, created }
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
      { upsert: true }
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
    const docs = await findWhereIn(this.members, '_id', conversationIds.map((c) => memberKey(c, userId)))
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
  async memberIdsOf (conv: Pick<ConversationDoc, '_id' | 'kind' | 'memberIds'>): Promise<number[]> {
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
      { returnDocument: 'after' }
    )
    if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    return conv.seq
  }

  /** Raises the seq counter to at least `seq` after a collision showed it lagging. */
  async raiseSeq (conversationId: number, seq: number): Promise<void> {
    await this.conversations.updateOne({ _id: conversationId }, { $max: { seq } })
  }

  /**
   * A stored message's mark on its conversation: the persisted counter and
   * activity rise to it, and it becomes the last message unless a newer one
   * is recorded. The persisted counter trails the live one in Redis (see
   * send/state.ts) and only seeds it after Redis lost it.
   */
  async recordLast (conversationId: number, last: LastMessage): Promise<void> {
    // One update: where a newer last message is recorded, whoever recorded
    // it raised the counter and the activity past this one's already.
    await this.conversations.updateOne(
      { _id: conversationId, $or: [{ lastMessage: { $exists: false } }, { 'lastMessage.seq': { $lt: last.seq } }] },
      { $set: { lastMessage: last }, $max: { seq: last.seq, lastActivityAt: last.createdAt } }
    )
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
      { $set: { lastMessage: last } }
    )
  }

  /**
   * Records a stored message as the conversation's first one unless an
   * older one is recorded. Only the first send(s) of a conversation match
   * (the caller skips it when the conversation it read already names an
   * older message), so a normal send costs nothing here.
   *
   * The conditional update alone is not an arbiter on servers without
   * atomic single-document updates (FerretDB v1): two first sends racing
   * could both match and the later seq land last. So whoever wrote reads
   * back and writes again while a newer message is recorded. That narrows
   * the window without closing it (a lost update can land after the
   * read-back); on MongoDB the conditional update alone is exact. Returns
   * whether it wrote.
   */
  async setFirstMessage (conversationId: number, first: FirstMessage, attempts = 4): Promise<boolean> {
    const filter = { _id: conversationId, $or: [{ firstMessage: { $exists: false } }, { 'firstMessage.seq': { $gt: first.seq } }] }
    let wrote = false
    for (let i = 0; i < attempts; i++) {
      const res = await this.conversations.updateOne(filter, { $set: { firstMessage: first } })
      if (res.matchedCount === 0) return wrote
      wrote = true
      const now = await this.conversations.findOne({ _id: conversationId }, { projection: { firstMessage: 1 } })
      if (!now?.firstMessage || now.firstMessage.seq <= first.seq) return wrote
    }
    return wrote
  }

  /**
   * Re-points firstMessage after the message it names was deleted, only if
   * it still names it (null: no messages left). Returns whether it wrote.
   */
  async replaceFirstMessage (conversationId: number, deletedId: number, first: FirstMessage | null): Promise<boolean> {
    const filter = { _id: conversationId, 'firstMessage.id': deletedId }
    const res = first
      ? await this.conversations.updateOne(filter, { $set: { firstMessage: first } })
      : await this.conversations.updateOne(filter, { $unset: { firstMessage: '' } })
    return res.matchedCount === 1
  }

  /**
   * A member read up to `seq`; with `activityAt`, they also just sent it
   * (sending reads the conversation). In a direct conversation it upserts,
   * so a missing member document heals; in a room the member document is
   * the membership (and holds the seat), so it is never created here: a
   * read racing a leave must not make the user a member again.
   */
  async markRead (conv: ConversationDoc, userId: number, seq: number, activityAt?: Date): Promise<void> {
    const max: Pick<MemberDoc, 'lastReadSeq'> & Partial<Pick<MemberDoc, 'lastActivityAt'>> = { lastReadSeq: seq }
    if (activityAt) max.lastActivityAt = activityAt
    if (conv.kind === 'room') {
      await this.members.updateOne({ _id: memberKey(conv._id, userId) }, { $max: max })
      return
    }
    await retryOnDuplicate(() => this.members.updateOne(
      { _id: memberKey(conv._id, userId) },
      { $max: max, $setOnInsert: this.memberDefaults(conv, userId, new Date(), Object.keys(max) as Array<keyof MemberDoc>) },
      { upsert: true }
    ))
  }

  /**
   * A room's activity for every member but the sender, in one update that
   * never creates a member (conversation lists sort on it).
   */
  async touchRoomMembers (conversationId: number, senderId: number, now: Date): Promise<void> {
    await this.members.updateMany({ conversationId, userId: { $ne: senderId } }, { $max: { lastActivityAt: now } })
  }

  /** Bumps the activity time of members other than the sender, for conversation lists. */
  async touchMembers (conv: ConversationDoc, userIds: number[], now: Date): Promise<void> {
    if (conv.kind === 'room') {
      await this.touchRoomMembers(conv._id, -1, now)
      return
    }
    await Promise.all(userIds.map((uid) => retryOnDuplicate(() => this.members.updateOne(
      { _id: memberKey(conv._id, uid) },
      { $max: { lastActivityAt: now }, $setOnInsert: this.memberDefaults(conv, uid, now, ['lastActivityAt']) },
      { upsert: true }
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
      { upsert: true }
    ))
  }

  /** All of a user's memberships (for rebuilding their unread counts). */
  membershipsOf (userId: number): Promise<MemberDoc[]> {
    return this.members.find({ userId }, { projection: { conversationId: 1, lastReadSeq: 1, clearedSeq: 1, peerId: 1 } }).toArray()
  }

  /**
   * Up to `fetch` of a user's memberships, most recently active first,
   * after a cursor: one range of the {userId, lastActivityAt, conversationId}
   * index, whatever the number of conversations.
   */
  recentOf (userId: number, after: ConversationCursor | undefined, fetch: number): Promise<MemberDoc[]> {
    const filter = after ? { userId, ...afterCursorFilter(after) } : { userId }
    return this.members.find(filter).sort({ lastActivityAt: -1, conversationId: -1 }).limit(fetch).toArray()
  }

  /**
   * Members other than `exceptUserId` who had not read up to `seq` (and
   * had not cleared it): whose unread count included that message.
   */
  async membersBehind (conversationId: number, seq: number, exceptUserId: number): Promise<number[]> {
    const docs = await this.members.find(
      { conversationId, userId: { $ne: exceptUserId }, lastReadSeq: { $lt: seq }, clearedSeq: { $lt: seq } },
      { projection: { userId: 1 } }
    ).toArray()
    return docs.map((d) => d.userId)
  }

  /** Conversations by id, keyed by id (missing ones left out). */
  async byIds (ids: readonly number[]): Promise<Map<number, ConversationDoc>> {
    const out = new Map<number, ConversationDoc>()
    if (ids.length === 0) return out
    for (const c of await findWhereIn(this.conversations, '_id', ids)) out.set(c._id, c)
    return out
  }

  /**
   * Deletes a conversation document; true for the one caller that deleted
   * it (a delete is a reliable arbiter, also on FerretDB).
   */
  async deleteConversation (conv: Pick<ConversationDoc, '_id' | 'kind'>, deletedBy: number): Promise<boolean> {
    return await this.recorded([conversationDeleted(conv, deletedBy, new Date())], async () => {
      return (await this.conversations.deleteOne({ _id: conv._id, kind: conv.kind })).deletedCount === 1
    }, (deleted) => deleted)
  }

  /** Deletes every member document of a conversation. */
  async deleteMembers (conversationId: number): Promise<void> {
    await this.members.deleteMany({ conversationId })
  }

  /** Re-points lastMessage after the message it names was deleted (only if it still names it). */
  async replaceLastMessage (conversationId: number, deletedId: number, last: LastMessage | null): Promise<void> {
    const filter = { _id: conversationId, 'lastMessage.id': deletedId }
    if (last) await this.conversations.updateOne(filter, { $set: { lastMessage: last } })
    else await this.conversations.updateOne(filter, { $unset: { lastMessage: '' } })
  }

  /** Updates lastMessage's content after an edit, if it names the edited message. */
  async editLastMessage (conversationId: number, messageId: number, content: string): Promise<void> {
    await this.conversations.updateOne({ _id: conversationId, 'lastMessage.id': messageId }, { $set: { 'lastMessage.content': content } })
  }
}
