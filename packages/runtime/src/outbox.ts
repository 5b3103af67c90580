import { randomUUID } from 'node:crypto'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Collection } from 'mongodb'
import type { DomainEvent } from '@chat/contracts'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Db } from './mongo.js'
import type { Logger } from './logger.js'
import { encodeJson } from './nats.js'
import { OutboxRecovery, type RecoverStored } from './outbox-recovery.js'

/** One change's events, recorded before the change is made. */
export interface OutboxEntry {
  _id: string
  /** The replica that records or last took it over. */
  owner: string
  /** When it was recorded or taken over: entries older than the orphan age are anyone's. */
  at: Date
  events: DomainEvent[]
}

/** A change being made: an outbox entry (`record`), or a creation tracked in memory (`track`). */
export interface PendingChange {
  _id: string
  events: DomainEvent[]
}

export interface OutboxOptions {
  db: Db
  nc: NatsConnection
  /** The subject of an event. */
  subject: (event: DomainEvent) => string
  /** Creates or updates the stream; run again when publishing fails (the stream may be gone). */
  ensureStream: () => Promise<void>
  /**
   * For changes that may or may not have been stored (a replica died, or a
   * write's outcome was unknown): each event as it is to be published,
   * read again from the database, or null where its change did not happen.
   */
  confirm: (events: DomainEvent[]) => Promise<Array<DomainEvent | null>>
  /**
   * What a replica stored from a time on, for the creations it tracked
   * (`track`) and may not have published; needed when `track` is used.
   */
  recover?: RecoverStored
  /** This process, for the entries it records and the creations it tracks (stored with them). */
  replica: string
  /**
   * The entries' collection (`outbox` by default); the marks of tracked
   * creations go to `<collection>_writers`. One per stream: a sweep takes
   * over every orphaned entry it finds and confirms it with its own `confirm`.
   */
  collection?: string
  orphanAfterMs: number
  sweepMs: number
  logger: Logger
  registry?: Registry
}

/** Changes held in memory for publishing at most; past it, the database keeps them for the sweep. */
const MAX_HELD = 10_000
/** How often finished entries are deleted (all of them with one delete) and the replica's mark is written. */
const HOUSEKEEPING_MS = 1000
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5000

interface Held {
  id: string
  events: DomainEvent[]
  /**
   * recorded: its change is being made (publishing waits for it, to keep
   * the order changes were made in); stored: publish `events`; unsure:
   * confirm each event's change from the database first; dropped: nothing.
   */
  state: 'recorded' | 'stored' | 'unsure' | 'dropped'
  /** When it was recorded, tracked or taken over (an entry's `at`). */
  since: number
  /** A creation tracked without an entry: the replica's mark waits for it. */
  tracked?: boolean
  /** Runs once its events are published. */
  onDone?: () => Promise<void>
}

/**
 * The transactional outbox, without transactions (MongoDB here runs none).
 * Two ways in, one way out:
 *
 * - `record`: a change's events are written to the `outbox` collection
 *   *before* the change (edits, deletions). A replica that dies leaves the
 *   entry, and any replica's sweep takes it over after `orphanAfterMs`,
 *   asks the database what each event's change left (`confirm`) and
 *   publishes what happened.
 * - `track`: for creations whose documents name their writer (this
 *   replica), nothing is written: the documents are their own outbox. The
 *   replica writes a mark every second saying up to when it has published
 *   everything it tracked; a mark left stale by a dead replica is taken
 *   over, and what that replica stored since is read back (`recover`) and
 *   published. A send costs no extra write.
 *
 * Either way, once a change is stored its events are published to
 * JetStream in the order the changes were recorded or tracked on this
 * replica, each under its event id (a republish within the stream's
 * duplicate window is stored once); a failed change publishes nothing. If
 * NATS is unavailable they wait and go out in order once it is back.
 * Delivery is at least once; an event is never published for a change
 * that was not stored.
 */
