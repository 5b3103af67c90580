// Test support, exported as `@chat/runtime/testing` and never from the main
// entry: production code has no reason to import it. It depends on no test
// framework; anything with `teardown(fn)` (a tap test, say) will do.
import { randomBytes } from 'node:crypto'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { ChatError, domainEventNames, type DomainEvent, type DomainEventOwner } from '@chat/contracts'
import { createLogger, type Logger } from './logger.js'
import { connectMongo } from './mongo.js'
import {
  connectNats, createCommandClient, serveCommands, type CommandClient, type CommandHandlers, type CommandServer, type NatsConnection,
} from './nats.js'
import { Redis } from './redis.js'
import { startService, type RunningService, type ServiceDeps, type ServiceParts, type ServiceSettings } from './service.js'

/** The one thing the harness needs from a test framework. */
export interface Teardown {
  teardown (fn: () => unknown): void
}

/** An event the harness saw published under `<prefix>.evt.>`. */
export interface CapturedEvent<E = unknown> {
  subject: string
  event: E
}

export interface ServiceUnderTestOptions<C extends ServiceSettings> {
  /** The service's name, as given to `startService`. */
  name: string
  /** Its queue group. */
  queue: string
  /**
   * Namespace tag for the NATS prefix, database, Redis prefix and logger
   * (letters, digits, `-`); defaults to `name`. Files testing the same
   * service give different tags to keep their logs apart.
   */
  tag?: string
  /** Loads the service's config from an environment, e.g. `loadContactConfig`. */
  configFor: (env: Record<string, string | undefined>) => C
  /** Builds the service, as in `startService`; also gets the loaded config. */
  setup: (deps: ServiceDeps, config: C) => Promise<ServiceParts>
  /** Stub responders for other services' commands, served in queue group `stubs`. */
  stubs?: CommandHandlers
  /** Extra settings, applied over the isolating ones. */
  env?: Record<string, string>
  /** The test client's command timeout; 10 s unless given. */
  timeoutMs?: number
}

export interface ServiceUnderTest<C extends ServiceSettings> {
  service: RunningService
  config: C
  /** The test's own NATS connection (separate from the service's). */
  nc: NatsConnection
  /** Calls commands under the test prefix. */
  client: CommandClient
  /** Every event published under the test prefix, in arrival order; tests may take entries off. */
  events: CapturedEvent[]
  logger: Logger
}

/**
 * Starts a NATS service in-process against the real NATS, Redis and MongoDB
 * configured in the environment, isolated by a random NATS prefix, database
 * and Redis key prefix (HTTP on a free loopback port, logs silent unless
 * TEST_VERBOSE is set). Registers teardown on `t`: the service, the stubs
 * and the test connection are closed, the database dropped and the Redis
 * keys deleted. Events are being captured once this resolves.
 */
export async function startServiceUnderTest<C extends ServiceSettings> (
  t: Teardown,
  opts: ServiceUnderTestOptions<C>
): Promise<ServiceUnderTest<C>> {
  const tag = opts.tag ?? opts.name
  const run = randomBytes(5).toString('hex')
  const ns = `test_${tag.replaceAll('-', '_')}_${run}`
  const config = opts.configFor({
    ...process.env,
    NATS_PREFIX: ns,
    MONGO_DB: ns,
    REDIS_PREFIX: `test:${tag}:${run}:`,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.TEST_VERBOSE ? 'debug' : 'silent',
    ...opts.env,
  })
  const logger = createLogger(`${tag}-test`, config.LOG_LEVEL)
  // What is open so far, closed in this order even if starting failed midway.
  const open: { service?: RunningService, stubs?: CommandServer, nc?: NatsConnection } = {}
  t.teardown(async () => {
    await open.service?.close()
    await open.stubs?.stop()
    await open.nc?.drain()
    await removeData(config, `${tag}-test`)
  })

  const service = open.service = await startService({
    name: opts.name,
    queue: opts.queue,
    config,
    logger,
    setup: (deps) => opts.setup(deps, config),
  })
  const nc = open.nc = await connectNats(config.NATS_URL, `${tag}-test`, logger)
  if (opts.stubs) open.stubs = serveCommands(nc, { prefix: config.NATS_PREFIX, queue: 'stubs', logger, handlers: opts.stubs })
  const client = createCommandClient(nc, { prefix: config.NATS_PREFIX, timeoutMs: opts.timeoutMs ?? 10000 })
  const events: CapturedEvent[] = []
  nc.subscribe(`${client.subjects.base}.evt.>`, {
    callback: (_err, msg) => { events.push({ subject: msg.subject, event: msg.json() }) },
  })
  await nc.flush()
  return { service, config, nc, client, events, logger }
}

/** Drops the test database and deletes the test's Redis keys. */
async function removeData (config: ServiceSettings, appName: string): Promise<void> {
  await removeDomainStreams(config.NATS_URL, config.NATS_PREFIX, appName)
  const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, appName)
  await mongo.db.dropDatabase().catch(() => undefined)
  await mongo.client.close()
  const raw = new Redis(config.REDIS_URL)
  const keys = await raw.keys(`${config.REDIS_PREFIX}*`)
  if (keys.length > 0) await raw.unlink(...keys)
  await raw.quit()
}

/** Awaits `p`: `'ok'` if it resolves, the `ChatError` code (or the error as text) if it rejects. */
export async function outcome (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    return err instanceof ChatError ? err.code : String(err)
  }
}

/** Deletes the domain-event streams of a NATS prefix (a test's namespace). */
export async function removeDomainStreams (natsUrl: string, prefix: string, appName = 'test-cleanup'): Promise<void> {
  const nc = await connectNats(natsUrl, appName, createLogger(appName, 'silent'))
  try {
    const jsm = await jetstreamManager(nc)
    const mine = domainEventNames(prefix).streamPrefix
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(mine)) await jsm.streams.delete(name).catch(() => undefined)
    }
  } finally {
    await nc.close()
  }
}

/**
 * Every event an owner's domain-event stream holds, oldest first, with the
 * stream's sequence of each: what a consumer starting from the beginning reads.
 */
export async function readDomainEvents (natsUrl: string, prefix: string, owner: DomainEventOwner): Promise<Array<{ seq: number, subject: string, msgId: string | undefined, event: DomainEvent }>> {
  const nc = await connectNats(natsUrl, 'test-reader', createLogger('test-reader', 'silent'))
  try {
    const name = domainEventNames(prefix).stream(owner)
    const jsm = await jetstreamManager(nc)
    const { state } = await jsm.streams.info(name)
    const consumer = await jetstream(nc).consumers.get(name)
    const out: Array<{ seq: number, subject: string, msgId: string | undefined, event: DomainEvent }> = []
    while (out.length < state.messages) {
      const msg = await consumer.next({ expires: 2000 })
      if (msg === null) break
      out.push({ seq: msg.seq, subject: msg.subject, msgId: msg.headers?.get('Nats-Msg-Id'), event: msg.json<DomainEvent>() })
    }
    return out
  } finally {
    await nc.close()
  }
}
