import { DOMAIN_EVENT_VERSION, DomainEventOwners, DomainEventSchemas, domainEventNames, type DomainEventType } from './domain-events.js'

/** `message.created` → `messageCreated`: the AsyncAPI component and channel ids. */
function camel (type: DomainEventType): string {
  return type.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase())
}

/** A TypeBox schema as plain JSON Schema (TypeBox's own symbol keys dropped). */
function plain (schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema))
}

/**
 * The AsyncAPI 3 document of the domain events, built from the schemas the
 * services publish with, so it cannot drift from them (`pnpm asyncapi`
 * writes docs/asyncapi.yaml; a test compares the two).
 */
export function asyncApiDocument (prefix = 'chat') {
  const names = domainEventNames(prefix)
  const owners = Object.entries(DomainEventOwners) as Array<[keyof typeof DomainEventOwners, readonly DomainEventType[]]>
  const types = owners.flatMap(([owner, list]) => list.map((type) => ({ owner, type })))
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat domain events',
      version: String(DOMAIN_EVENT_VERSION),
      description: 'Durable events of the chat backend in JetStream, one stream per owning service, each event published only after its change is stored, at least once, under its `id` (also the `Nats-Msg-Id`). See docs/events.md for the guarantees. Subjects here use the default NATS_PREFIX, `chat`.',
    },
    defaultContentType: 'application/json',
    channels: Object.fromEntries(types.map(({ owner, type }) => [camel(type), {
      address: names.subject(type),
      description: `Stored in the JetStream stream ${names.stream(owner)}, owned by the ${owner} service.`,
      messages: { [camel(type)]: { $ref: `#/components/messages/${camel(type)}` } },
    }])),
    operations: Object.fromEntries(types.map(({ owner, type }) => [`publish${camel(type).replace(/^./, (c) => c.toUpperCase())}`, {
      action: 'send',
      summary: `The ${owner} service publishes ${type} once the change is stored.`,
      channel: { $ref: `#/channels/${camel(type)}` },
      messages: [{ $ref: `#/channels/${camel(type)}/messages/${camel(type)}` }],
    }])),
    components: {
      messages: Object.fromEntries(types.map(({ type }) => [camel(type), {
        name: type,
        contentType: 'application/json',
        headers: {
          type: 'object',
          properties: { 'Nats-Msg-Id': { type: 'string', description: 'The event id: JetStream stores an event published again within the duplicate window once' } },
        },
        payload: { $ref: `#/components/schemas/${camel(type)}` },
      }])),
      schemas: Object.fromEntries(types.map(({ type }) => [camel(type), plain(DomainEventSchemas[type])])),
    },
  }
}
