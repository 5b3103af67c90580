// Login throttling against the real Redis: counted per account and per
// client address, shared by every replica (two throttles over one Redis
// here), delays that double, then locks that refuse with the time left.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { ChatError } from '@chat/contracts'
import { createRedis } from '@chat/runtime'
import { accountKey, addressKey, delayFor, LoginThrottle, retryAfterSeconds, type LoginThrottleSettings } from '../src/login-throttle.js'
import { DEFAULT_LOGIN_THROTTLE, loadAuthConfig, loginThrottleSettings } from '../src/config.js'

const prefix = `test:login-throttle:${randomBytes(5).toString('hex')}:`
const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix)
t.teardown(async () => {
  const raw = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', '')
  const keys = await raw.keys(`${prefix}*`)
  if (keys.length > 0) await raw.unlink(...keys)
  await Promise.all([raw.quit(), redis.quit()])
})

const SETTINGS: LoginThrottleSettings = {
  windowSeconds: 600, accountMaxFailures: 5, addressMaxFailures: 8, lockSeconds: 120, freeFailures: 2, delayMs: 100, maxDelayMs: 350,
}

/** A throttle whose waits are recorded, not slept (no timed assertions). */
function throttle (settings = SETTINGS) {
  const waits: number[] = []
  return { waits, throttle: new LoginThrottle(redis, settings, async (ms) => { waits.push(ms) }) }
}
const account = () => accountKey(undefined, `user_${randomBytes(4).toString('hex')}`)
const address = () => `198.51.100.${1 + randomBytes(1)[0]! % 250}`
const OTHER_ADDRESS = '192.0.2.1'

async function refusal (p: Promise<unknown>): Promise<ChatError | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    if (err instanceof ChatError) return err
    throw err
  }
}

t.test('delays double after the free failures, up to the maximum', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 40].map((n) => delayFor(n, SETTINGS)), [0, 0, 100, 200, 350, 350, 350])
  t.equal(delayFor(5000, { freeFailures: 0, delayMs: 1, maxDelayMs: 10 }), 10, 'no overflow')
  t.same([1, 999, 1000, 1001, 120000].map(retryAfterSeconds), [1, 1, 1, 2, 120])
})

