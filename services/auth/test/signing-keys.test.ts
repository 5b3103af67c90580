// The auth service's signing keys against the real MongoDB-wire server:
// replicas starting at once on a fresh database agree on one key, a
// configured key takes over while older keys stay published, rotation keeps
// the old key until its tokens have expired.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { Jwks } from '@chat/contracts'
import { connectMongo, createLogger, generateSigningKey } from '@chat/runtime'
import { addGeneratedKey, readKeys, SigningKeys, signingKeysCollection } from '../src/signing-keys.js'

const mongo = await connectMongo(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017', `test_keys_${randomBytes(5).toString('hex')}`, 'signing-keys-test')
t.teardown(async () => {
  await mongo.db.dropDatabase()
  await mongo.client.close()
})
const logger = createLogger('signing-keys-test', 'silent')
const kids = (jwks: Jwks) => jwks.keys.map((k) => k.kid).sort()

function replica (t: { teardown: (fn: () => unknown) => void }, db = mongo.db, opts: { configured?: Awaited<ReturnType<typeof generateSigningKey>>, changes?: Jwks[] } = {}) {
  const keys = new SigningKeys(db, {
    configured: opts.configured,
    tokenTtlSeconds: 3600,
    refreshMs: 60_000,
    logger,
    onChange: (jwks) => opts.changes?.push(jwks),
  })
  t.teardown(() => keys.close())
  return keys
}

t.test('replicas starting together on a fresh database converge on one generated key', async (t) => {
  const db = mongo.client.db(`${mongo.db.databaseName}_fresh`)
  t.teardown(() => db.dropDatabase())
  const replicas = Array.from({ length: 6 }, () => replica(t, db))
  await Promise.all(replicas.map((r) => r.start()))
  const active = new Set(replicas.map((r) => r.active.kid))
  t.equal(active.size, 1, 'one active key')
  const docs = await readKeys(signingKeysCollection(db))
  t.equal(docs.length, 1, 'one key stored')
  t.equal(docs[0]?._id, 'generated:1')
  t.same(kids(replicas[0]!.jwks), [...active])
})

t.test('a configured key becomes active; earlier keys stay published; rotation keeps the old key', async (t) => {
  const changes: Jwks[] = []
  const generated = replica(t, mongo.db, { changes })
  await generated.start()
  const first = generated.active.kid
  t.same(changes.map(kids), [[first]], 'the first load announces the key set')

  const own = await generateSigningKey()
  const configured = replica(t, mongo.db, { configured: own })
  await configured.start()
  t.equal(configured.active.kid, own.kid, 'the configured key signs')
  t.same(kids(configured.jwks), [first, own.kid].sort(), 'the generated key stays published')
  t.notOk(JSON.stringify(await readKeys(signingKeysCollection(mongo.db))).includes(own.pem.split('\n')[1]!), 'a configured private key is never stored')

  await generated.reload()
  t.same(kids(generated.jwks), [first, own.kid].sort(), 'every replica publishes every live key')
  t.equal(changes.length, 2, 'the change was announced')

  const second = await addGeneratedKey(signingKeysCollection(mongo.db), 2, 3_600_000)
  await generated.reload()
  t.equal(generated.active.kid, second.kid, 'rotation: the newest generation signs')
  t.same(kids(generated.jwks), [first, own.kid, second.kid].sort(), 'the old keys stay published')

  // The first key's tokens have all expired: it is dropped, and deleted.
  await signingKeysCollection(mongo.db).updateOne({ _id: 'generated:1' }, { $set: { validUntil: new Date(Date.now() - 1000) } })
  await generated.reload()
  t.same(kids(generated.jwks), [own.kid, second.kid].sort())
  t.equal(await signingKeysCollection(mongo.db).countDocuments({ _id: 'generated:1' }), 0)
})
