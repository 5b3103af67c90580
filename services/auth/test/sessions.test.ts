// Sessions as records, in-process against the real NATS, Redis and
// MongoDB-wire server: a token is only as good as its session record,
// revocations are durable, auth.sessions.check reports the dead ones, and a
// password change needs the current password and ends the other sessions.
import t from 'tap'
import { randomUUID, sign } from 'node:crypto'
import { Commands, QueueGroups, type SessionRevokedEvent } from '@chat/contracts'
import { CacheFallback, connectMongo, createLogger, importSigningKey, Redis, Registry, signToken } from '@chat/runtime'
import { outcome as code, startServiceUnderTest } from '@chat/runtime/testing'
import { loadAuthConfig } from '../src/config.js'
import { buildAuthService } from '../src/app.js'
import { authOptions } from '../src/options.js'
import { SessionStore } from '../src/sessions.js'
import { signingKeysCollection } from '../src/signing-keys.js'

const { client, config, events } = await startServiceUnderTest(t, {
  name: 'auth',
  tag: 'auth-sessions',
  queue: QueueGroups.auth,
  configFor: loadAuthConfig,
  // Cheap hashes: these tests register many users at once; passwords.test.ts and login.test.ts cover the real cost.
  env: { PASSWORD_SCRYPT_LOG2_N: '14' },
  setup: async (deps, config) => await buildAuthService(deps, await authOptions(config)),
})
const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, 'auth-sessions-test')
t.teardown(() => mongo.client.close())
const tokens = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }

/** The service's own signing key, read from MongoDB as an attacker with a copy of it would. */
async function serviceKey () {
  const doc = await signingKeysCollection(mongo.db).findOne({ _id: 'generated:1' })
  if (!doc?.privateKey) throw new Error('no generated key stored')
  return await importSigningKey(doc.privateKey)
}

/** Deletes every Redis key of this test's prefix: what a FLUSHALL does to it. */
async function flushCache () {
  const raw = new Redis(config.REDIS_URL)
  const keys = await raw.keys(`${config.REDIS_PREFIX}*`)
  if (keys.length > 0) await raw.unlink(...keys)
  await raw.quit()
}

/** A JWT signed with Ed25519 by hand, claims as given. */
function ed25519Jwt (key: { kid: string, privateKey: Parameters<typeof sign>[2] }, claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${part({ alg: 'EdDSA', kid: key.kid })}.${part(claims)}`
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`
}
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600

let n = 0
const register = async () => await client.call(Commands.auth.register, { username: `sess_${++n}_${Date.now()}`, password: 'old-password' })

t.test('a validly signed token for a session that does not exist is refused', async (t) => {
  const alice = await register()
  const key = await serviceKey()
  const forged = ed25519Jwt(key, { sub: String(alice.user.id), jti: randomUUID(), iss: tokens.issuer, aud: tokens.audience, exp: inAnHour() })
  t.equal(await code(client.call(Commands.auth.resume, { token: forged })), 'CHAT_TOKEN_INVALID')
  t.equal(await code(client.call(Commands.auth.resume, { token: (await signToken(tokens, key, alice.user.id, 3600)).token })), 'CHAT_TOKEN_INVALID', 'signToken alone makes no session')

  const bob = await register()
  const stolen = ed25519Jwt(key, { sub: String(alice.user.id), jti: bob.sessionId, iss: tokens.issuer, aud: tokens.audience, exp: inAnHour() })
  t.equal(await code(client.call(Commands.auth.resume, { token: stolen })), 'CHAT_TOKEN_INVALID', 'another user\'s session id does not make a session')
  t.equal(await code(client.call(Commands.auth.resume, { token: alice.token })), 'ok', 'the real token works')
})

t.test('logout is durable: clearing Redis never brings the token back', async (t) => {
  const u = await register()
  t.equal((await client.call(Commands.auth.resume, { token: u.token })).sessionId, u.sessionId, 'cached as valid')
  await client.call(Commands.auth.logout, { actorId: u.user.id, token: u.token })
  t.equal(await code(client.call(Commands.auth.resume, { token: u.token })), 'CHAT_TOKEN_INVALID')
  await flushCache()
  t.equal(await code(client.call(Commands.auth.resume, { token: u.token })), 'CHAT_TOKEN_INVALID', 'still refused after the cache is gone')
  t.same(await client.call(Commands.auth.checkSessions, { sessionIds: [u.sessionId] }), { revoked: [u.sessionId] })
  const doc = await mongo.db.collection('sessions').findOne({ _id: u.sessionId as never })
  t.ok(doc?.revokedAt instanceof Date, 'the record says revoked')
})

