import { ChatError } from '@chat/contracts'

/**
 * Errors of the MongoDB driver that mean the server could not be reached
 * or the connection broke: the command may succeed when retried.
 */
const MONGO_UNREACHABLE = new Set([
  'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoServerSelectionError',
  'MongoPoolClearedError', 'MongoNotConnectedError', 'MongoTopologyClosedError',
])

/** ioredis gives up on a command when the connection stays down or closes under it. */
const REDIS_UNREACHABLE = new Set(['MaxRetriesPerRequestError'])
const REDIS_UNREACHABLE_MESSAGES = [/^Connection is closed/, /^Stream isn't writeable/]
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'])

/** Whether an error says a store (MongoDB, Redis) was unreachable, not that the command was wrong. */
export function isStoreUnreachable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  return MONGO_UNREACHABLE.has(err.name) ||
    REDIS_UNREACHABLE.has(err.name) ||
    REDIS_UNREACHABLE_MESSAGES.some((re) => re.test(err.message)) ||
    (typeof code === 'string' && SOCKET_CODES.has(code))
}

/**
 * Turns anything thrown into a ChatError. A store that could not be reached
 * is CHAT_UNAVAILABLE (retryable: the client tries again, as it would after
 * a timeout); other unknown errors become CHAT_INTERNAL with a generic
 * message, so internals never leak to clients. The original stays as
 * `cause` for the logs.
 */
export function toChatError (err: unknown): ChatError {
  if (err instanceof ChatError) return err
  if (isStoreUnreachable(err)) return new ChatError('CHAT_UNAVAILABLE', undefined, { cause: err })
  return new ChatError('CHAT_INTERNAL', undefined, { cause: err })
}