t.test('client addresses: IPv4 as is, IPv6 by its /64, mapped IPv4 as IPv4', async (t) => {
  t.equal(addressKey('203.0.113.9'), '203.0.113.9')
  t.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9')
  t.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:0DB8:1:2:ffff:1:2:3'), 'one /64, one counter')
  t.not(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'))
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  t.equal(addressKey('64:ff9b:1:2::192.0.2.1'), '64:ff9b:1:2::/64')
})

t.test('accounts: by user id when known, else by the login as typed, in any case', async (t) => {
  t.equal(accountKey(7, 'alice'), accountKey(7, 'alice@example.com'), 'username and e-mail share one count')
  t.not(accountKey(7, 'x'), accountKey(8, 'x'))
  t.equal(accountKey(undefined, ' Nobody '), accountKey(undefined, 'nobody'))
  t.match(accountKey(undefined, 'a'.repeat(254)), /^[A-Za-z0-9_-]{22}$/, 'short keys')
})

t.test('an account: free failures, then doubling delays, then a lock the right password cannot pass', async (t) => {
  const { waits, throttle: th } = throttle()
  const acct = account()
  for (let i = 0; i < SETTINGS.accountMaxFailures; i++) await th.begin(acct) // each one failed
  t.same(waits, [100, 200, 350], 'no delay for the first two, then 100, 200, capped at 350')
  const refused = await refusal(th.begin(acct))
  t.equal(refused?.code, 'CHAT_LOGIN_THROTTLED')
  t.equal(refused?.status, 429)
  t.equal(refused?.retryAfterSeconds, SETTINGS.lockSeconds, 'how long the lock lasts')
  const again = await refusal(th.begin(acct))
  t.equal(again?.code, 'CHAT_LOGIN_THROTTLED', 'still refused: no attempt can check a password now')
  t.ok(again!.retryAfterSeconds! >= 1 && again!.retryAfterSeconds! <= SETTINGS.lockSeconds)
  t.equal(await redis.exists(`login:fail:acct:${acct}`), 0, 'the lock replaces the count')
  t.ok(await redis.pttl(`login:lock:acct:${acct}`) > 0)
  t.equal((await refusal(th.begin(account()))), undefined, 'other accounts are not affected')
})

t.test('a success starts the account afresh', async (t) => {
  const { waits, throttle: th } = throttle()
  const acct = account()
  for (let i = 0; i < 3; i++) await th.begin(acct)
  await th.succeeded(await th.begin(acct))
  waits.length = 0
  for (let i = 0; i < 2; i++) await th.begin(acct)
  t.same(waits, [], 'the free failures again')
})

t.test('every replica sees the same counts: two throttles over one Redis', async (t) => {
  const one = throttle()
  const two = throttle()
  const acct = account()
  for (let i = 0; i < SETTINGS.accountMaxFailures; i++) await (i % 2 === 0 ? one : two).throttle.begin(acct)
  t.equal((await refusal(one.throttle.begin(acct)))?.code, 'CHAT_LOGIN_THROTTLED')
  t.equal((await refusal(two.throttle.begin(acct)))?.code, 'CHAT_LOGIN_THROTTLED')
})

t.test('guesses sent all at once are counted before any password is checked', async (t) => {
  const { throttle: th } = throttle()
  const acct = account()
  const outcomes = await Promise.all(Array.from({ length: 50 }, async () => (await refusal(th.begin(acct)))?.code ?? 'ok'))
  t.equal(outcomes.filter((o) => o === 'ok').length, SETTINGS.accountMaxFailures, 'only the allowed number get to try')
})

t.test('one address trying many accounts is locked, for every account', async (t) => {
  const { throttle: th } = throttle()
  const ip = address()
  for (let i = 0; i < SETTINGS.addressMaxFailures; i++) await th.begin(account(), ip)
  const refused = await refusal(th.begin(account(), ip))
  t.equal(refused?.code, 'CHAT_LOGIN_THROTTLED')
  t.equal(refused?.retryAfterSeconds, SETTINGS.lockSeconds)
  t.equal((await refusal(th.begin(account(), ip)))?.code, 'CHAT_LOGIN_THROTTLED', 'any account, from there')
  t.equal(await refusal(th.begin(account(), OTHER_ADDRESS)), undefined, 'other addresses may still log in')
  t.equal(await refusal(th.begin(account())), undefined, 'and so may clients without a known address')
})

t.test('successes from an address give their attempt back, never below zero', async (t) => {
  const { throttle: th } = throttle()
  const ip = '2001:db8:77:1::5'
  for (let i = 0; i < 20; i++) await th.succeeded(await th.begin(account(), ip))
  t.equal(Number(await redis.get(`login:fail:addr:${addressKey(ip)}`) ?? 0), 0)
  await th.succeeded({ keys: { account: account(), address: addressKey(ip) }, delayedMs: 0 })
  t.equal(Number(await redis.get(`login:fail:addr:${addressKey(ip)}`) ?? 0), 0)
  t.equal(await refusal(th.begin(account(), '2001:db8:77:1:ffff::9')), undefined, 'the same /64 is still welcome')
})

t.test('settings come from the env schema, with documented defaults', async (t) => {
  t.same(loginThrottleSettings(loadAuthConfig({})), DEFAULT_LOGIN_THROTTLE)
  t.match(DEFAULT_LOGIN_THROTTLE, { windowSeconds: 900, accountMaxFailures: 10, addressMaxFailures: 100, lockSeconds: 900, freeFailures: 3, delayMs: 250, maxDelayMs: 2000 })
  const custom = loginThrottleSettings(loadAuthConfig({ LOGIN_THROTTLE_ACCOUNT_MAX: '4', LOGIN_THROTTLE_LOCK_SECONDS: '60' }))
  t.match(custom, { accountMaxFailures: 4, lockSeconds: 60 })
  t.throws(() => loadAuthConfig({ LOGIN_THROTTLE_ACCOUNT_MAX: '0' }))
})
