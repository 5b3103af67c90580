/**
 * Redis keys one service writes and another reads (under the deployment's
 * REDIS_PREFIX). Few on purpose: each is a cache whose owner keeps it exact,
 * and a reader that finds nothing asks the owner over NATS.
 */

/**
 * The contact service's cached answer to "has `blockerId` blocked
 * `blockedId`" (services/contact/src/block-cache.ts): "1" blocked, "0" not.
 * Anything else (missing, or a lease while the contact service fills it)
 * means: ask `contact.blocks.check`. The message service reads it for
 * every pair of a send batch in one round trip.
 */
export const blockCacheKey = (blockerId: number, blockedId: number): string => `block:${blockerId}:${blockedId}`
