import { ChatError } from '@chat/contracts'

/**
 * Turns anything thrown into a ChatError. Unknown errors become
 * CHAT_INTERNAL with a generic message, so internals never leak to clients;
 * the original stays as `cause` for the logs.
 */
export function toChatError (err: unknown): ChatError {
  if (err instanceof ChatError) return err
  return new ChatError('CHAT_INTERNAL', undefined, { cause: err })
}
