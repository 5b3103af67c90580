import type { Logger } from '@chat/runtime'
import type { ConversationDoc, ConversationStore, LastMessage } from '../conversations.js'
import { readMarkLockKey } from '../keys.js'
import type { RedisLocks } from '../locks.js'
import type { MessageStore } from '../messages.js'
import { foldMemberChanges, MemberWrites, type MemberChanges } from './member-writes.js'

/** A stored message as the summaries need it. */
export interface StoredSummary {
  conversationId: number
  last: LastMessage
  /** Both members of a direct conversation; for a room, none (every member is touched in one update). */
  memberIds: readonly number[]
  room?: boolean
}

interface Pending {
  last: LastMessage
  /** The oldest message of this flush (the conversation's first, if it had none). */
  oldest: { id: number, seq: number }
  members: MemberChanges
}

/** Conversations whose summaries one flush writes at once (each up to three single-document updates). */
const CONCURRENT_WRITES = 4

/** Conversations whose first message is known to be recorded: beyond that, a flush writes none. */
const KNOWN_FIRST_MAX = 100_000

export interface SummaryWriterOptions {
  /**
   * How long a summary may wait for more messages of its conversation
   * before it is written (SUMMARY_FLUSH_MS); 0 writes as soon as the
   * previous flush is done.
   */
  flushMs?: number
  /**
   * A conversation's member documents (the senders' read marks, everyone's
   * activity) are written at most this often (MemberWrites,
   * SUMMARY_MEMBERS_EVERY_MS); 0: with every flush.
   */
  membersEveryMs?: number
}

/**
 * What a stored message changes besides itself: the conversation's last
 * message, counter and activity, its first message, the sender's read mark
 * and the other members' activity (conversation lists sort on it). None of
 * it is needed to acknowledge the send, so it is written after, coalesced
 * per conversation: the messages of a conversation that arrive while a
 * flush runs, or within `flushMs` of the oldest summary waiting, fold into
 * one write of each document, and its member documents are written at most
 * every `membersEveryMs` (MemberWrites). On FerretDB these single-document
 * updates (each a scan of its collection), not the messages' insert, are
 * most of the database's work per message, so the intervals are what a
 * busy conversation saves. Readers on this replica (conversation lists,
 * unread counts, reads) call settled(), which writes everything waiting at
 * once. Every write only moves forward ($max, or a last message with a
 * higher seq), so flushes in any order, on any replica, never take a
 * summary back.
 */
export class SummaryWriter {
  private pending = new Map<number, Pending>()
  private running: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  /** When the oldest pending summary was added (performance.now()). */
  private pendingSince = 0
  private readonly knownFirst = new Set<number>()
  private readonly flushMs: number
  private readonly memberWrites: MemberWrites
  private memberTimer: NodeJS.Timeout | undefined
  /** The next flush writes every waiting member change (a reader or shutdown asked). */
  private membersAll = false

  constructor (
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
    private readonly locks: RedisLocks,
    private readonly logger: Logger,
    opts: SummaryWriterOptions = {}
  ) {
    this.flushMs = opts.flushMs ?? 0
    this.memberWrites = new MemberWrites(opts.membersEveryMs ?? 5000)
  }

  add (s: StoredSummary): void {
    if (this.pending.size === 0) this.pendingSince = performance.now()
    const p = this.pending.get(s.conversationId)
    const members: MemberChanges = {
      memberIds: s.memberIds,
      room: s.room === true,
      senders: new Map([[s.last.senderId, { seq: s.last.seq, at: s.last.createdAt }]]),
      at: s.last.createdAt,
    }
    if (!p) {
      this.pending.set(s.conversationId, { last: s.last, oldest: { id: s.last.id, seq: s.last.seq }, members })
    } else {
      if (s.last.seq > p.last.seq) p.last = s.last
      if (s.last.seq < p.oldest.seq) p.oldest = { id: s.last.id, seq: s.last.seq }
      foldMemberChanges(p.members, members)
    }
    this.kick()
  }

  /**
   * Resolves once what was added before the call is written: readers of
   * summaries on this replica (conversation lists) see their own sends.
   * At most the running write and the next.
   */
  async settled (): Promise<void> {
    const hadPending = this.pending.size > 0 || this.memberWrites.waiting > 0
    if (this.running) await this.running
    if (!hadPending) return
    // What was pending is now being written, or waits for the interval: write it now.
    this.membersAll = true
    this.kick(true)
    if (this.running) await this.running
  }

  /** Resolves once everything is written, new additions included (shutdown, tests). */
  async drain (): Promise<void> {
    while (this.running || this.pending.size > 0 || this.memberWrites.waiting > 0) {
      this.membersAll = true
      this.kick(true)
      await this.running
    }
  }

