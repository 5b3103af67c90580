import { Type } from '@sinclair/typebox'
import { loadConfig, PublicUrlConfig, serviceConfig } from '@chat/runtime'

/** The message service's settings: the shared service settings plus its limits. */
export const MessageConfigSchema = {
  ...serviceConfig(9103),
  ...PublicUrlConfig,
  MESSAGE_MAX_LENGTH: Type.Integer({ default: 4000, minimum: 1, description: 'Longest message content, in characters (code points)' }),
  SEND_DEDUPE_TTL_SECONDS: Type.Integer({ default: 600, minimum: 1, description: 'How long Redis remembers a client message id for duplicate detection; later retries are caught by MongoDB' }),
  FILE_MAX_BYTES: Type.Integer({ default: 10 * 1024 * 1024, minimum: 0, description: 'Largest file that may be uploaded, in bytes' }),
}

/** Reads and validates the environment once (see runtime `loadConfig`). */
export function loadMessageConfig (env?: Record<string, string | undefined>) {
  return loadConfig(MessageConfigSchema, env)
}

export type MessageConfig = ReturnType<typeof loadMessageConfig>
