/** Conversations remembered as written at most; beyond it, those written longer than `everyMs` ago are forgotten. */
const REMEMBERED_MAX = 10_000

import type { LastMessage } from '../conversations.js'

/** What a conversation's messages change in its summary documents, folded over any number of messages. */
export interface SummaryChanges {
  /** The newest message: the conversation's last message, counter and activity. */
  last: LastMessage
  /** Both members of a direct conversation; a room's are all touched with one update. */
  memberIds: readonly number[]
  room: boolean
  /** Per sender: the newest seq they sent (their read mark) and when. */
  senders: Map<number, { seq: number, at: Date }>
  /** When the newest message arrived (everyone's activity). */
  at: Date
}

/** Folds `later` into `into` (both of one conversation): the newest message, marks and activity win. */
export function foldSummaryChanges (into: SummaryChanges, later: SummaryChanges): void {
  if (later.last.seq > into.last.seq) into.last = later.last
  for (const [userId, sent] of later.senders) {
    const mine = into.senders.get(userId)
    if (!mine || mine.seq < sent.seq) into.senders.set(userId, sent)
  }
  if (later.at > into.at) into.at = later.at
}

/**
 * When a conversation's summary documents are written: its last message,
 * counter and activity, the senders' read marks and every member's
 * activity (conversation lists sort on it). Those are most of a message's
 * database work (on FerretDB each single-document update scans its
 * collection, and a room's touch updates every member), and nothing waits
 * for them: unread counts live in Redis, and readers on this replica have
 * them written first (SummaryWriter.settled). So a conversation's summary
 * is written at most once every `everyMs`: the first message's changes at
 * once, those that come sooner wait, folded together, until their turn
 * (SummaryWriter writes them in a flush, so they never run beside that
 * flush's writes of the same documents). Edits and deletions meanwhile are
 * applied to the waiting last message when it is written (amendments.ts).
 */
export class SummaryIntervals {
  private readonly writtenAt = new Map<number, number>()
  private readonly waitingChanges = new Map<number, SummaryChanges>()

  constructor (
    private readonly everyMs: number,
    private readonly now: () => number = () => performance.now()
  ) {}

  /** Whether the conversation's summary may be written now; if not, `changes` wait for takeDue. */
  claim (conversationId: number, changes: SummaryChanges): boolean {
    const last = this.writtenAt.get(conversationId)
    if (last !== undefined && this.now() - last < this.everyMs) {
      const waiting = this.waitingChanges.get(conversationId)
      if (waiting === undefined) this.waitingChanges.set(conversationId, changes)
      else foldSummaryChanges(waiting, changes)
      return false
    }
    this.written(conversationId)
    return true
  }

  /** The waiting changes whose turn came (all of them with `all`), taken out, by conversation. */
  takeDue (all: boolean): Array<[number, SummaryChanges]> {
    const due: Array<[number, SummaryChanges]> = []
    for (const [conversationId, changes] of this.waitingChanges) {
      if (!all && this.now() - (this.writtenAt.get(conversationId) ?? 0) < this.everyMs) continue
      this.waitingChanges.delete(conversationId)
      this.written(conversationId)
      due.push([conversationId, changes])
    }
    return due
  }

  /** Milliseconds until the next waiting change is due (0 if one is), or undefined when none waits. */
  nextDueInMs (): number | undefined {
    let soonest: number | undefined
    for (const conversationId of this.waitingChanges.keys()) {
      const left = Math.max(0, (this.writtenAt.get(conversationId) ?? 0) + this.everyMs - this.now())
      if (soonest === undefined || left < soonest) soonest = left
    }
    return soonest
  }

  get waiting (): number {
    return this.waitingChanges.size
  }

  private written (conversationId: number): void {
    if (this.writtenAt.size >= REMEMBERED_MAX) {
      const now = this.now()
      for (const [id, at] of this.writtenAt) if (now - at >= this.everyMs && !this.waitingChanges.has(id)) this.writtenAt.delete(id)
    }
    this.writtenAt.set(conversationId, this.now())
  }
}
