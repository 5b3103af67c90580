// A consumer of one service's domain events (docs/events.md), written
// against the published contracts only: it reads that stream with a
// durable consumer (so a restart resumes where it left off), checks each
// event against its schema, skips an event it has seen (delivery is at
// least once; the id is the key), prints it as one JSON line, and
// acknowledges it.
//
//   NATS_URL      nats://127.0.0.1:4222
//   NATS_PREFIX   chat (the deployment's prefix)
//   OWNER         message | auth | contact (whose stream: CHAT_MESSAGE_EVENTS, CHAT_AUTH_EVENTS, ...)
//   CONSUMER      example-consumer (the durable name: where it left off is kept under it)
//   START         all | new | an ISO time (only when the durable consumer is first created)
import { connect } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { createValidator, domainEventNames, DomainEventOwners, DomainEventSchemas } from '@chat/contracts'

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const owner = process.env.OWNER ?? 'message'
if (!Object.hasOwn(DomainEventOwners, owner)) throw new Error(`OWNER must be one of ${Object.keys(DomainEventOwners).join(', ')}, got ${owner}`)
const stream = domainEventNames(process.env.NATS_PREFIX ?? 'chat').stream(owner)
const durable = process.env.CONSUMER ?? 'example-consumer'
const start = process.env.START ?? 'all'

const validators = Object.fromEntries(Object.entries(DomainEventSchemas).map(([type, schema]) => [type, createValidator(schema)]))

/** Event ids seen lately: a redelivery or a republish is skipped. Bounded: the oldest are forgotten. */
const seen = new Set()
const SEEN_MAX = 100_000

function startPolicy () {
  if (start === 'all') return { deliver_policy: DeliverPolicy.All }
  if (start === 'new') return { deliver_policy: DeliverPolicy.New }
  const time = new Date(start)
  if (Number.isNaN(time.getTime())) throw new Error(`START must be all, new or an ISO time, got ${start}`)
  return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: time.toISOString() }
}

const nc = await connect({ servers: natsUrl.split(','), name: `consumer ${durable}` })
const jsm = await jetstreamManager(nc)
try {
  await jsm.consumers.info(stream, durable)
} catch {
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, ...startPolicy() })
}
const consumer = await jetstream(nc).consumers.get(stream, durable)
const messages = await consumer.consume()
console.error(`consuming ${stream} as ${durable}`)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { messages.stop() })
}

for await (const msg of messages) {
  let event
  try {
    event = msg.json()
    const validate = validators[event?.type]
    if (!validate) throw new Error(`unknown type ${event?.type}`)
    validate(event)
  } catch (err) {
    // Not ours to fix: set it aside (terminated: never redelivered) and go on.
    console.error(`skipping stream message ${msg.seq}: ${err.message}`)
    msg.term()
    continue
  }
  if (!seen.has(event.id)) {
    seen.add(event.id)
    if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value)
    console.log(JSON.stringify({ seq: msg.seq, id: event.id, type: event.type, time: event.time, data: event.data }))
  }
  msg.ack()
}
await nc.drain()
