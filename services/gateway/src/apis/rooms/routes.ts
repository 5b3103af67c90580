import type { HttpApi } from '../../http-api.js'

/** The `rooms` API's HTTP routes (document 002): `/User`, `/Login`, `/Logout`, `/Room…`. */
export const roomsHttpApi: HttpApi = async () => {}
