import { Type } from '@sinclair/typebox'
import { DiscardPolicy, JetStreamApiError, jetstreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from './logger.js'

/** Settings of a service's domain-event stream and of its outbox (docs/events.md). */
export const EventStreamConfig = {
  EVENTS_MAX_AGE_SECONDS: Type.Integer({ default: 7 * 24 * 3600, minimum: 0, description: 'How long the domain-event stream keeps an event; 0: no age limit' }),
  EVENTS_MAX_BYTES: Type.Integer({ default: 1024 ** 3, minimum: -1, description: 'Most bytes the stream keeps, oldest dropped first; -1: no size limit' }),
  EVENTS_STORAGE: Type.Union([Type.Literal('file'), Type.Literal('memory')], { default: 'file', description: 'Where JetStream keeps the stream; changing it needs the stream deleted first' }),
  EVENTS_REPLICAS: Type.Integer({ default: 1, minimum: 1, maximum: 5, description: 'Copies of the stream in a JetStream cluster' }),
  EVENTS_DUPLICATE_WINDOW_SECONDS: Type.Integer({ default: 120, minimum: 1, description: 'Within this window a republished event (same id) is stored once' }),
  OUTBOX_ORPHAN_AFTER_MS: Type.Integer({ default: 30_000, minimum: 3000, description: 'An outbox entry, or a replica\'s mark of what it published, left this long (the replica died, or lost MongoDB or NATS) is taken over by any replica: what it stored is read from the database and published. At least 3 s: marks are renewed every second' }),
  OUTBOX_SWEEP_MS: Type.Integer({ default: 5000, minimum: 100, description: 'How often a replica looks for such entries' }),
}

export interface StreamSettings {
  EVENTS_MAX_AGE_SECONDS: number
  EVENTS_MAX_BYTES: number
  EVENTS_STORAGE: 'file' | 'memory'
  EVENTS_REPLICAS: number
  EVENTS_DUPLICATE_WINDOW_SECONDS: number
}

const NANOS_PER_SECOND = 1_000_000_000

/** The stream's configuration from the settings: limits-based retention, oldest dropped first. */
export function streamConfig (name: string, subjects: string[], s: StreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: s.EVENTS_STORAGE === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: s.EVENTS_REPLICAS,
    max_age: s.EVENTS_MAX_AGE_SECONDS * NANOS_PER_SECOND,
    max_bytes: s.EVENTS_MAX_BYTES,
    duplicate_window: s.EVENTS_DUPLICATE_WINDOW_SECONDS * NANOS_PER_SECOND,
  }
}

/** JetStream's "stream not found" API error code. */
const STREAM_NOT_FOUND = 10059

/**
 * Creates the stream, or updates it to the settings: the owning service
 * runs this at start-up (and again when a publish finds the stream gone),
 * so retention and limits follow its configuration.
 */
export async function ensureStream (nc: NatsConnection, config: Partial<StreamConfig> & { name: string }, logger: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc)
  let storage: StorageType
  try {
    storage = (await jsm.streams.info(config.name)).config.storage
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== STREAM_NOT_FOUND) throw err
    await jsm.streams.add(config)
    logger.info({ stream: config.name, subjects: config.subjects }, 'domain-event stream created')
    return
  }
  // JetStream cannot move a stream between file and memory: kept as it is.
  if (storage !== config.storage) logger.warn({ stream: config.name, storage, wanted: config.storage }, 'EVENTS_STORAGE differs from the stream\'s; delete the stream to change it')
  const { name, storage: _storage, ...update } = config
  await jsm.streams.update(name, update)
}
