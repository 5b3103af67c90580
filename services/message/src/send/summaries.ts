import type { Logger } from '@chat/runtime'
import type { ConversationDoc, ConversationStore, LastMessage } from '../conversations.js'
import { readMarkLockKey } from '../keys.js'
import type { RedisLocks } from '../locks.js'
import type { MessageStore } from '../messages.js'
import { RoomTouches } from './room-touches.js'

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
  memberIds: readonly number[]
  room: boolean
  /** Per sender: the newest seq they sent (their read mark) and when. */
  senders: Map<number, { seq: number, at: Date }>
  /** When the newest message arrived (everyone's activity). */
  at: Date
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
  /** A room's members' activity is written at most this often (RoomTouches); default 5 s. */
  roomTouchEveryMs?: number
}

/**
 * What a stored message changes besides itself: the conversation's last
 * message, counter and activity, its first message, the sender's read mark
 * and the other members' activity (conversation lists sort on it). None of
 * it is needed to acknowledge the send, so it is written after, coalesced
 * per conversation: the messages of a conversation that arrive while a
 * flush runs, or within `flushMs` of the oldest summary waiting, fold into
 * one write of each document. On FerretDB these single-document updates, not
 * the messages' insert, are most of the database's work per message, so
 * the interval is what a busy conversation saves. Readers on this replica
 * (conversation lists, unread counts) call settled(), which writes at once.
 * Every write only moves forward ($max, or a last message with a higher
 * seq), so flushes in any order, on any replica, never take a summary back.
 */
export class SummaryWriter {
  private pending = new Map<number, Pending>()
  private running: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  /** When the oldest pending summary was added (performance.now()). */
  private pendingSince = 0
  private readonly knownFirst = new Set<number>()
  private readonly flushMs: number
  private readonly touches: RoomTouches
  private touchTimer: NodeJS.Timeout | undefined
  /** The next flush writes every waiting room touch (a reader or shutdown asked). */
  private touchAll = false

  constructor (
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
    private readonly locks: RedisLocks,
    private readonly logger: Logger,
    opts: SummaryWriterOptions = {}
  ) {
    this.flushMs = opts.flushMs ?? 0
    this.touches = new RoomTouches(opts.roomTouchEveryMs ?? 5000)
  }

  add (s: StoredSummary): void {
    if (this.pending.size === 0) this.pendingSince = performance.now()
    const p = this.pending.get(s.conversationId)
    const sender = s.last.senderId
    if (!p) {
      this.pending.set(s.conversationId, {
        last: s.last,
        oldest: { id: s.last.id, seq: s.last.seq },
        memberIds: s.memberIds,
        room: s.room === true,
        senders: new Map([[sender, { seq: s.last.seq, at: s.last.createdAt }]]),
        at: s.last.createdAt,
      })
    } else {
      if (s.last.seq > p.last.seq) p.last = s.last
      if (s.last.seq < p.oldest.seq) p.oldest = { id: s.last.id, seq: s.last.seq }
      const mine = p.senders.get(sender)
      if (!mine || mine.seq < s.last.seq) p.senders.set(sender, { seq: s.last.seq, at: s.last.createdAt })
      if (s.last.createdAt > p.at) p.at = s.last.createdAt
    }
    this.kick()
  }

  /**
   * Resolves once what was added before the call is written: readers of
   * summaries on this replica (conversation lists) see their own sends.
   * At most the running write and the next.
   */
  async settled (): Promise<void> {
    const hadPending = this.pending.size > 0 || this.touches.waiting > 0
    if (this.running) await this.running
    if (!hadPending) return
    // What was pending is now being written, or waits for the interval: write it now.
    this.touchAll = true
    this.kick(true)
    if (this.running) await this.running
  }

  /** Resolves once everything is written, new additions included (shutdown, tests). */
  async drain (): Promise<void> {
    while (this.running || this.pending.size > 0 || this.touches.waiting > 0) {
      this.touchAll = true
      this.kick(true)
      await this.running
    }
  }