t.test('auth.sessions.check names revoked, expired and unknown sessions only', async (t) => {
  const live = await register()
  const gone = await register()
  await client.call(Commands.auth.logout, { actorId: gone.user.id, token: gone.token })
  const unknown = randomUUID()
  const res = await client.call(Commands.auth.checkSessions, { sessionIds: [live.sessionId, gone.sessionId, unknown] })
  t.same(res.revoked.sort(), [gone.sessionId, unknown].sort())
  t.same(await client.call(Commands.auth.checkSessions, { sessionIds: [] }), { revoked: [] })
  t.equal(await code(client.call(Commands.auth.checkSessions, { sessionIds: Array.from({ length: 1001 }, () => randomUUID()) })), 'CHAT_BAD_REQUEST', 'batches are bounded')
})

t.test('Redis down: session states come from MongoDB, and the fallback is counted', async (t) => {
  const live = await register()
  const gone = await register()
  await client.call(Commands.auth.logout, { actorId: gone.user.id, token: gone.token })
  const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  dead.on('error', () => undefined)
  t.teardown(() => { dead.disconnect() })
  const registry = new Registry()
  const logger = createLogger('auth-sessions-test', 'silent')
  const store = new SessionStore(mongo.db, dead, logger, new CacheFallback({ logger, registry }))
  const unknown = randomUUID()
  const states = await store.states([live.sessionId, gone.sessionId, unknown])
  t.same(states.get(live.sessionId), { userId: live.user.id }, 'a live session is usable')
  t.equal(states.get(gone.sessionId), undefined, 'a revoked one is not')
  t.equal(states.get(unknown), undefined)
  t.equal(states.size, 3)
  t.match(await registry.getSingleMetricAsString('chat_cache_fallbacks_total'), /cache="sessions"[^}]*\} 1/, 'one fallback for the batch')
})

t.test('changing the password needs the current one and ends the other sessions', async (t) => {
  const first = await register()
  const username = first.user.username
  const second = await client.call(Commands.auth.login, { login: username, password: 'old-password' })
  const third = await client.call(Commands.auth.login, { login: username, password: 'old-password' })
  const actorId = first.user.id

  const missing = client.call(Commands.auth.updateProfile, { actorId, password: 'new-password', sessionId: first.sessionId })
  t.equal(await code(missing), 'CHAT_CURRENT_PASSWORD_INVALID', 'no current password')
  const wrong = client.call(Commands.auth.updateProfile, { actorId, password: 'new-password', currentPassword: 'guess', sessionId: first.sessionId, nickname: 'x' })
  t.equal(await code(wrong), 'CHAT_CURRENT_PASSWORD_INVALID', 'a wrong one')
  const fourth = await client.call(Commands.auth.login, { login: username, password: 'old-password' })
  t.ok(fourth.token, 'the password did not change')
  t.equal((await client.call(Commands.auth.resume, { token: first.token })).user.nickname, '', 'nor anything else')
  t.equal(await code(client.call(Commands.auth.resume, { token: second.token })), 'ok', 'no session ended')
  t.equal(await code(client.call(Commands.auth.updateProfile, { actorId, nickname: 'no password needed' })), 'ok', 'other changes need no password')

  events.length = 0
  await client.call(Commands.auth.updateProfile, { actorId, password: 'new-password', currentPassword: 'old-password', sessionId: first.sessionId })
  t.equal(await code(client.call(Commands.auth.resume, { token: first.token })), 'ok', 'the session that changed it stays')
  t.equal(await code(client.call(Commands.auth.resume, { token: second.token })), 'CHAT_TOKEN_INVALID', 'the others end')
  t.equal(await code(client.call(Commands.auth.resume, { token: third.token })), 'CHAT_TOKEN_INVALID')
  // Everything auth published before replying has reached the test's connection once this round trip is done.
  await client.call(Commands.auth.checkSessions, { sessionIds: [] })
  const revoked = events.filter((e) => e.subject.endsWith('.evt.session.revoked')).map((e) => (e.event as SessionRevokedEvent).sessionId)
  t.same(revoked.sort(), [second.sessionId, third.sessionId, fourth.sessionId].sort(), 'each ended session is broadcast')
  await flushCache()
  t.equal(await code(client.call(Commands.auth.resume, { token: second.token })), 'CHAT_TOKEN_INVALID', 'durably')
  t.equal(await code(client.call(Commands.auth.login, { login: username, password: 'old-password' })), 'CHAT_BAD_CREDENTIALS')
  t.equal(await code(client.call(Commands.auth.login, { login: username, password: 'new-password' })), 'ok')
})

t.test('auth.jwks publishes the active public key, and only public parts', async (t) => {
  const { keys } = await client.call(Commands.auth.jwks, {})
  const key = await serviceKey()
  t.same(keys, [key.publicJwk])
  t.notOk('d' in keys[0]!)
  const u = await register()
  const header = JSON.parse(Buffer.from(u.token.split('.')[0]!, 'base64url').toString()) as { alg: string, kid: string }
  t.same(header, { alg: 'EdDSA', typ: 'JWT', kid: key.kid })
})
