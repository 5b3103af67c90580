import { randomUUID } from 'node:crypto'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Collection } from 'mongodb'
import type { DomainEvent } from '@chat/contracts'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Db } from './mongo.js'
import type { Logger } from './logger.js'
import { encodeJson } from './nats.js'

/** One change's events, recorded before the change is made. */
export interface OutboxEntry {
  _id: string
  /** The replica that records or last took it over. */
  owner: string
  /** When it was recorded or taken over: entries older than the orphan age are anyone's. */
  at: Date
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
   * For entries whose change may or may not have been stored (a replica
   * died, or a write's outcome was unknown): each event as it is to be
   * published, read again from the database, or null where its change did
   * not happen.
   */
  confirm: (events: DomainEvent[]) => Promise<Array<DomainEvent | null>>
  /** This process, for the entries it records. */
  replica: string
  orphanAfterMs: number
  sweepMs: number
  logger: Logger
  registry?: Registry
}

/** Entries held in memory for publishing at most; more wait in MongoDB for the sweep. */
const MAX_HELD = 10_000
/** Orphaned entries taken over per sweep. */
const SWEEP_BATCH = 100
/** How often finished entries are deleted, all of them with one delete. */
const DELETE_EVERY_MS = 1000
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5000

interface Held {
  id: string
  events: DomainEvent[]
  /**
   * recorded: its change is being made (publishing waits for it, to keep
   * the order changes were recorded in); stored: publish `events`; unsure:
   * confirm each event's change from the database first; dropped: nothing.
   */
  state: 'recorded' | 'stored' | 'unsure' | 'dropped'
  /** Its entry's `at`: the time it was recorded or taken over. */
  since: number
}

/**
 * The transactional outbox, without transactions (MongoDB here runs none):
 * a change's events are written to the `outbox` collection *before* the
 * change. Once the change is stored they are published to JetStream, in
 * the order the changes were made on this replica, each under its event id
 * (a republish within the stream's duplicate window is stored once), and
 * the entry is deleted. A failed change drops its entry unpublished.
 *
 * If NATS is unavailable the entries wait, in memory and in MongoDB, and
 * go out in order once it is back. If the replica dies between recording
 * and deleting, its entries outlive it: any replica's sweep takes over an
 * entry older than `orphanAfterMs`, asks the database what each event's
 * change left (`confirm`), and publishes what happened. Delivery is at
 * least once; an event is never published for a change that was not stored.
 */
export class Outbox {
  private readonly entries: Collection<OutboxEntry>
  private readonly js: JetStreamClient
  private readonly queue: Held[] = []
  private readonly held = new Map<string, Held>()
  /** Wakes the pump when the entry it waits for settles. */
  private wake: (() => void) | undefined
  private pumping: Promise<void> | undefined
  private deleteTimer: NodeJS.Timeout | undefined
  private readonly sweeper: NodeJS.Timeout
  private sweeping = false
  private closed = false
  private failing = false
  private readonly published?: Counter
  private readonly waiting?: Gauge

  constructor (private readonly opts: OutboxOptions) {
    this.entries = opts.db.collection<OutboxEntry>('outbox')
    this.js = jetstream(opts.nc)
    this.sweeper = setInterval(() => { void this.sweep() }, opts.sweepMs)
    this.sweeper.unref()
    if (opts.registry) {
      this.published = new Counter({ name: 'chat_domain_events_published_total', help: 'Domain events published to JetStream (acknowledged by the stream)', registers: [opts.registry] })
      this.waiting = new Gauge({ name: 'chat_outbox_held', help: 'Outbox entries this replica holds for publishing', registers: [opts.registry] })
    }
  }

  /** The index the sweep's query uses (on MongoDB; FerretDB reads the small collection whole). */
  async init (): Promise<void> {
    await this.entries.createIndex({ at: 1 }, { name: 'outbox_at' })
  }

