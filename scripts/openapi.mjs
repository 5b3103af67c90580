#!/usr/bin/env node
// Writes docs/openapi.json: the OpenAPI document of the gateway's HTTP APIs,
// generated from the route schemas exactly as a gateway serves it at
// /docs/json. Run `pnpm openapi` after changing a route (a test compares
// the file with what a running gateway serves). Needs `pnpm build` and NATS
// (the gateway connects to it while it is built).
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { buildGateway } from '../services/gateway/dist/app.js'
import { loadGatewayConfig } from '../services/gateway/dist/config.js'
import { createLogger } from '../packages/runtime/dist/index.js'

const target = fileURLToPath(new URL('../docs/openapi.json', import.meta.url))
// Defaults only, so the document never depends on a developer's environment.
const config = loadGatewayConfig({ NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', NATS_PREFIX: 'openapi' })
const app = await buildGateway(config, { logger: createLogger('openapi', 'warn') })
await app.ready()
await writeFile(target, JSON.stringify(app.swagger(), null, 2) + '\n')
await app.close()
console.log(`wrote ${target}`)