  /** Starts a flush unless one runs; without `now`, only once the oldest pending summary waited flushMs. */
  private kick (now = false): void {
    if (this.running) return
    if (this.pending.size === 0) {
      // Nothing new, but member changes may be due (or asked for).
      if (this.memberWrites.waiting === 0 || (!now && !this.membersAll)) return
    }
    const wait = this.pending.size === 0 ? 0 : this.flushMs - (performance.now() - this.pendingSince)
    if (!now && wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined
        this.kick(true)
      }, wait)
      this.timer.unref()
      return
    }
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.pending
    this.pending = new Map()
    this.running = this.write(batch).finally(() => {
      this.running = undefined
      this.kick()
    })
  }

  /** The batch's conversations, a few at a time (inParallel), then the member changes now due. */
  private async write (batch: Map<number, Pending>): Promise<void> {
    await inParallel([...batch], async ([conversationId, p]) => {
      await this.writeOne(conversationId, p)
    }, (err, [conversationId]) => {
      this.logger.error({ err, conversationId }, 'conversation summary write failed')
    })
    await this.writeDueMembers()
  }

  /**
   * Member changes whose turn came, after the flush's writes (never beside
   * them: the flush wrote none of these conversations' members); then the
   * timer for the next.
   */
  private async writeDueMembers (): Promise<void> {
    const all = this.membersAll
    this.membersAll = false
    await inParallel(this.memberWrites.takeDue(all), async ([conversationId, changes]) => {
      await this.writeMembers(conversationId, changes)
    }, (err, [conversationId]) => {
      this.logger.error({ err, conversationId }, 'member summary write failed')
    })
    const next = this.memberWrites.nextDueInMs()
    if (next !== undefined && this.memberTimer === undefined) {
      this.memberTimer = setTimeout(() => {
        this.memberTimer = undefined
        this.kick(true)
      }, next)
      this.memberTimer.unref()
    }
  }

  private async writeOne (conversationId: number, p: Pending): Promise<void> {
    const { conversations } = this
    // One after the other: on FerretDB v1 concurrent updates of one document can lose each other.
    // The first message before the last: a conversation recorded with a last
    // message but no first one is then one from before firstMessage existed.
    if (!this.knownFirst.has(conversationId)) await this.recordFirst(conversationId, p.oldest)
    await conversations.recordLast(conversationId, p.last)
    // At most every few seconds per conversation (MemberWrites); a later flush writes the rest.
    if (this.memberWrites.claim(conversationId, p.members)) await this.writeMembers(conversationId, p.members)
  }

  /**
   * The senders' read marks, each under its lock: reads, clears and takes
   * update the same member document under it, and on FerretDB v1
   * concurrent updates of one document can lose each other (a lost read
   * mark would be a wrong unread count after a recount). Then the other
   * members' activity: the peer's document in a direct conversation; in a
   * room, every other member's in one update, after the marks, not beside
   * them. However many messages came meanwhile, that is one update of each.
   */
  private async writeMembers (conversationId: number, m: MemberChanges): Promise<void> {
    const conv = { _id: conversationId, kind: m.room ? 'room' : 'direct', memberIds: [...m.memberIds] } as unknown as ConversationDoc
    const { conversations } = this
    await Promise.all([...m.senders].map(([userId, sent]) => this.locks.withLock(readMarkLockKey(userId, conversationId), async () => {
      // Sending reads the conversation: the sender's mark moves to their message.
      await conversations.markRead(conv, userId, sent.seq, m.room ? sent.at : m.at)
    })))
    if (m.room) {
      const [only] = m.senders.size === 1 ? [...m.senders.keys()] : [-1]
      await conversations.touchRoomMembers(conversationId, only as number, m.at)
      return
    }
    const others = m.memberIds.filter((userId) => !m.senders.has(userId))
    await Promise.all(others.map((userId) => this.locks.withLock(readMarkLockKey(userId, conversationId), async () => {
      await conversations.touchMembers(conv, [userId], m.at)
    })))
  }

  /** As ChatService.recordFirst, once per conversation and process. */
  private async recordFirst (conversationId: number, oldest: { id: number, seq: number }): Promise<void> {
    const conv = await this.conversations.byId(conversationId)
    if (!conv) return
    if (!conv.firstMessage || conv.firstMessage.seq > oldest.seq) {
      let first = oldest
      if (!conv.firstMessage && conv.lastMessage) {
        // From before firstMessage existed: its oldest message, looked up once.
        const found = await this.messages.oldest(conversationId)
        if (found) first = { id: found._id, seq: found.seq }
      }
      await this.conversations.setFirstMessage(conversationId, first)
    }
    if (this.knownFirst.size >= KNOWN_FIRST_MAX) this.knownFirst.clear()
    this.knownFirst.add(conversationId)
  }
}

/**
 * Runs `work` on every item, CONCURRENT_WRITES at a time: a flush of
 * hundreds must not take every connection of the MongoDB pool from the
 * sends' inserts, which the answers wait for. A failure is reported and
 * the rest go on.
 */
async function inParallel<T> (items: readonly T[], work: (item: T) => Promise<void>, failed: (err: unknown, item: T) => void): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      try {
        await work(item)
      } catch (err) {
        failed(err, item)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_WRITES, items.length) }, worker))
}
