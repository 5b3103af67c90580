// A scripted `typed` server for the SDK's unit tests: a real `ws`
// WebSocketServer on 127.0.0.1:0 that logs every frame it gets and answers
// as the test scripts it (default: logins succeed, SYNC and LOAD_UNREAD find nothing).
import WebSocket, { WebSocketServer } from 'ws'
import { ChatClient, type ChatClientOptions, type Frame, type WebSocketConstructor } from '../src/index.js'

export type Handler = (frame: Frame, socket: WebSocket) => Frame | Frame[] | undefined | Promise<Frame | Frame[] | undefined>

export interface ScriptedServer {
  url: string
  /** Every frame received, in order. */
  frames: Frame[]
  /** Every socket accepted so far (open or not). */
  accepted: WebSocket[]
  /** Answers `type` with `handler` (replacing the previous one); an answer without `id` gets the request's. */
  on: (type: string, handler: Handler) => void
  /** Resolves with the next frame of `type` received (or the first already received after `from`). */
  next: (type: string, from?: number) => Promise<Frame>
  /** Sends a frame to every open socket. */
  push: (frame: Frame) => void
  /** Closes every open socket with `code`. */
  dropAll: (code?: number) => void
  close: () => Promise<void>
}

export const SESSION = { userId: 100, username: 'alice', email: '', avatar: '', token: 'tok-1' }

export async function scriptedServer (t: { teardown: (fn: () => unknown) => void }): Promise<ScriptedServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const handlers = new Map<string, Handler>()
  const frames: Frame[] = []
  const accepted: WebSocket[] = []
  const waiters: Array<{ type: string, from: number, resolve: (f: Frame) => void }> = []
  const login: Handler = () => ({ type: 'LOGIN_SUCCESS', payload: SESSION })
  handlers.set('LOGIN_BY_TOKEN', login)
  handlers.set('LOGIN', login)
  handlers.set('SYNC', () => ({ type: 'SYNC_RESULT', payload: { conversations: [] } }))
  handlers.set('LOAD_UNREAD', () => ({ type: 'UNREAD_LOADED', payload: { conversations: [] } }))

  wss.on('connection', (socket) => {
    accepted.push(socket)
    socket.on('message', async (data) => {
      const frame = JSON.parse(data.toString()) as Frame
      frames.push(frame)
      for (const w of [...waiters]) {
        if (w.type === frame.type && frames.length > w.from) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(frame)
        }
      }
      const handler = handlers.get(frame.type)
      if (handler === undefined) return
      const out = await handler(frame, socket)
      for (const f of out === undefined ? [] : Array.isArray(out) ? out : [out]) {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify('id' in f ? f : { ...f, id: frame.id }))
      }
    })
  })

  const server: ScriptedServer = {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/ws`,
    frames,
    accepted,
    on: (type, handler) => { handlers.set(type, handler) },
    next: (type, from = frames.length) => {
      const seen = frames.slice(from).find((f) => f.type === type)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve) => waiters.push({ type, from, resolve }))
    },
    push: (frame) => {
      for (const s of wss.clients) if (s.readyState === WebSocket.OPEN) s.send(JSON.stringify(frame))
    },
    dropAll: (code = 1001) => {
      for (const s of wss.clients) s.close(code)
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of wss.clients) s.terminate()
      wss.close(() => resolve())
    }),
  }
  t.teardown(() => server.close())
  return server
}

/** A ChatClient with `ws`, short timers and teardown. */
export function testClient (t: { teardown: (fn: () => unknown) => void }, url: string | string[], opts: Partial<ChatClientOptions> = {}): ChatClient {
  const client = new ChatClient({
    url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts,
  })
  t.teardown(() => client.close())
  return client
}

/** A message as the server shows it. */
export function msg (seq: number, fields: Partial<{ id: number, content: string, senderId: number, conversationId: number }> = {}) {
  return {
    id: fields.id ?? 1000 + seq,
    senderId: fields.senderId ?? 200,
    receiverId: 100,
    content: fields.content ?? `m${seq}`,
    timestamp: '2026-12-03T10:00:00.000Z',
    status: 'sent' as const,
    type: 'text' as const,
    conversationId: fields.conversationId ?? 7,
    seq,
  }
}

/** Collects a client's message events as short strings: `m:<seq>:<content>`, `e:<id>:<content>`, `d:<id>`. */
export function record (client: ChatClient): string[] {
  const log: string[] = []
  client.on('message', (e) => log.push(`m:${e.message.seq}:${e.message.content}`))
  client.on('messageEdited', (e) => log.push(`e:${e.messageId}:${e.content}`))
  client.on('messageDeleted', (e) => log.push(`d:${e.messageId}`))
  return log
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it is true, or fails after `ms`. */
export async function until (check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(10)
  }
}
