import type { Logger } from '@chat/runtime'
import type { ConversationDoc, ConversationStore, LastMessage } from '../conversations.js'
import { readMarkLockKey } from '../keys.js'
import type { RedisLocks } from '../locks.js'
import type { MessageStore } from '../messages.js'
import type { LastMessageAmendments } from './amendments.js'
import { foldSummaryChanges, SummaryIntervals, type SummaryChanges } from './summary-intervals.js'

/** A stored message as the summaries need it. */
export interface StoredSummary {
  conversationId: number
  last: LastMessage
  /** Both members of a direct conversation; for a room, none (every member is touched in one update). */
  memberIds: readonly number[]
  room?: boolean
}

interface Pending {
  /** The oldest message of this flush (the conversation's first, if it had none). */
  oldest: { id: number, seq: number }
  changes: SummaryChanges
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
   * A conversation's summary (its last message; the senders' read marks,
   * everyone's activity) is written at most this often (SummaryIntervals,
   * SUMMARY_EVERY_MS); 0: with every flush.
   */
  everyMs?: number
  /** Edits and deletions of messages whose summary may be waiting (Redis); without, a waiting last message is written as it was sent. */
  amendments?: LastMessageAmendments
}

/**
 * What a stored message changes besides itself: the conversation's last
 * message, counter and activity, its first message, the sender's read mark
 * and the other members' activity (conversation lists sort on it). None of
 * it is needed to acknowledge the send, so it is written after, coalesced
 * per conversation: the messages of a conversation that arrive while a
 * flush runs, or within `flushMs` of the oldest summary waiting, fold into
 * one write of each document, and a conversation's summary is written at
 * most every `everyMs` (SummaryIntervals). On FerretDB these single-document
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
  private readonly intervals: SummaryIntervals
  private readonly amendments: LastMessageAmendments | undefined
  private intervalTimer: NodeJS.Timeout | undefined
  /** The next flush writes every waiting summary (a reader or shutdown asked). */
  private writeAll = false

  constructor (
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
    private readonly locks: RedisLocks,
    private readonly logger: Logger,
    opts: SummaryWriterOptions = {}
  ) {
    this.flushMs = opts.flushMs ?? 0
    this.intervals = new SummaryIntervals(opts.everyMs ?? 5000)
    this.amendments = opts.amendments
  }

  add (s: StoredSummary): void {
    if (this.pending.size === 0) this.pendingSince = performance.now()
    const p = this.pending.get(s.conversationId)
    const changes: SummaryChanges = {
      last: s.last,
      memberIds: s.memberIds,
      room: s.room === true,
      senders: new Map([[s.last.senderId, { seq: s.last.seq, at: s.last.createdAt }]]),
      at: s.last.createdAt,
    }
    if (!p) {
      this.pending.set(s.conversationId, { oldest: { id: s.last.id, seq: s.last.seq }, changes })
    } else {
      if (s.last.seq < p.oldest.seq) p.oldest = { id: s.last.id, seq: s.last.seq }
      foldSummaryChanges(p.changes, changes)
    }
    this.kick()
  }

  /**
   * A message was edited (new content) or deleted (null): a last message of
   * its conversation still waiting here, or on another replica, is written
   * as it is now. Called before the change touches the conversation
   * document (Changing), so a summary written in between is corrected by
   * that change, and one written after is amended.
   */
  async messageChanged (conversationId: number, messageId: number, content: string | null): Promise<void> {
    if (!this.amendments) return
    if (content === null) await this.amendments.deleted(conversationId, messageId)
    else await this.amendments.edited(conversationId, messageId, content)
  }

  /**
   * Resolves once what was added before the call is written: readers of
   * summaries on this replica (conversation lists) see their own sends.
   * At most the running write, the next (what was pending when it ended)
   * and one for what waits for its interval.
   */
  async settled (): Promise<void> {
    // Those flushes may be what moves a summary to wait for its interval: look after them.
    for (let i = 0; i < 2 && this.running; i++) await this.running
    if (this.pending.size === 0 && this.intervals.waiting === 0) return
    // What was pending is now being written, or waits for the interval: write it now.
    this.writeAll = true
    this.kick(true)
    if (this.running) await this.running
  }

  /** Resolves once everything is written, new additions included (shutdown, tests). */
  async drain (): Promise<void> {
    while (this.running || this.pending.size > 0 || this.intervals.waiting > 0) {
      this.writeAll = true
      this.kick(true)
      await this.running
    }
  }

  /** Starts a flush unless one runs; without `now`, only once the oldest pending summary waited flushMs. */
  private kick (now = false): void {
    if (this.running) return
    if (this.pending.size === 0) {
      // Nothing new, but member changes may be due (or asked for).
      if (this.intervals.waiting === 0 || (!now && !this.writeAll)) return
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
    await this.writeDue()
  }

  /**
   * Summaries whose turn came, after the flush's writes (never beside them:
   * the flush wrote none of these conversations' documents); then the timer
   * for the next.
   */
  private async writeDue (): Promise<void> {
    const all = this.writeAll
    this.writeAll = false
    await inParallel(this.intervals.takeDue(all), async ([conversationId, changes]) => {
      await this.writeSummary(conversationId, changes)
    }, (err, [conversationId]) => {
      this.logger.error({ err, conversationId }, 'conversation summary write failed')
    })
    const next = this.intervals.nextDueInMs()
    if (next !== undefined && this.intervalTimer === undefined) {
      this.intervalTimer = setTimeout(() => {
        this.intervalTimer = undefined
        this.kick(true)
      }, next)
      this.intervalTimer.unref()
    }
  }

  private async writeOne (conversationId: number, p: Pending): Promise<void> {
    // One after the other: on FerretDB v1 concurrent updates of one document can lose each other.
    // The first message before the last: a conversation recorded with a last
    // message but no first one is then one from before firstMessage existed.
    if (!this.knownFirst.has(conversationId)) await this.recordFirst(conversationId, p.oldest)
    // At most every few seconds per conversation (SummaryIntervals); a later flush writes the rest.
    if (this.intervals.claim(conversationId, p.changes)) await this.writeSummary(conversationId, p.changes)
  }

  /**
   * The conversation's last message, as edits and deletions since left it
   * (LastMessageAmendments: a deleted one is not written, its deleter
   * pointed the conversation at the newest message left), then its
   * members' documents.
   */
  private async writeSummary (conversationId: number, changes: SummaryChanges): Promise<void> {
    const last = this.amendments ? await this.amendments.amend(conversationId, changes.last) : changes.last
    if (last) await this.conversations.recordLast(conversationId, last)
    await this.writeMembers(conversationId, changes)
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
  private async writeMembers (conversationId: number, m: SummaryChanges): Promise<void> {
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
