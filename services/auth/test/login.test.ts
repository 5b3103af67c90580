// The login command in-process against the real NATS, Redis and
// MongoDB-wire server: failed logins throttled with a retry-after that
// crosses NATS, and stored hashes with old scrypt parameters upgraded.
import t from 'tap'
import { ChatError, Commands, QueueGroups } from '@chat/contracts'
import { connectMongo } from '@chat/runtime'
import { outcome as code, startServiceUnderTest } from '@chat/runtime/testing'
import { loadAuthConfig, loginThrottleSettings } from '../src/config.js'
import { buildAuthService } from '../src/app.js'
import { authOptions } from '../src/options.js'
import { hashPassword, verifyPassword } from '../src/passwords.js'

const { client, config } = await startServiceUnderTest(t, {
  name: 'auth',
  tag: 'auth-login',
  queue: QueueGroups.auth,
  configFor: loadAuthConfig,
  // No delays, so the test runs quickly; delays are login-throttle.test.ts's business.
  env: { LOGIN_THROTTLE_ACCOUNT_MAX: '4', LOGIN_THROTTLE_ADDRESS_MAX: '6', LOGIN_THROTTLE_LOCK_SECONDS: '300', LOGIN_THROTTLE_DELAY_MS: '0' },
  setup: async (deps, config) => await buildAuthService(deps, { ...await authOptions(config), loginThrottle: loginThrottleSettings(config) }),
})
const mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, 'auth-login-test')
t.teardown(() => mongo.client.close())
const users = mongo.db.collection<{ _id: number, passwordHash: string }>('users')

async function rejection (p: Promise<unknown>): Promise<ChatError> {
  try {
    await p
  } catch (err) {
    if (err instanceof ChatError) return err
    throw err
  }
  throw new Error('expected a rejection')
}

t.test('wrong passwords lock the account; the refusal carries its retry-after over NATS', async (t) => {
  const alice = await client.call(Commands.auth.register, { username: 'throttle_alice', password: 'right-pw', email: 'alice@example.test' })
  for (let i = 0; i < 2; i++) t.equal(await code(client.call(Commands.auth.login, { login: 'throttle_alice', password: 'wrong' })), 'CHAT_BAD_CREDENTIALS')
  t.equal((await client.call(Commands.auth.login, { login: 'throttle_alice', password: 'right-pw' })).user.id, alice.user.id, 'a success starts afresh')
  // Username and e-mail address are one account.
  for (const login of ['throttle_alice', 'ALICE@example.test', 'Throttle_Alice', 'alice@example.test']) {
    t.equal(await code(client.call(Commands.auth.login, { login, password: 'wrong' })), 'CHAT_BAD_CREDENTIALS')
  }
  const refused = await rejection(client.call(Commands.auth.login, { login: 'throttle_alice', password: 'right-pw' }))
  t.equal(refused.code, 'CHAT_LOGIN_THROTTLED', 'even the right password, while locked')
  t.equal(refused.status, 429)
  t.ok(refused.retryAfterSeconds !== undefined && refused.retryAfterSeconds > 0 && refused.retryAfterSeconds <= 300, `retry after ${refused.retryAfterSeconds} s`)
  t.equal(await code(client.call(Commands.auth.login, { login: 'someone_else', password: 'x' })), 'CHAT_BAD_CREDENTIALS', 'other accounts are not locked')
})

t.test('unknown logins are throttled like known ones', async (t) => {
  for (let i = 0; i < 4; i++) t.equal(await code(client.call(Commands.auth.login, { login: 'nobody_here', password: 'x' })), 'CHAT_BAD_CREDENTIALS')
  t.equal(await code(client.call(Commands.auth.login, { login: 'NOBODY_HERE', password: 'x' })), 'CHAT_LOGIN_THROTTLED')
})

t.test('one client address spraying accounts is locked out of all of them', async (t) => {
  const bob = await client.call(Commands.auth.register, { username: 'throttle_bob', password: 'bob-pw' })
  const clientAddress = '203.0.113.50'
  for (let i = 0; i < 6; i++) {
    t.equal(await code(client.call(Commands.auth.login, { login: `spray_${i}`, password: 'x', clientAddress })), 'CHAT_BAD_CREDENTIALS')
  }
  const refused = await rejection(client.call(Commands.auth.login, { login: 'throttle_bob', password: 'bob-pw', clientAddress }))
  t.equal(refused.code, 'CHAT_LOGIN_THROTTLED')
  t.equal(refused.retryAfterSeconds, 300)
  t.equal((await client.call(Commands.auth.login, { login: 'throttle_bob', password: 'bob-pw', clientAddress: '203.0.113.51' })).user.id, bob.user.id, 'from elsewhere bob gets in')
  t.equal(await code(client.call(Commands.auth.login, { login: 'throttle_bob', password: 'bob-pw', clientAddress: 'not an ip!' })), 'CHAT_BAD_REQUEST', 'the address is validated')
})

t.test('a hash with old scrypt parameters is upgraded at the next successful login', async (t) => {
  const carol = await client.call(Commands.auth.register, { username: 'rehash_carol', password: 'carol-pw' })
  const old = await hashPassword('carol-pw', { N: 2 ** 14, r: 8, p: 1 })
  await users.updateOne({ _id: carol.user.id }, { $set: { passwordHash: old } })

  t.equal(await code(client.call(Commands.auth.login, { login: 'rehash_carol', password: 'wrong' })), 'CHAT_BAD_CREDENTIALS')
  t.equal((await users.findOne({ _id: carol.user.id }))?.passwordHash, old, 'a failed login changes nothing')

  t.equal((await client.call(Commands.auth.login, { login: 'rehash_carol', password: 'carol-pw' })).user.id, carol.user.id, 'the old hash still logs in')
  const upgraded = (await users.findOne({ _id: carol.user.id }))?.passwordHash ?? ''
  t.match(upgraded, /^scrypt\$131072\$8\$1\$/, 'now stored with today\'s parameters')
  t.ok(await verifyPassword('carol-pw', upgraded))
  t.equal((await client.call(Commands.auth.login, { login: 'rehash_carol', password: 'carol-pw' })).user.id, carol.user.id, 'and logs in')
  t.equal((await users.findOne({ _id: carol.user.id }))?.passwordHash, upgraded, 'an up-to-date hash is left alone')
  t.equal(await code(client.call(Commands.auth.login, { login: 'rehash_carol', password: 'wrong' })), 'CHAT_BAD_CREDENTIALS')
})
