import type { HttpApi } from '../../http-api.js'
import { roomRoutes } from './room-routes.js'
import { userRoutes } from './user-routes.js'

/**
 * The `rooms` API's HTTP routes (document 002): `/User`, `/Login`,
 * `/Logout`, `/Room…`. Like the WebSocket adapters they only translate to
 * commands; docs/api-rooms.md records the decisions the document leaves open.
 */
export const roomsHttpApi: HttpApi = async (app, opts) => {
  await userRoutes(app, opts)
  await roomRoutes(app, opts)
}
