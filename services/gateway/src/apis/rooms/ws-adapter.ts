import { ChatError } from '@chat/contracts'
import type { WsApi } from '../../ws-api.js'

/** The `rooms` API's WebSocket `/ws/room` (document 002). */
export const roomsWsApi: WsApi<unknown> = {
  name: 'rooms',
  decode () { throw new ChatError('CHAT_UNKNOWN_TYPE') },
  async handle () { return undefined },
  failure () { return { status: false } },
  render () { return [] },
  renderRoom () { return [] },
  revoked () { return undefined },
}
