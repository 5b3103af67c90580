// Tokens and sessions across the real system (auth, two gateways, a private
// Redis): no shared or default secret, public keys at
// /.well-known/jwks.json, sessions that stay revoked when Redis is flushed,
// gateways that close revoked sessions even without the broadcast, password
// changes that end the other sessions, and key rotation that logs nobody out.
import t from 'tap'
import path from 'node:path'
import { createHmac, createPublicKey, verify as verifySignature } from 'node:crypto'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Commands } from '../packages/contracts/src/index.js'
import { connectMongo, connectNats, createCommandClient, createLogger } from '../packages/runtime/src/index.js'
import { startSystem } from './helpers/system.js'
import { startPrivateRedis, redisCommand } from './helpers/redis.js'
import { connectWs } from './helpers/ws.js'
import { http } from './helpers/http.js'
import { loginAgain, registerUser, upgradeStatus } from './helpers/typed.js'
import { cleanEnv, REPO_ROOT } from './helpers/proc.js'

/** The HS256 key the repository once published as its default. */
const OLD_DEFAULT_SECRET = 'dev-only-secret-change-me-in-production-0123456789'

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { alg: string, kid: string }
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string, sub: string }

t.test('tokens and sessions', async (t) => {
  const redisUrl = await startPrivateRedis(t)
  const sys = await startSystem(t, {
    gateways: 2,
    redisUrl,
    env: { SESSION_RECHECK_MS: '300', SIGNING_KEY_REFRESH_MS: '300' },
  })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const { client: mongo, db } = await connectMongo(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017', sys.env.MONGO_DB!, 'tokens-test')
  t.teardown(() => mongo.close())
  const logger = createLogger('tokens-test', 'silent')
  const nc = await connectNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', 'tokens-test', logger)
  t.teardown(() => nc.drain())
  const commands = createCommandClient(nc, { prefix: sys.env.NATS_PREFIX!, timeoutMs: 10_000 })

  t.test('a token signed with the old published default secret is refused on every surface', async (t) => {
    const u = await registerUser(a.wsUrl())
    t.teardown(() => u.client.close())
    const claims = { sub: String(u.userId), jti: claimsOf(u.token).jti, iss: 'chat-auth', aud: 'chat', exp: Math.floor(Date.now() / 1000) + 3600 }
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`
    const forged = `${input}.${createHmac('sha256', OLD_DEFAULT_SECRET).update(input).digest('base64url')}`
    const c = await connectWs(b.wsUrl())
    t.teardown(() => c.close())
    const res = await c.request('LOGIN_BY_TOKEN', { token: forged })
    t.equal(res.type, 'LOGIN_FAILURE')
    t.equal(res.payload.code, 'CHAT_TOKEN_INVALID')
    t.equal(await upgradeStatus(a.wsUrl(`/ws?token=${forged}`)), 401, 'at the upgrade')
    t.equal((await http(`${a.httpUrl}/Room`, { headers: { authorization: `Bearer ${forged}` } })).status, 401, 'as a bearer token')
    t.equal((await http(`${a.httpUrl}/Room`, { headers: { authorization: `Bearer ${u.token}` } })).status, 200, 'the real token works there')
  })

  t.test('every gateway publishes the same public keys; tokens name theirs', async (t) => {
    const [ja, jb] = await Promise.all([http(`${a.httpUrl}/.well-known/jwks.json`), http(`${b.httpUrl}/.well-known/jwks.json`)])
    t.equal(ja.status, 200)
    t.same(ja.body, jb.body)
    t.match(ja.headers.get('content-type'), /application\/jwk-set\+json/)
    const u = await registerUser(b.wsUrl())
    t.teardown(() => u.client.close())
    const header = headerOf(u.token)
    t.equal(header.alg, 'EdDSA')
    const jwk = ja.body.keys.find((k: { kid: string }) => k.kid === header.kid)
    t.ok(jwk, 'the token\'s kid is published')
    t.notOk('d' in jwk, 'public parts only')
    const [h, p, s] = u.token.split('.') as [string, string, string]
    t.ok(verifySignature(null, Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url')), 'anyone can verify a token with it')
  })

  t.test('a logged-out token stays refused after Redis is flushed', async (t) => {
    const u = await registerUser(a.wsUrl())
    const other = await loginAgain(b.wsUrl(), u)
    t.equal((await u.client.request('LOGOUT', { userId: u.userId })).type, 'LOGOUT_SUCCESS')
    t.equal((await other.closed).code, 4001)
    t.equal(await redisCommand(redisUrl, 'FLUSHALL'), 'OK')
    for (const g of [a, b]) {
      const c = await connectWs(g.wsUrl())
      const res = await c.request('LOGIN_BY_TOKEN', { token: u.token })
      t.equal(res.payload.code, 'CHAT_TOKEN_INVALID', 'refused after FLUSHALL')
      await c.close()
    }
    t.equal((await http(`${b.httpUrl}/Room`, { headers: { authorization: `Bearer ${u.token}` } })).status, 401)
    t.equal((await u.client.request('LOGIN', { username: u.username, password: u.password })).type, 'LOGIN_SUCCESS', 'logging in again works')
    await u.client.close()
  })

  t.test('a gateway that missed the broadcast still closes a revoked session\'s sockets', async (t) => {
    const u = await registerUser(a.wsUrl())
    const other = await loginAgain(b.wsUrl(), u)
    const unrelated = await registerUser(b.wsUrl())
    t.teardown(() => unrelated.client.close())
    // Revoked in the records only: no broadcast is sent.
    await db.collection('sessions').updateOne({ _id: claimsOf(u.token).jti as never }, { $set: { revokedAt: new Date() } })
    t.equal((await other.closed).code, 4001, 'closed by the periodic re-check')
    t.equal((await u.client.closed).code, 4001, 'on both replicas')
    t.equal((await unrelated.client.request('LOAD_CONTACTS', { userId: unrelated.userId })).type, 'CONTACTS_LOADED', 'other sessions stay')
  })

  t.test('a password change needs the current password and ends the other sessions, not the acting one', async (t) => {
    const u = await registerUser(a.wsUrl())
    t.teardown(() => u.client.close())
    const second = await connectWs(b.wsUrl())
    const login = await second.request('LOGIN', { username: u.username, password: u.password })
    t.equal(login.type, 'LOGIN_SUCCESS')
    const acting = claimsOf(u.token).jti

    // As the gateway's UPDATE_PROFILE adapter sends it.
    const wrong = commands.call(Commands.auth.updateProfile, { actorId: u.userId, password: 'brand-new', currentPassword: 'guess', sessionId: acting })
    await t.rejects(wrong, { code: 'CHAT_CURRENT_PASSWORD_INVALID' })
    t.equal((await second.request('LOAD_CONTACTS', { userId: u.userId })).type, 'CONTACTS_LOADED', 'nothing ended')

    await commands.call(Commands.auth.updateProfile, { actorId: u.userId, password: 'brand-new', currentPassword: u.password, sessionId: acting })
    t.equal((await second.closed).code, 4001, 'the other session\'s socket is closed')
    t.equal((await u.client.request('LOAD_CONTACTS', { userId: u.userId })).type, 'CONTACTS_LOADED', 'the acting session stays')
    const c = await connectWs(a.wsUrl())
    t.teardown(() => c.close())
    t.equal((await c.request('LOGIN_BY_TOKEN', { token: login.payload.token })).payload.code, 'CHAT_TOKEN_INVALID')
    t.equal((await c.request('LOGIN', { username: u.username, password: 'brand-new' })).type, 'LOGIN_SUCCESS')
  })

  t.test('rotating the generated key logs nobody out', async (t) => {
    const u = await registerUser(a.wsUrl())
    t.teardown(() => u.client.close())
    const oldKid = headerOf(u.token).kid
    await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'services/auth/dist/rotate-key.js')], {
      env: cleanEnv({ ...sys.env, REDIS_URL: redisUrl, SIGNING_KEY_REFRESH_MS: '300' }),
    })
    // Auth re-reads its keys every 300 ms: wait for a login signed with the new key.
    let token = u.token
    for (let i = 0; i < 100 && headerOf(token).kid === oldKid; i++) {
      token = (await commands.call(Commands.auth.login, { login: u.username, password: u.password })).token
    }
    const newKid = headerOf(token).kid
    t.not(newKid, oldKid, 'new logins are signed with the new key')
    for (const g of [a, b]) {
      const { body } = await http(`${g.httpUrl}/.well-known/jwks.json`)
      const published = body.keys.map((k: { kid: string }) => k.kid)
      t.ok(published.includes(oldKid) && published.includes(newKid), 'both keys are published')
      const c = await connectWs(g.wsUrl())
      t.equal((await c.request('LOGIN_BY_TOKEN', { token: u.token })).type, 'LOGIN_SUCCESS', 'the old token still works')
      t.equal((await c.request('LOGIN_BY_TOKEN', { token })).type, 'LOGIN_SUCCESS', 'the new one too')
      await c.close()
    }
    t.equal((await u.client.request('LOAD_CONTACTS', { userId: u.userId })).type, 'CONTACTS_LOADED', 'open sockets stay')
  })
})
