// `pnpm --filter @chat/auth rotate-key`: makes a new generated signing key
// the active one, with the auth service's environment (MONGO_URL, MONGO_DB,
// NATS_URL, NATS_PREFIX, TOKEN_TTL_SECONDS, SIGNING_KEY_REFRESH_MS). Running
// replicas sign with it within SIGNING_KEY_REFRESH_MS; the old key stays
// published until every token it signed has expired, so nobody is logged
// out. With a configured key (TOKEN_PRIVATE_KEY[_FILE]) rotate by
// configuring the new key instead.
import { createSubjects, type JwksChangedEvent } from '@chat/contracts'
import { connectMongo, connectNats, createLogger, publishJson } from '@chat/runtime'
import { configuredKeyPem, loadAuthConfig } from './config.js'
import { addGeneratedKey, readKeys, signingKeysCollection } from './signing-keys.js'

const config = loadAuthConfig()
const logger = createLogger('rotate-key', config.LOG_LEVEL)
if (configuredKeyPem(config) !== undefined) {
  logger.error('a signing key is configured (TOKEN_PRIVATE_KEY[_FILE]): rotate by configuring the new key and restarting auth')
  process.exitCode = 1
} else {
  const { client, db } = await connectMongo(config.MONGO_URL, config.MONGO_DB, 'rotate-key')
  try {
    const col = signingKeysCollection(db)
    const docs = await readKeys(col)
    const next = Math.max(0, ...docs.map((d) => d.generation ?? 0)) + 1
    const validForMs = config.TOKEN_TTL_SECONDS * 1000 + 2 * config.SIGNING_KEY_REFRESH_MS
    const doc = await addGeneratedKey(col, next, validForMs)
    logger.info({ kid: doc.kid, generation: doc.generation }, `new signing key; replicas use it within ${config.SIGNING_KEY_REFRESH_MS} ms`)
    const nc = await connectNats(config.NATS_URL, 'rotate-key', logger)
    // Gateways fetch the key set now rather than on their next refresh.
    const event: JwksChangedEvent = { kids: [doc.kid, ...docs.map((d) => d.kid)] }
    publishJson(nc, createSubjects(config.NATS_PREFIX).jwksChanged, event)
    await nc.drain()
  } finally {
    await client.close()
  }
}
