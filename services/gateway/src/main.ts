import closeWithGrace from 'close-with-grace'
import { loadGatewayConfig } from './config.js'
import { buildGateway } from './app.js'

const config = loadGatewayConfig()
const app = await buildGateway(config)
await app.listen({ host: config.HTTP_HOST, port: config.PORT })
// /metrics and /docs there only; started after the public port so /readyz is true on both at once.
const opsPort = config.OPS_PORT !== undefined ? await app.opsListener?.listen(config.HTTP_HOST, config.OPS_PORT) : undefined
app.log.info({ gatewayId: config.GATEWAY_ID, port: config.PORT, opsPort }, 'gateway ready')

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
  app.log.info('gateway stopped')
})
