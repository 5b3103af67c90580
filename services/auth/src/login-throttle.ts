import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { ChatError } from '@chat/contracts'
import type { Redis } from '@chat/runtime'

/*
 * Login throttling, shared by every API and every auth replica because it
 * lives in Redis. Failures are counted per account and per client address:
 *
 *   login:fail:acct:<k>   attempts on one account not yet followed by a success
 *   login:fail:addr:<k>   the same from one client address (an IPv6 /64)
 *   login:lock:acct:<k>   present while the account refuses every login
 *   login:lock:addr:<k>   present while the address is refused
 *
 * An attempt is counted when it starts, in one script with the lock check,
 * so a thousand guesses sent at once are counted as a thousand before any
 * password is checked: past the limit they are refused without one. A
 * success gives its count back (the account's is reset). Counters are
 * forgotten `windowSeconds` after their last attempt.
 *
 * Past `freeFailures` on an account, each attempt first waits, twice as
 * long each time up to `maxDelayMs`. Past the account's or the address's
 * limit, that account or address is locked: every login is refused with
 * CHAT_LOGIN_THROTTLED, the right password too, for `lockSeconds`, and the
 * error says how long is left. The account lock means an attacker can keep
 * someone's account locked; it is short, and per-address limits stop one
 * source doing it to many accounts.
 */

/** How strictly failed logins are throttled (LOGIN_THROTTLE_* settings). */
export interface LoginThrottleSettings {
  /** Seconds a counter lives after its last attempt. */
  windowSeconds: number
  /** Failed attempts on one account before it is locked. */
  accountMaxFailures: number
  /** Failed attempts from one client address before it is locked. */
  addressMaxFailures: number
  /** Seconds a lock lasts. */
  lockSeconds: number
  /** Failed attempts on an account before attempts are delayed. */
  freeFailures: number
  /** The first delay, doubled for each further failure. */
  delayMs: number
  /** The longest delay; keep it well below the callers' NATS request timeout. */
  maxDelayMs: number
}

/** A started login attempt: report its success with {@link LoginThrottle.succeeded}. */
export interface LoginAttempt {
  readonly keys: { account: string, address?: string }
  /** Milliseconds the attempt was held back before it could proceed. */
  readonly delayedMs: number
}

/**
 * Checks the locks and counts the attempt. KEYS: account counter, account
 * lock, then optionally address counter, address lock. ARGV: window ms,
 * account max, address max, lock ms. Returns {0, ms left} when refused,
 * else {1, the account's failures before this attempt}.
 */
const BEGIN = `
local left = redis.call('PTTL', KEYS[2])
if #KEYS == 4 then
  local t = redis.call('PTTL', KEYS[4])
  if t > left then left = t end
end
if left > 0 then return {0, left} end
local locked = false
local a = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if a > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
  locked = true
end
if #KEYS == 4 then
  local b = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
  if b > tonumber(ARGV[3]) then
    redis.call('SET', KEYS[4], '1', 'PX', ARGV[4])
    redis.call('DEL', KEYS[3])
    locked = true
  end
end
if locked then return {0, tonumber(ARGV[4])} end
return {1, a - 1}
`

/** A success: the account starts afresh; the address gets its one attempt back (never below zero). */
const SUCCEEDED = `
redis.call('DEL', KEYS[1])
if #KEYS == 2 then
  local n = tonumber(redis.call('GET', KEYS[2]) or '0')
  if n > 0 then redis.call('DECR', KEYS[2]) end
end
return 1
`

/** How long an attempt waits after `failures` earlier failures on its account. */
export function delayFor (failures: number, settings: Pick<LoginThrottleSettings, 'freeFailures' | 'delayMs' | 'maxDelayMs'>): number {
  if (failures < settings.freeFailures) return 0
  const doublings = Math.min(failures - settings.freeFailures, 30)
  return Math.min(settings.maxDelayMs, settings.delayMs * 2 ** doublings)
}

/** Whole seconds for `Retry-After`, never 0 while something is left. */
export function retryAfterSeconds (ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

/**
 * The key part for a client address. IPv6 addresses count by their /64
 * (one customer's network: anyone holding one has all of it); IPv4-mapped
 * IPv6 counts as the IPv4 address; zones are dropped.
 */
export function addressKey (address: string): string {
  const ip = address.replace(/%.*$/, '').toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip)
  if (mapped && isIPv4(mapped[1] as string)) return mapped[1] as string
  if (isIPv4(ip)) return ip
  if (!isIPv6(ip)) return ip
  return ipv6Groups(ip).slice(0, 4).map((g) => g.toString(16)).join(':') + '::/64'
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing IPv4 part converted). */
function ipv6Groups (ip: string): number[] {
  let text = ip
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number]
    text = text.slice(0, v4.index) + `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const parts = (s: string) => (s === '' ? [] : s.split(':'))
  const groups = tail === undefined
    ? parts(head)
    : [...parts(head), ...Array<string>(8 - parts(head).length - parts(tail).length).fill('0'), ...parts(tail)]
  return groups.map((g) => parseInt(g, 16))
}

/**
 * The key part for an account: its user id when the login names a user,
 * else the login as typed (normalised like usernames), so the username and
 * the e-mail address of one account share one count, and unknown logins
 * are throttled just the same. Hashed: keys stay short and hold no e-mail addresses.
 */
export function accountKey (userId: number | undefined, login: string): string {
  const text = userId !== undefined ? `id:${userId}` : `login:${login.trim().normalize('NFC').toLowerCase()}`
  return createHash('sha256').update(text).digest('base64url').slice(0, 22)
}

/** Throttles failed logins; see the top of this file. */
export class LoginThrottle {
  constructor (
    private readonly redis: Redis,
    private readonly settings: LoginThrottleSettings,
    private readonly wait: (ms: number) => Promise<unknown> = sleep
  ) {}

  /**
   * Starts an attempt on `account` (from {@link accountKey}) from
   * `clientAddress` when known: refuses it with CHAT_LOGIN_THROTTLED while
   * either is locked (or when this attempt passes a limit), else waits the
   * account's delay. Every attempt counts as failed until
   * {@link succeeded} says otherwise.
   */
  async begin (account: string, clientAddress?: string): Promise<LoginAttempt> {
    const keys = clientAddress === undefined ? { account } : { account, address: addressKey(clientAddress) }
    const redisKeys = [`login:fail:acct:${keys.account}`, `login:lock:acct:${keys.account}`]
    if (keys.address !== undefined) redisKeys.push(`login:fail:addr:${keys.address}`, `login:lock:addr:${keys.address}`)
    const s = this.settings
    const [ok, n] = await this.redis.eval(
      BEGIN, redisKeys.length, ...redisKeys,
      s.windowSeconds * 1000, s.accountMaxFailures, s.addressMaxFailures, s.lockSeconds * 1000
    ) as [number, number]
    if (ok === 0) throw new ChatError('CHAT_LOGIN_THROTTLED', undefined, { retryAfterSeconds: retryAfterSeconds(n) })
    const delayedMs = delayFor(n, s)
    if (delayedMs > 0) await this.wait(delayedMs)
    return { keys, delayedMs }
  }

  /** The attempt's password was right: its account starts afresh and the address gets the attempt back. */
  async succeeded (attempt: LoginAttempt): Promise<void> {
    const redisKeys = [`login:fail:acct:${attempt.keys.account}`]
    if (attempt.keys.address !== undefined) redisKeys.push(`login:fail:addr:${attempt.keys.address}`)
    await this.redis.eval(SUCCEEDED, redisKeys.length, ...redisKeys)
  }
}
