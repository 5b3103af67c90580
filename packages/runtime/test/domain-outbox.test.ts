// openDomainOutbox and recordChange against the real NATS (JetStream) and
// MongoDB-wire server: how a change's outcome decides what is published
// (stored, refused, not made, unknown), and that two owners' outboxes in
// one database each take over only their own orphaned entries.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { jetstreamManager } from '@nats-io/jetstream'
import { ChatError, DOMAIN_EVENT_VERSION, type DomainEvent } from '@chat/contracts'
import { domainEventSettings, openDomainOutbox, recordChange } from '../src/domain-outbox.js'
import { createLogger } from '../src/logger.js'
import { createMetricsRegistry } from '../src/metrics.js'
import { connectMongo } from '../src/mongo.js'
import { connectNats } from '../src/nats.js'
import type { ServiceDeps } from '../src/service.js'
import { readDomainEvents, removeDomainStreams } from '../src/testing.js'

const run = randomBytes(5).toString('hex')
const prefix = `test_domain_outbox_${run}`
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const logger = createLogger('domain-outbox-test', 'silent')
const { client, db } = await connectMongo(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017', prefix, 'domain-outbox-test')
const nc = await connectNats(natsUrl, 'domain-outbox-test', logger)
t.teardown(async () => {
  await removeDomainStreams(natsUrl, prefix)
  await nc.close()
  await db.dropDatabase()
  await client.close()
})

const settings = domainEventSettings({
  NATS_PREFIX: prefix,
  EVENTS_MAX_AGE_SECONDS: 600,
  EVENTS_MAX_BYTES: -1,
  EVENTS_STORAGE: 'memory',
  EVENTS_REPLICAS: 1,
  EVENTS_DUPLICATE_WINDOW_SECONDS: 120,
  OUTBOX_ORPHAN_AFTER_MS: 3000,
  OUTBOX_SWEEP_MS: 200,
})
/** Only what outboxes use of a service's connections; each gets its own metrics. */
const deps = () => ({ nc, db, logger, registry: createMetricsRegistry('test') }) as unknown as ServiceDeps

/** A contact event for contact `n` (the type does not matter here). */
const ev = (n: number): DomainEvent => ({
  id: `contact.added:1:${n}:0`,
  type: 'contact.added',
  version: DOMAIN_EVENT_VERSION,
  time: new Date().toISOString(),
  data: { userId: 1, contactId: n, addedAt: new Date(0).toISOString() },
})
const contactIds = async () => (await readDomainEvents(natsUrl, prefix, 'contact')).map((e) => (e.event as Extract<DomainEvent, { type: 'contact.added' }>).data.contactId)

/** What each outbox was asked to confirm. */
const asked: Record<'auth' | 'contact', string[]> = { auth: [], contact: [] }
/** Confirms contacts with even numbers. */
const confirmEven = (owner: 'auth' | 'contact') => async (events: DomainEvent[]) => {
  asked[owner].push(...events.map((e) => e.id))
  return events.map((e) => e.type === 'contact.added' && e.data.contactId % 2 === 0 ? e : null)
}
const contact = await openDomainOutbox(deps(), 'contact', settings, confirmEven('contact'))
const auth = await openDomainOutbox(deps(), 'auth', settings, confirmEven('auth'))
t.teardown(async () => { await Promise.all([contact.close(), auth.close()]) })

async function until (want: number): Promise<number[]> {
  let got: number[] = []
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
    got = await contactIds()
    if (got.length >= want) break
  }
  return got
}

t.test('the stream is made at start-up, on the owner\'s subjects', async (t) => {
  const info = await (await jetstreamManager(nc)).streams.info(`${prefix.toUpperCase()}_CONTACT_EVENTS`)
  t.same(info.config.subjects, [`${prefix}.v1.domain.contact.added`, `${prefix}.v1.domain.contact.removed`])
})

t.test('recordChange: what the write says decides what is published', async (t) => {
  t.equal(await recordChange(contact, [ev(1)], async () => 'done'), 'done', 'stored: the write\'s result')
  await t.rejects(recordChange(contact, [ev(3)], async () => { throw new ChatError('CHAT_CONTACT_EXISTS') }), { code: 'CHAT_CONTACT_EXISTS' }, 'refused')
  t.equal(await recordChange(contact, [ev(5)], async () => false, (made) => made), false, 'not made')
  await recordChange(contact, [ev(6), ev(7)], async () => 1, () => 'unsure')
  await t.rejects(recordChange(contact, [ev(8)], async () => { throw new Error('connection lost') }), /connection lost/, 'outcome unknown')
  t.equal(await recordChange(contact, [], async () => 'no events'), 'no events', 'no events: just the write')
  t.same(await until(3), [1, 6, 8], 'the stored change; of the unsure ones, what the database confirms')
  t.same(asked.contact, [ev(6).id, ev(7).id, ev(8).id], 'only unsure changes are confirmed')
})

t.test('two owners in one database: each takes over only its own orphaned entries', async (t) => {
  const old = new Date(Date.now() - 60_000)
  await db.collection('contact_outbox').insertOne({ _id: 'orphan-contact', owner: 'dead', at: old, events: [ev(10), ev(11)] } as never)
  await db.collection('auth_outbox').insertOne({ _id: 'orphan-auth', owner: 'dead', at: old, events: [] } as never)
  await until(4)
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same((await contactIds()).slice(3), [10], 'the contact outbox confirmed and published its entry')
  for (const deadline = Date.now() + 5000; Date.now() < deadline && await db.collection('contact_outbox').countDocuments() > 0;) await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(await db.collection('contact_outbox').countDocuments(), 0, 'and deleted it')
  t.same(asked.auth, [], 'the auth outbox never saw it')
  t.equal(await db.collection('outbox').countDocuments(), 0, 'nothing in the default collection')
  t.equal(await db.collection('auth_outbox_writers').countDocuments() + await db.collection('contact_outbox_writers').countDocuments(), 0,
    'no marks: they track no creations')
})
