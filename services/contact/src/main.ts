import closeWithGrace from 'close-with-grace'
import { QueueGroups } from '@chat/contracts'
import { domainEventSettings, startService } from '@chat/runtime'
import { loadContactConfig } from './config.js'
import { buildContactService } from './app.js'

const config = loadContactConfig()
const service = await startService({
  name: 'contact',
  queue: QueueGroups.contact,
  config,
  setup: (deps) => buildContactService(deps, {
    presenceTtlMs: config.PRESENCE_TTL_MS,
    presenceSweepMs: config.PRESENCE_SWEEP_MS,
    domainEvents: domainEventSettings(config),
  }),
})

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
  if (err) service.logger.error({ err }, 'closing after an error')
  else service.logger.info({ signal }, 'shutting down')
  await service.close()
})