export class Outbox {
  private readonly entries: Collection<OutboxEntry>
  private readonly js: JetStreamClient
  private readonly recovery: OutboxRecovery
  private readonly queue: Held[] = []
  private readonly held = new Map<string, Held>()
  private pumping: Promise<void> | undefined
  /** Wakes the pump when the change it waits for settles. */
  private wake: (() => void) | undefined
  private readonly sweeper: NodeJS.Timeout
  private readonly housekeeper: NodeJS.Timeout
  /** Tracked creations past the memory cap: recovered from the database once there is room again. */
  private overflow: { from: number, after: number | undefined } | undefined
  private closed = false
  private failing = false
  private tidying = false
  /** Whether this replica writes a mark: it tracks creations (or may recover them). */
  private marking: boolean
  private readonly published?: Counter
  private readonly waiting?: Gauge

  constructor (private readonly opts: OutboxOptions) {
    const collection = opts.collection ?? 'outbox'
    this.entries = opts.db.collection<OutboxEntry>(collection)
    this.marking = opts.recover !== undefined
    this.js = jetstream(opts.nc)
    this.recovery = new OutboxRecovery(opts.db, { ...opts, collection }, {
      hold: (h) => this.hold(h),
      room: () => this.queue.length < MAX_HELD,
      closed: () => this.closed,
    })
    // Takes over what dead replicas left (OutboxRecovery.sweep).
    this.sweeper = setInterval(() => { void this.recovery.sweep() }, opts.sweepMs)
    this.sweeper.unref()
    this.housekeeper = setInterval(() => { void this.housekeeping() }, HOUSEKEEPING_MS)
    this.housekeeper.unref()
    if (opts.registry) {
      this.published = new Counter({ name: 'chat_domain_events_published_total', help: 'Domain events published to JetStream (acknowledged by the stream)', registers: [opts.registry] })
      this.waiting = new Gauge({ name: 'chat_outbox_held', help: 'Changes this replica holds for publishing their domain events', registers: [opts.registry] })
    }
  }

  /** The index the sweep's query uses, and this replica's first mark (when it tracks creations). */
  async init (): Promise<void> {
    await this.recovery.init()
    if (this.marking) await this.recovery.mark(Date.now())
  }

  /** Records a change's events before it is made. A failure here means: do not make the change. */
  async record (events: DomainEvent[]): Promise<PendingChange> {
    const at = new Date()
    // Past the memory cap an entry is not held but waits for the sweep; it
    // is owned apart, so deleting what this replica finished never takes it.
    const held = this.queue.length < MAX_HELD && !this.closed
    const entry: OutboxEntry = { _id: randomUUID(), owner: held ? this.opts.replica : `${this.opts.replica}:unheld`, at, events }
    // Its place in the publishing order is taken now, before the write.
    if (held) this.hold({ id: entry._id, events, state: 'recorded', since: at.getTime() })
    try {
      await this.entries.insertOne(entry)
    } catch (err) {
      this.settle(entry._id, 'dropped')
      throw err
    }
    return entry
  }

  /**
   * Tracks creations about to be stored in documents that name this
   * replica (`replica`) as their writer: no write of its own. Synchronous,
   * so the order of calls is the publishing order.
   */
  track (events: DomainEvent[]): PendingChange {
    const change = { _id: randomUUID(), events }
    const now = Date.now()
    this.marking = true
    if (this.queue.length < MAX_HELD && !this.closed) this.hold({ id: change._id, events, state: 'recorded', since: now, tracked: true })
    else if (this.overflow === undefined) this.overflow = { from: now, after: undefined }
    return change
  }

  /** The change is stored: publishes `events` (by default all recorded; fewer if only part was stored). */
  stored (change: PendingChange, events: DomainEvent[] = change.events): void {
    this.settle(change._id, events.length === 0 ? 'dropped' : 'stored', events)
  }

  /** The change was not made: its events are dropped. */
  failed (change: PendingChange): void {
    this.settle(change._id, 'dropped')
  }

  /** Whether the change was stored is unknown (a write whose answer was lost): confirmed, then published. */
  unsure (change: PendingChange): void {
    this.settle(change._id, 'unsure')
  }

  /** This process: the writer its tracked creations' documents name. */
  get replica (): string {
    return this.opts.replica
  }

