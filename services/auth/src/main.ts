import closeWithGrace from 'close-with-grace'
import { QueueGroups } from '@chat/contracts'
import { startService } from '@chat/runtime'
import { loadAuthConfig, loginThrottleSettings } from './config.js'
import { buildAuthService } from './app.js'

const config = loadAuthConfig()
const service = await startService({
  name: 'auth',
  queue: QueueGroups.auth,
  config,
  setup: (deps) => buildAuthService(deps, {
    tokens: { secret: config.JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
    tokenTtlSeconds: config.TOKEN_TTL_SECONDS,
    roomTicketTtlMs: config.ROOM_TICKET_TTL_MS,
    loginThrottle: loginThrottleSettings(config),
  }),
})

closeWithGrace({ delay: 10000 }, async ({ signal, err }) => {
  if (err) service.logger.error({ err }, 'closing after an error')
  else service.logger.info({ signal }, 'shutting down')
  await service.close()
})
