// The outbox against the real NATS (JetStream) and MongoDB-wire server:
// publishing order is the order changes were recorded or tracked, whatever
// order they finish in; failed changes publish nothing; an unsure change
// publishes what the database confirms; a change that never reports is
// confirmed after the orphan age; finished entries and the mark are cleaned up.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { DOMAIN_EVENT_VERSION, type DomainEvent } from '@chat/contracts'
import { ensureStream, streamConfig } from '../src/event-stream.js'
import { createLogger } from '../src/logger.js'
import { connectMongo } from '../src/mongo.js'
import { connectNats } from '../src/nats.js'
import { Outbox } from '../src/outbox.js'

const run = randomBytes(5).toString('hex')
const logger = createLogger('outbox-test', 'silent')
const { client, db } = await connectMongo(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017', `test_outbox_${run}`, 'outbox-test')
const nc = await connectNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', 'outbox-test', logger)
const stream = `TEST_OUTBOX_${run.toUpperCase()}`
const subject = `test_outbox_${run}.v1.domain.message.deleted`
const config = streamConfig(stream, [subject], { EVENTS_MAX_AGE_SECONDS: 600, EVENTS_MAX_BYTES: -1, EVENTS_STORAGE: 'memory', EVENTS_REPLICAS: 1, EVENTS_DUPLICATE_WINDOW_SECONDS: 120 })
await ensureStream(nc, config, logger)
t.teardown(async () => {
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined)
  await nc.close()
  await db.dropDatabase()
  await client.close()
})

/** An event about message `n` (a deletion: the type does not matter here). */
const ev = (n: number): DomainEvent => ({
  id: `e${n}`,
  type: 'message.deleted',
  version: DOMAIN_EVENT_VERSION,
  time: new Date().toISOString(),
  data: { conversation: { id: 1, kind: 'direct' }, messageId: n, senderId: 1 },
})

/** Message ids of the events in the stream, in stream order. */
async function published (): Promise<number[]> {
  const jsm = await jetstreamManager(nc)
  const { state } = await jsm.streams.info(stream)
  const consumer = await jetstream(nc).consumers.get(stream)
  const out: number[] = []
  while (out.length < state.messages) {
    const m = await consumer.next({ expires: 1000 })
    if (!m) break
    out.push((m.json<DomainEvent & { data: { messageId: number } }>()).data.messageId)
  }
  return out
}

async function until (want: number[]): Promise<number[]> {
  let got: number[] = []
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    got = await published()
    if (got.length >= want.length) break
  }
  return got
}

/** Confirms what the "database" says happened: even message ids. */
const confirmed = new Set([6, 8])
const outbox = new Outbox({
  db,
  nc,
  subject: () => subject,
  ensureStream: () => ensureStream(nc, config, logger),
  confirm: async (events) => events.map((e) => confirmed.has((e as { data: { messageId: number } }).data.messageId) ? e : null),
  replica: `replica-${run}`,
  orphanAfterMs: 3000,
  sweepMs: 60_000,
  logger,
})
await outbox.init()

t.test('published in the order recorded, only what was stored', async (t) => {
  const a = await outbox.record([ev(1)])
  const b = outbox.track([ev(2)])
  const c = await outbox.record([ev(3)])
  const d = outbox.track([ev(4), ev(5)])
  const e = outbox.track([ev(6), ev(7)])
  // Finished in another order than recorded; c failed; e's outcome is unknown.
  outbox.stored(d)
  outbox.failed(c)
  outbox.unsure(e)
  outbox.stored(b)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(await published(), [], 'nothing before the first recorded change finished')
  outbox.stored(a)
  t.same(await until([1, 2, 4, 5, 6]), [1, 2, 4, 5, 6], 'record order; the failed change nothing; the unsure one what was confirmed')
  // Finished entries are deleted (once a second), and the mark follows what was published.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(await db.collection('outbox').countDocuments({}), 0, 'no entry left')
  const mark = await db.collection('outbox_writers').findOne({ _id: `replica-${run}` as never })
  t.ok(mark && (mark.from as number) > Date.now() - 3000, 'the mark says everything tracked until about now is published')
})

t.test('a change that never reports is confirmed after the orphan age', async (t) => {
  const before = (await published()).length
  outbox.track([ev(8)]) // never settled: as if its write hung
  outbox.stored(outbox.track([ev(9)]))
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal((await published()).length, before, 'the later change waits for it')
  const got = await until(Array.from({ length: before + 2 }))
  t.same(got.slice(before), [8, 9], 'after 3 s: confirmed (8 happened), then the next')
})

t.test('close: the mark goes once everything tracked is out', async (t) => {
  await outbox.close()
  t.equal(await db.collection('outbox_writers').countDocuments({ _id: `replica-${run}` as never }), 0)
})
