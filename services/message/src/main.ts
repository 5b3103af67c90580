import closeWithGrace from 'close-with-grace'
import { QueueGroups } from '@chat/contracts'
import { domainEventSettings, publicBase, startService } from '@chat/runtime'
import { loadMessageConfig } from './config.js'
import { buildMessageService } from './app.js'

const config = loadMessageConfig()
const service = await startService({
  name: 'message',
  queue: QueueGroups.message,
  config,
  setup: (deps) => buildMessageService(deps, {
    maxLength: config.MESSAGE_MAX_LENGTH,
    fileMaxBytes: config.FILE_MAX_BYTES,
    publicUrl: publicBase(config.PUBLIC_URL),
    dedupeTtlSeconds: config.SEND_DEDUPE_TTL_SECONDS,
    sendQueueLimitMs: config.SEND_QUEUE_LIMIT_MS,
    sendMaxPending: config.SEND_MAX_PENDING,
    summaryFlushMs: config.SUMMARY_FLUSH_MS,
    summaryEveryMs: config.SUMMARY_EVERY_MS,
    domainEvents: domainEventSettings(config),
  }),
})

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
  if (err) service.logger.error({ err }, 'closing after an error')
  else service.logger.info({ signal }, 'shutting down')
  await service.close()
})
