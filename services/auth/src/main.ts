import closeWithGrace from 'close-with-grace'
import { QueueGroups } from '@chat/contracts'
import { startService } from '@chat/runtime'
import { loadAuthConfig, loginThrottleSettings } from './config.js'
import { buildAuthService } from './app.js'
import { authOptions } from './options.js'

const config = loadAuthConfig()
const options = await authOptions(config)
const service = await startService({
  name: 'auth',
  queue: QueueGroups.auth,
  config,
  setup: (deps) => buildAuthService(deps, { ...options, loginThrottle: loginThrottleSettings(config) }),
})
if (config.PASSWORD_SCRYPT_LOG2_N < 17) {
  service.logger.warn({ PASSWORD_SCRYPT_LOG2_N: config.PASSWORD_SCRYPT_LOG2_N }, 'password hashing below OWASP\'s minimum (17): for tests and development only')
}

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
  if (err) service.logger.error({ err }, 'closing after an error')
  else service.logger.info({ signal }, 'shutting down')
  await service.close()
})
