// docs/asyncapi.yaml is what the domain events' schemas generate: a changed
// event without `pnpm asyncapi` fails here.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parse } from 'yaml'
import { asyncApiDocument, DomainEventSchemas } from '../packages/contracts/src/index.js'

t.test('docs/asyncapi.yaml is in step with the schemas', async (t) => {
  const file = parse(await readFile(new URL('../docs/asyncapi.yaml', import.meta.url), 'utf8'))
  t.same(file, JSON.parse(JSON.stringify(asyncApiDocument())), 'run `pnpm asyncapi` after changing a domain event')
  t.equal(file.asyncapi, '3.0.0')
  t.same(Object.values(file.channels).map((c: any) => c.address).sort(), Object.keys(DomainEventSchemas).map((type) => `chat.v1.domain.${type}`).sort(), 'a channel per event type')
})
