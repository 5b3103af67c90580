import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { ChatError } from '@chat/contracts'
import { LuaScript } from '@chat/runtime'

/**
 * Short-lived mutual exclusion across service replicas, in Redis.
 *
 * Why Redis and not a unique-insert claim document in MongoDB: both are
 * reliable arbiters (SET NX is atomic; a unique insert is too, even on
 * FerretDB), but a Redis lock expires by itself (PX) when its holder
 * crashes, while a claim document left by a crash would need a TTL index
 * or a staleness rule (FerretDB v1 has no TTL indexes), and each attempt
 * would cost a MongoDB write. Waiting is a cheap retry loop either way.
 *
 * Acquire: like `SET key token NX PX ttl` with a random token, but fair:
 * waiters queue in a sorted set `<key>:queue` by arrival time (Redis' own
 * clock), and a free lock goes only to the head of the queue. Plain
 * SET NX polling starves: a replica looping on one key re-takes the lock
 * the instant it releases it, while waiters elsewhere poll into a held
 * lock for seconds. A waiter leaves the queue when it gives up; one that
 * crashed is dropped once it has not tried for a second.
 * Release: a Lua compare-and-delete, so a holder whose lock expired (a
 * pause longer than the TTL) never deletes its successor's lock.
 *
 * Known limit: such a holder could still finish its critical section
 * concurrently with the successor (no fencing token); the TTL is far above
 * the milliseconds the guarded work takes, so that needs a stall of seconds.
 */

/** Deletes the key only if it still holds our token (1 deleted, 0 not ours). */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

/**
 * One attempt: queue up (once, keeping the first arrival time), note that
 * we are still waiting, drop waiters silent for longer than `stale` ms, and
 * take the lock if it is free and we are first (1), else 0.
 * KEYS: lock, queue (token → arrival), seen (token → last attempt).
 * ARGV: token, ttl ms, stale ms.
 */
const ACQUIRE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then redis.call('ZADD', KEYS[2], now, ARGV[1]) end
redis.call('ZADD', KEYS[3], now, ARGV[1])
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - stale)) do
  redis.call('ZREM', KEYS[2], w)
  redis.call('ZREM', KEYS[3], w)
end
redis.call('PEXPIRE', KEYS[2], stale * 4)
redis.call('PEXPIRE', KEYS[3], stale * 4)
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if head ~= ARGV[1] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

export interface LockOptions {
  /** How long the lock lives if never released (ms). */
  ttlMs: number
  /** How long to wait for a held lock before giving up with CHAT_UNAVAILABLE (ms). */
  waitMs: number
  /** Pause between attempts while waiting: from `minPauseMs` to twice that, random. */
  minPauseMs: number
}

export const DEFAULT_LOCK_OPTIONS: LockOptions = { ttlMs: 10_000, waitMs: 2_000, minPauseMs: 10 }

/** What the chat logic needs to serialise work on one key across replicas. */
export interface Locks {
  /** Runs `fn` holding the lock `key`; CHAT_UNAVAILABLE if it cannot be had in time. */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>
}

/**
 * The pause before the next attempt: random in [min, 2·min] (so waiters on
 * different replicas do not retry in lockstep), and never past the deadline.
 * Undefined when the deadline has passed.
 */
export function nextPause (now: number, deadline: number, minPauseMs: number, random: () => number = Math.random): number | undefined {
  const left = deadline - now
  if (left <= 0) return undefined
  return Math.max(1, Math.min(left, Math.round(minPauseMs * (1 + random()))))
}

export class RedisLocks implements Locks {
  private readonly opts: LockOptions

  constructor (private readonly redis: Redis, opts: Partial<LockOptions> = {}) {
    this.opts = { ...DEFAULT_LOCK_OPTIONS, ...opts }
  }

  async withLock<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const token = await this.acquire(key)
    try {
      return await fn()
    } finally {
      // A failed release leaves the lock to expire: slower, never wrong.
      await RELEASE.run(this.redis, [key], [token]).catch(() => undefined)
    }
  }

  /** Takes the lock, waiting (in turn) while another holder has it; returns the token. */
  private async acquire (key: string): Promise<string> {
    const token = randomBytes(12).toString('base64url')
    const queue = `${key}:queue`
    const seen = `${key}:seen`
    // A waiter that has not tried for this long has given up or died (a
    // live one tries every few ms; one dropped by mistake queues up again).
    const staleMs = Math.max(1000, this.opts.minPauseMs * 20)
    const deadline = Date.now() + this.opts.waitMs
    for (;;) {
      let got: unknown
      try {
        got = await ACQUIRE.run(this.redis, [key, queue, seen], [token, this.opts.ttlMs, staleMs])
      } catch (err) {
        throw new ChatError('CHAT_UNAVAILABLE', 'lock service unavailable; try again', { cause: err })
      }
      if (Number(got) === 1) return token
      const pause = nextPause(Date.now(), deadline, this.opts.minPauseMs)
      if (pause === undefined) {
        await Promise.all([this.redis.zrem(queue, token), this.redis.zrem(seen, token)]).catch(() => undefined)
        throw new ChatError('CHAT_UNAVAILABLE', 'busy: another request on this conversation is running; try again')
      }
      await sleep(pause)
    }
  }
}
