import { Type } from '@sinclair/typebox'
import { EventStreamConfig, loadConfig, serviceConfig } from '@chat/runtime'

/** The contact service's settings: the shared service settings, its domain events' and presence timing. */
export const ContactConfigSchema = {
  ...serviceConfig(9102),
  ...EventStreamConfig,
  PRESENCE_TTL_MS: Type.Integer({
    default: 25000,
    minimum: 1000,
    description: 'How long a gateway\'s presence report lasts without a heartbeat; must exceed the gateways\' PRESENCE_HEARTBEAT_MS',
  }),
  PRESENCE_SWEEP_MS: Type.Integer({
    default: 1000,
    minimum: 100,
    description: 'How often each replica looks for expired presence; a dead gateway\'s users show offline within TTL plus this',
  }),
}

/** Reads and validates the environment (see runtime `loadConfig`). */
export function loadContactConfig (env?: Record<string, string | undefined>) {
  return loadConfig(ContactConfigSchema, env)
}

export type ContactConfig = ReturnType<typeof loadContactConfig>
