import { Redis } from 'ioredis'

export { Redis }

/**
 * One Redis client per process. Every key gets the configured prefix, so
 * deployments and test runs can share a server; commands are retried across
 * reconnects instead of failing at once.
 */
export function createRedis (url: string, prefix: string): Redis {
  return new Redis(url, {
    keyPrefix: prefix,
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
    lazyConnect: false,
  })
}

/**
 * Readiness probe for Redis: connected and past ioredis's ready check.
 * Between a lost connection and the reconnect that follows, the status is
 * `reconnecting` (or `connecting`, `connect`), never `ready`.
 */
export function redisReady (redis: Redis): boolean {
  return redis.status === 'ready'
}
