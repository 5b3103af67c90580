import type { HttpApi } from '../../http-api.js'

/** The `chats` API (document 001): `/chats…`, `/chats_v2…`, `/chat_rooms…`. */
export const chatsHttpApi: HttpApi = async () => {}
