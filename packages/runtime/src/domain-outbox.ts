import { randomUUID } from 'node:crypto'
import { ChatError, domainEventNames, type DomainEvent, type DomainEventOwner } from '@chat/contracts'
import { ensureStream, streamConfig, type StreamSettings } from './event-stream.js'
import { isDuplicateKeyError } from './mongo.js'
import { Outbox, type OutboxOptions } from './outbox.js'
import type { ServiceDeps } from './service.js'

/** What a service needs to publish its domain events: its stream's and its outbox's settings. */
export interface DomainEventSettings {
  /** NATS_PREFIX: it names the stream and the subjects. */
  prefix: string
  /** EVENTS_*. */
  stream: StreamSettings
  /** OUTBOX_ORPHAN_AFTER_MS. */
  orphanAfterMs: number
  /** OUTBOX_SWEEP_MS. */
  sweepMs: number
}

/** The domain-event settings from a config that includes `EventStreamConfig`. */
export function domainEventSettings (config: StreamSettings & { NATS_PREFIX: string, OUTBOX_ORPHAN_AFTER_MS: number, OUTBOX_SWEEP_MS: number }): DomainEventSettings {
  return { prefix: config.NATS_PREFIX, stream: config, orphanAfterMs: config.OUTBOX_ORPHAN_AFTER_MS, sweepMs: config.OUTBOX_SWEEP_MS }
}

/**
 * Creates or updates an owner's stream (NATS must run JetStream: the
 * service does not start without it) and opens the outbox that feeds it,
 * with its entries in `<owner>_outbox` (or `more.collection`): outboxes of
 * different owners in one database never take over each other's entries.
 * `more.recover`: for owners that track creations (Outbox.track). The service closes it
 * (`outbox.close()`) in its own `close`, which publishes what it holds.
 */
export async function openDomainOutbox (
  deps: ServiceDeps,
  owner: DomainEventOwner,
  settings: DomainEventSettings,
  confirm: OutboxOptions['confirm'],
  more: Pick<OutboxOptions, 'recover' | 'collection'> = {}
): Promise<Outbox> {
  const names = domainEventNames(settings.prefix)
  const ensure = () => ensureStream(deps.nc, streamConfig(names.stream(owner), names.streamSubjects(owner), settings.stream), deps.logger)
  await ensure()
  const outbox = new Outbox({
    db: deps.db,
    nc: deps.nc,
    subject: (event) => names.subject(event.type),
    ensureStream: ensure,
    confirm,
    replica: randomUUID(),
    collection: more.collection ?? `${owner}_outbox`,
    ...(more.recover ? { recover: more.recover } : {}),
    orphanAfterMs: settings.orphanAfterMs,
    sweepMs: settings.sweepMs,
    logger: deps.logger,
    registry: deps.registry,
  })
  try {
    await outbox.init()
  } catch (err) {
    await outbox.close(0)
    throw err
  }
  return outbox
}

/**
 * Makes a change with its events recorded first (Outbox.record; a failure
 * to record means the change is not made). Once `write` resolves, the
 * events are published if `happened` says the change was made (by
 * default: it was), dropped if not, and confirmed from the database if it
 * cannot tell ('unsure'). A write refused for a known reason (a ChatError,
 * a duplicate key) publishes nothing; any other failure leaves it to the
 * database too. No events: just the write.
 */
export async function recordChange<R> (
  outbox: Outbox,
  events: DomainEvent[],
  write: () => Promise<R>,
  happened: (result: R) => boolean | 'unsure' = () => true
): Promise<R> {
  if (events.length === 0) return await write()
  const change = await outbox.record(events)
  let result: R
  try {
    result = await write()
  } catch (err) {
    if (err instanceof ChatError || isDuplicateKeyError(err)) outbox.failed(change)
    else outbox.unsure(change)
    throw err
  }
  const outcome = happened(result)
  if (outcome === 'unsure') outbox.unsure(change)
  else if (outcome) outbox.stored(change)
  else outbox.failed(change)
  return result
}
