import { Type } from '@sinclair/typebox'
import { EventStreamConfig, loadConfig, PublicUrlConfig, serviceConfig } from '@chat/runtime'

/** The message service's settings: the shared service settings plus its limits. */
export const MessageConfigSchema = {
  ...serviceConfig(9103),
  ...PublicUrlConfig,
  ...EventStreamConfig,
  MESSAGE_MAX_LENGTH: Type.Integer({ default: 4000, minimum: 1, description: 'Longest message content, in characters (code points)' }),
  SEND_DEDUPE_TTL_SECONDS: Type.Integer({ default: 600, minimum: 1, description: 'How long Redis remembers a client message id for duplicate detection; later retries are caught by MongoDB' }),
  SEND_QUEUE_LIMIT_MS: Type.Integer({ default: 100, minimum: 1, description: 'When the oldest send waiting to be stored has waited longer than this, new sends are refused with CHAT_BUSY (retryable) instead of queued' }),
  SEND_MAX_PENDING: Type.Integer({ default: 2000, minimum: 1, description: 'Sends one replica holds at once; more are refused with CHAT_BUSY' }),
  SUMMARY_FLUSH_MS: Type.Integer({ default: 250, minimum: 0, maximum: 10_000, description: 'How long a conversation\'s summary (last message, read mark, activity) may wait for more of its messages before it is written; 0 writes at once' }),
  SUMMARY_EVERY_MS: Type.Integer({ default: 5000, minimum: 0, maximum: 60_000, description: 'A conversation\'s summary (its last message and activity; the senders\' read marks from sending; the members\' activity) is written at most this often; the first message\'s at once, later ones folded into one write per document when their turn comes; 0 writes it with every flush' }),
  FILE_MAX_BYTES: Type.Integer({ default: 10 * 1024 * 1024, minimum: 0, description: 'Largest file that may be uploaded, in bytes' }),
}

/** Reads and validates the environment once (see runtime `loadConfig`). */
export function loadMessageConfig (env?: Record<string, string | undefined>) {
  return loadConfig(MessageConfigSchema, env)
}

export type MessageConfig = ReturnType<typeof loadMessageConfig>