  /** Starts a flush unless one runs; without `now`, only once the oldest pending summary waited flushMs. */
  private kick (now = false): void {
    if (this.running) return
    if (this.pending.size === 0) {
      // Nothing new, but room touches may be due (or asked for).
      if (this.touches.waiting === 0 || (!now && !this.touchAll)) return
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

  /**
   * A few conversations at a time: a flush of hundreds must not take every
   * connection of the MongoDB pool from the sends' inserts, which the
   * answers wait for.
   */
  private async write (batch: Map<number, Pending>): Promise<void> {
    const entries = [...batch]
    let next = 0
    const writer = async (): Promise<void> => {
      while (next < entries.length) {
        const [conversationId, p] = entries[next++] as [number, Pending]
        try {
          await this.writeOne(conversationId, p)
        } catch (err) {
          this.logger.error({ err, conversationId }, 'conversation summary write failed')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_WRITES, entries.length) }, writer))
    await this.writeDueTouches()
  }

  /** Room touches whose turn came, after the flush's marks (never beside them); then the timer for the next. */
  private async writeDueTouches (): Promise<void> {
    const all = this.touchAll
    this.touchAll = false
    for (const [roomId, at] of this.touches.takeDue(all)) {
      await this.conversations.touchRoomMembers(roomId, -1, at).catch((err: unknown) => {
        this.logger.error({ err, conversationId: roomId }, 'room activity write failed')
      })
    }
    const next = this.touches.nextDueInMs()
    if (next !== undefined && this.touchTimer === undefined) {
      this.touchTimer = setTimeout(() => {
        this.touchTimer = undefined
        this.kick(true)
      }, next)
      this.touchTimer.unref()
    }
  }

  private async writeOne (conversationId: number, p: Pending): Promise<void> {
    const { conversations } = this
    // One after the other: on FerretDB v1 concurrent updates of one document can lose each other.
    // The first message before the last: a conversation recorded with a last
    // message but no first one is then one from before firstMessage existed.
    if (!this.knownFirst.has(conversationId)) await this.recordFirst(conversationId, p.oldest)
    await conversations.recordLast(conversationId, p.last)
    if (p.room) {
      await this.writeRoomMembers(conversationId, p)
      return
    }
    const conv = { _id: conversationId, kind: 'direct', memberIds: [...p.memberIds] } as unknown as ConversationDoc
    // Under the lock reads, clears and takes hold on the same member
    // document: on FerretDB v1 concurrent updates of one document can lose
    // each other, and a lost read mark would be a wrong unread count.
    await Promise.all(p.memberIds.map((userId) => this.locks.withLock(readMarkLockKey(userId, conversationId), async () => {
      const sent = p.senders.get(userId)
      // Sending reads the conversation: the sender's mark moves to their message.
      if (sent) await conversations.markRead(conv, userId, sent.seq, p.at)
      else await conversations.touchMembers(conv, [userId], p.at)
    })))
  }

  /**
   * A room's senders' read marks (under their locks, as for direct
   * messages), then every other member's activity in one update: after the
   * marks, not beside them, so no two updates of one member document run
   * at once here. However many messages the room got meanwhile, that is one
   * update of its members.
   */
  private async writeRoomMembers (conversationId: number, p: Pending): Promise<void> {
    const conv = { _id: conversationId, kind: 'room', memberIds: [] } as unknown as ConversationDoc
    await Promise.all([...p.senders].map(([userId, sent]) => this.locks.withLock(readMarkLockKey(userId, conversationId), async () => {
      await this.conversations.markRead(conv, userId, sent.seq, sent.at)
    })))
    // At most every few seconds per room (RoomTouches); a later flush writes the rest.
    if (!this.touches.claim(conversationId, p.at)) return
    const [only] = p.senders.size === 1 ? [...p.senders.keys()] : [-1]
    await this.conversations.touchRoomMembers(conversationId, only as number, p.at)
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