  /** Records a change's events before it is made. A failure here means: do not make the change. */
  async record (events: DomainEvent[]): Promise<OutboxEntry> {
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

  /** The change is stored: publishes `events` (by default all recorded; fewer if only part was stored). */
  stored (entry: OutboxEntry, events: DomainEvent[] = entry.events): void {
    if (events.length === 0) {
      this.settle(entry._id, 'dropped')
      return
    }
    this.settle(entry._id, 'stored', events)
  }

  /** The change was not made: its events are dropped. */
  failed (entry: OutboxEntry): void {
    this.settle(entry._id, 'dropped')
  }

  /** Whether the change was stored is unknown (a write whose answer was lost): confirmed, then published. */
  unsure (entry: OutboxEntry): void {
    this.settle(entry._id, 'unsure')
  }

  /** Settles a held entry; one not held (past the memory cap) is left to the sweep. */
  private settle (id: string, state: Held['state'], events?: DomainEvent[]): void {
    const h = this.held.get(id)
    if (!h) return
    h.state = state
    if (events) h.events = events
    this.wake?.()
  }

  /** Entries this replica holds for publishing. */
  get pending (): number {
    return this.queue.length
  }

  /**
   * Stops sweeping and publishes what is held, for at most `graceMs`; what
   * is left stays in MongoDB for another replica's sweep.
   */
  async close (graceMs = 2000): Promise<void> {
    clearInterval(this.sweeper)
    this.wake?.()
    const drained = this.pumping ?? Promise.resolve()
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, graceMs).unref())])
    this.closed = true
    await this.deleteFinished()
  }

  /** Queues an entry for publishing (callers keep to MAX_HELD, roughly: a sweep may add its batch). */
  private hold (h: Held): void {
    this.queue.push(h)
    this.held.set(h.id, h)
    this.waiting?.set(this.queue.length)
    this.pumping ??= this.pump().finally(() => { this.pumping = undefined })
  }

  /**
   * Publishes held entries one after another, in the order they were
   * recorded, each once its change is settled; a failure retries the same entry.
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
      if (head.state === 'dropped') {
        this.done(head)
        continue
      }
      try {
        const events = head.state === 'unsure' ? (await this.opts.confirm(head.events)).filter((e): e is DomainEvent => e !== null) : head.events
        // Sent in order on one connection: the stream stores them in that order.
        await Promise.all(events.map((e) => this.js.publish(this.opts.subject(e), encodeJson(e), { msgID: e.id })))
        this.published?.inc(events.length)
        this.done(head)
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

  private done (head: Held): void {
    this.queue.shift()
    this.held.delete(head.id)
    this.waiting?.set(this.queue.length)
    this.deleteTimer ??= setTimeout(() => { void this.deleteFinished() }, DELETE_EVERY_MS)
  }

  /**
   * Deletes every entry this replica finished, with one delete a second
   * rather than one per entry: entries are finished in the order they were
   * recorded, so all of this replica's entries older than the oldest it
   * still holds are done. A delete that fails leaves entries the sweep
   * republishes: duplicates, never a loss.
   */
  private async deleteFinished (): Promise<void> {
    clearTimeout(this.deleteTimer)
    this.deleteTimer = undefined
    // The oldest held: a swept entry may have been queued behind a newer one.
    let oldest = Date.now()
    for (const h of this.queue) oldest = Math.min(oldest, h.since)
    const horizon = new Date(oldest)
    await this.entries.deleteMany({ owner: this.opts.replica, at: { $lt: horizon } }).catch((err: unknown) => {
      this.opts.logger.warn({ err }, 'could not delete published outbox entries')
    })
  }

  /**
   * Takes over entries older than the orphan age that nobody here holds:
   * left by a replica that died, or by this one past its memory cap.
   */
  async sweep (): Promise<number> {
    if (this.sweeping || this.closed || this.queue.length >= MAX_HELD) return 0
    this.sweeping = true
    let taken = 0
    try {
      const cutoff = new Date(Date.now() - this.opts.orphanAfterMs)
      const old = await this.entries.find({ at: { $lt: cutoff } }).sort({ at: 1 }).limit(SWEEP_BATCH).toArray()
      for (const entry of old) {
        if (this.closed) break
        if (this.held.has(entry._id)) continue
        // Claimed by moving its time: another sweeping replica's claim of the same time fails.
        const at = new Date()
        const claim = await this.entries.updateOne({ _id: entry._id, at: entry.at }, { $set: { owner: this.opts.replica, at } })
        if (claim.modifiedCount !== 1) continue
        this.hold({ id: entry._id, events: entry.events, state: 'unsure', since: at.getTime() })
        taken++
      }
      if (taken > 0) this.opts.logger.info({ taken }, 'took over outbox entries left unpublished')
    } catch (err) {
      this.opts.logger.warn({ err }, 'outbox sweep failed')
    } finally {
      this.sweeping = false
    }
    return taken
  }
}
