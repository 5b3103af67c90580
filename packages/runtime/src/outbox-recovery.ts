import type { Collection } from 'mongodb'
import type { DomainEvent } from '@chat/contracts'
import type { Db } from './mongo.js'
import type { Logger } from './logger.js'
import type { OutboxEntry } from './outbox.js'

/**
 * A replica's progress in publishing the creations it tracked without an
 * outbox entry (Outbox.track): every change it made before `from` (ms) is
 * published. Written every second; one not written for the orphan age
 * belongs to a replica that died (or lost MongoDB), and another replica
 * publishes what it stored since.
 */
export interface WriterMark {
  _id: string
  at: Date
  from: number
  /** Where a takeover got to: the recovery cursor after the last page published. */
  after?: number
}

/** One page of what a writer stored since a time: its events, and the cursor after them (undefined: the last page). */
export interface RecoveredPage {
  events: DomainEvent[]
  next: number | undefined
}

/** Reads what `writer` stored from `fromMs` on, after `after` (a cursor from the previous page), `limit` at most. */
export type RecoverStored = (writer: string, fromMs: number, after: number | undefined, limit: number) => Promise<RecoveredPage>

/** What the recovery hands to the outbox to publish. */
export interface RecoveryTarget {
  /** Queues events (already confirmed) or an entry to confirm; `onDone` runs once they are published. */
  hold: (h: { id: string, events: DomainEvent[], state: 'stored' | 'unsure', since: number, onDone?: () => Promise<void> }) => void
  /** Whether the outbox can take more. */
  room: () => boolean
  closed: () => boolean
}

/** Orphaned entries taken over per sweep. */
const SWEEP_BATCH = 100
/** Messages (or other creations) read per recovery page. */
const PAGE = 500

/**
 * The outbox's recovery: takes over the outbox entries and writer marks
 * that a replica left unpublished when it died, and writes this replica's
 * own mark.
 */
export class OutboxRecovery {
  private readonly entries: Collection<OutboxEntry>
  private readonly marks: Collection<WriterMark>
  private sweeping = false

  constructor (
    db: Db,
    private readonly opts: { replica: string, orphanAfterMs: number, recover?: RecoverStored, logger: Logger, collection: string },
    private readonly target: RecoveryTarget
  ) {
    this.entries = db.collection<OutboxEntry>(opts.collection)
    this.marks = db.collection<WriterMark>(`${opts.collection}_writers`)
  }

  async init (): Promise<void> {
    await this.entries.createIndex({ at: 1 }, { name: 'outbox_at' })
  }

  /** Writes this replica's mark: what it tracked before `from` is published. */
  async mark (from: number): Promise<void> {
    await this.marks.updateOne({ _id: this.opts.replica }, { $set: { at: new Date(), from } }, { upsert: true })
  }

  /** Drops this replica's mark at a clean stop, once everything it tracked is published. */
  async unmark (): Promise<void> {
    await this.marks.deleteOne({ _id: this.opts.replica })
  }

  /** Takes over what dead replicas left: outbox entries and writer marks past the orphan age. */
  async sweep (): Promise<number> {
    if (this.sweeping || this.target.closed() || !this.target.room()) return 0
    this.sweeping = true
    let taken = 0
    try {
      const cutoff = new Date(Date.now() - this.opts.orphanAfterMs)
      taken += await this.takeEntries(cutoff)
      if (this.opts.recover) taken += await this.takeWriters(cutoff)
      if (taken > 0) this.opts.logger.info({ taken }, 'took over domain events left unpublished')
    } catch (err) {
      this.opts.logger.warn({ err }, 'outbox sweep failed')
    } finally {
      this.sweeping = false
    }
    return taken
  }

  private async takeEntries (cutoff: Date): Promise<number> {
    let taken = 0
    const old = await this.entries.find({ at: { $lt: cutoff } }).sort({ at: 1 }).limit(SWEEP_BATCH).toArray()
    for (const entry of old) {
      if (this.target.closed()) break
      // Claimed by moving its time: another sweeping replica's claim of the same time fails.
      const at = new Date()
      const claim = await this.entries.updateOne({ _id: entry._id, at: entry.at }, { $set: { owner: this.opts.replica, at } })
      if (claim.modifiedCount !== 1) continue
      this.target.hold({ id: entry._id, events: entry.events, state: 'unsure', since: at.getTime() })
      taken++
    }
    return taken
  }

  /**
   * A stale mark: its replica stored creations it may not have published.
   * They are read from the database a page at a time from the mark on and
   * published; the mark follows each page, and goes once the last is out.
   */
  private async takeWriters (cutoff: Date): Promise<number> {
    const recover = this.opts.recover as RecoverStored
    let taken = 0
    const stale = await this.marks.find({ at: { $lt: cutoff } }).limit(SWEEP_BATCH).toArray()
    for (const mark of stale) {
      if (this.target.closed()) break
      const claim = await this.marks.updateOne({ _id: mark._id, at: mark.at }, { $set: { at: new Date() } })
      if (claim.modifiedCount !== 1) continue
      let after = mark.after
      for (;;) {
        const page = await recover(mark._id, mark.from, after, PAGE)
        const next = page.next
        const onDone = next === undefined
          ? async () => { await this.marks.deleteOne({ _id: mark._id }) }
          : async () => { await this.marks.updateOne({ _id: mark._id }, { $set: { at: new Date(), after: next } }) }
        this.target.hold({ id: `${mark._id}:${after ?? 'start'}`, events: page.events, state: 'stored', since: Date.now(), onDone })
        taken += page.events.length
        if (next === undefined || !this.target.room() || this.target.closed()) break
        after = next
      }
    }
    return taken
  }

  /**
   * Publishes what this replica itself stored from `from` on, after `after`
   * (its memory cap was passed while publishing failed), a page at a time
   * while the outbox has room. Returns where it stopped; undefined once done.
   */
  async recoverOwn (from: number, after: number | undefined): Promise<{ after: number | undefined } | undefined> {
    if (!this.opts.recover) return undefined
    for (;;) {
      if (!this.target.room() || this.target.closed()) return { after }
      const page = await this.opts.recover(this.opts.replica, from, after, PAGE)
      this.target.hold({ id: `${this.opts.replica}:own:${after ?? 'start'}`, events: page.events, state: 'stored', since: Date.now() })
      if (page.next === undefined) return undefined
      after = page.next
    }
  }
}
