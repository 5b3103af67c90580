// Helpers for tests of the `typed` API: make users and log them in.
import { randomBytes } from 'node:crypto'
import { connectWs, type WsClient } from './ws.js'

export interface TypedUser {
  client: WsClient
  userId: number
  username: string
  password: string
  email: string
  token: string
}

/** A username unique to this run. */
export function uniqueName (prefix = 'user'): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`
}

/** Registers a new user over a fresh socket on `wsUrl`; the socket is logged in. */
export async function registerUser (wsUrl: string, prefix = 'user'): Promise<TypedUser> {
  const client = await connectWs(wsUrl)
  const username = uniqueName(prefix)
  const password = `pw-${randomBytes(4).toString('hex')}`
  const email = `${username}@example.test`
  const res = await client.request('REGISTER', { username, password, email })
  if (res.type !== 'REGISTER_SUCCESS') throw new Error(`register failed: ${JSON.stringify(res)}`)
  return { client, userId: res.payload.userId, username, password, email, token: res.payload.token }
}

/** Opens another socket for an existing user (another device), logged in with its token. */
export async function loginAgain (wsUrl: string, user: { token: string }): Promise<WsClient> {
  const client = await connectWs(wsUrl)
  const res = await client.request('LOGIN_BY_TOKEN', { token: user.token })
  if (res.type !== 'LOGIN_SUCCESS') throw new Error(`login failed: ${JSON.stringify(res)}`)
  return client
}

/** Sends a text message and returns the MESSAGE_RECEIVED_SELF frame. */
export async function sendText (from: TypedUser, to: { userId: number }, content: string, messageId: number | string = randomBytes(4).readUInt32BE()) {
  return await from.client.request('SEND_MESSAGE', { messageId, senderId: from.userId, receiverId: to.userId, content })
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The HTTP status a WebSocket upgrade is refused with, or 101 if it opened. */
export async function upgradeStatus (url: string): Promise<number> {
  try {
    const c = await connectWs(url)
    await c.close()
    return 101
  } catch (err) {
    return (err as { statusCode?: number }).statusCode ?? 0
  }
}

/** A direct conversation's whole history as `reader` sees it, oldest first, paged with LOAD_MESSAGES. */
export async function directHistory (reader: TypedUser, peer: { userId: number }): Promise<Array<{ id: number, content: string, seq: number, senderId: number }>> {
  const all: Array<{ id: number, content: string, seq: number, senderId: number }> = []
  let beforeId: number | undefined
  for (;;) {
    const page = await reader.client.request('LOAD_MESSAGES', { userId: reader.userId, targetId: peer.userId, limit: 100, ...(beforeId === undefined ? {} : { beforeId }) })
    if (page.type !== 'MESSAGES_LOADED') throw new Error(`history failed: ${JSON.stringify(page)}`)
    all.unshift(...page.payload)
    if (!(page.meta as { hasMore?: boolean } | undefined)?.hasMore || page.payload.length === 0) return all
    beforeId = page.payload[0].id
  }
}