  /**
   * Stops sweeping and publishes what is held, for at most `graceMs`; an
   * entry left stays in MongoDB for another replica's sweep, and the mark
   * stays when tracked creations are left.
   */
  async close (graceMs = 2000): Promise<void> {
    clearInterval(this.sweeper)
    clearInterval(this.housekeeper)
    this.wake?.()
    const drained = this.pumping ?? Promise.resolve()
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, graceMs).unref())])
    this.closed = true
    await this.housekeeping()
    if (this.marking && this.queue.every((h) => !h.tracked) && this.overflow === undefined) await this.recovery.unmark().catch(() => undefined)
  }

  /** Settles a held change; one not held (past the memory cap) is left to the sweep. */
  private settle (id: string, state: Held['state'], events?: DomainEvent[]): void {
    const h = this.held.get(id)
    if (!h) return
    h.state = state
    if (events) h.events = events
    this.wake?.()
  }

  private hold (h: Held): void {
    this.queue.push(h)
    this.held.set(h.id, h)
    this.waiting?.set(this.queue.length)
    this.pumping ??= this.pump().finally(() => { this.pumping = undefined })
  }

  /**
   * Publishes held changes one after another, in the order they were
   * recorded, each once it is settled; a failure retries the same change.
   */
  private async pump (): Promise<void> {
    let backoff = RETRY_MIN_MS
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0] as Held
      if (head.state === 'recorded') {
        // A change takes milliseconds; one that never reported is confirmed instead.
        const left = head.since + this.opts.orphanAfterMs - Date.now()
        if (left <= 0) head.state = 'unsure'
        else {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, left)
            this.wake = () => { clearTimeout(timer); resolve() }
          })
          this.wake = undefined
          continue
        }
      }
      try {
        if (head.state !== 'dropped') {
          const events = head.state === 'unsure' ? (await this.opts.confirm(head.events)).filter((e): e is DomainEvent => e !== null) : head.events
          // Sent in order on one connection: the stream stores them in that order.
          await Promise.all(events.map((e) => this.js.publish(this.opts.subject(e), encodeJson(e), { msgID: e.id })))
          this.published?.inc(events.length)
          await head.onDone?.()
        }
        this.queue.shift()
        this.held.delete(head.id)
        this.waiting?.set(this.queue.length)
        if (this.failing) this.opts.logger.info('domain events are being published again')
        this.failing = false
        backoff = RETRY_MIN_MS
      } catch (err) {
        if (!this.failing) this.opts.logger.warn({ err, held: this.queue.length }, 'publishing domain events failed; retrying')
        this.failing = true
        await new Promise((resolve) => setTimeout(resolve, backoff))
        backoff = Math.min(backoff * 2, RETRY_MAX_MS)
        // The stream may have been deleted, or NATS restarted without it.
        await this.opts.ensureStream().catch(() => undefined)
      }
    }
  }

  /**
   * Once a second: deletes every entry this replica finished with one
   * delete (changes finish in the order they were recorded, so all its
   * entries older than the oldest it still holds are done), writes its
   * mark (everything it tracked before the oldest tracked change it holds
   * is published), and recovers tracked creations that overflowed the
   * memory cap once there is room. A write that fails is tried again the
   * next second; an entry not deleted is republished by a sweep: a
   * duplicate, never a loss.
   */
  private async housekeeping (): Promise<void> {
    if (this.tidying) return
    this.tidying = true
    try {
      await this.keepHouse()
    } finally {
      this.tidying = false
    }
  }

  private async keepHouse (): Promise<void> {
    let oldest = Date.now()
    let oldestTracked = oldest
    for (const h of this.queue) {
      oldest = Math.min(oldest, h.since)
      if (h.tracked) oldestTracked = Math.min(oldestTracked, h.since)
    }
    if (this.overflow) oldestTracked = Math.min(oldestTracked, this.overflow.from)
    await Promise.all([
      this.entries.deleteMany({ owner: this.opts.replica, at: { $lt: new Date(oldest) } }),
      this.marking ? this.recovery.mark(oldestTracked) : undefined,
    ]).catch((err: unknown) => {
      this.opts.logger.warn({ err }, 'outbox housekeeping failed')
    })
    if (this.overflow && this.queue.length === 0 && !this.closed) {
      const { from, after } = this.overflow
      this.overflow = await this.recovery.recoverOwn(from, after).then(
        (left) => left === undefined ? undefined : { from, after: left.after },
        (err: unknown) => {
          this.opts.logger.warn({ err }, 'recovering tracked creations failed')
          return { from, after }
        })
    }
  }
}
