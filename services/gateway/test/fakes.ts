// Fakes for adapter unit tests: a command client whose replies a test
// scripts, recording every call, and a real WsConnection over a scripted
// socket. Integration tests use the real services.
import { EventEmitter } from 'node:events'
import type { Session } from '@chat/contracts'
import { createLogger, type CommandClient } from '@chat/runtime'
import { actAs, publicCommands } from '../src/actor.js'
import { ConnectionCaps } from '../src/connection-caps.js'
import { FileStore } from '../src/files.js'
import type { ConnectionHub } from '../src/hub.js'
import { UserDirectory } from '../src/user-directory.js'
import type { ApiServices, Frame, WsApi, WsRequest } from '../src/ws-api.js'
import { WsConnection, type ConnectionLimits } from '../src/ws-connection.js'

export interface ScriptedCommands {
  commands: CommandClient
  calls: Array<{ subject: string, req: any }>
}

/**
 * `reply(subject, req)` answers each call a tick later (as NATS would,
 * never synchronously); an Error it returns is thrown.
 */
export function scriptedCommands (reply: (subject: string, req: any) => unknown = () => ({})): ScriptedCommands {
  const calls: ScriptedCommands['calls'] = []
  const commands = {
    async call (subject: string, req: unknown) {
      calls.push({ subject, req })
      await new Promise((resolve) => setTimeout(resolve, 1))
      const r = reply(subject, req)
      if (r instanceof Error) throw r
      return r
    },
    send () {},
  } as unknown as CommandClient
  return { commands, calls }
}

/** A ws WebSocket as far as WsConnection uses it: frames in by `receive`, frames out in `sent`. */
export class FakeSocket extends EventEmitter {
  readonly OPEN = 1
  readyState = 1
  bufferedAmount = 0
  readonly sent: Frame[] = []
  readonly closes: number[] = []
  paused = false

  send (data: string): void { this.sent.push(JSON.parse(data)) }
  close (code: number): void {
    if (this.readyState !== 1) return
    this.readyState = 3
    this.closes.push(code)
    this.emit('close')
  }

  terminate (): void { this.close(1006) }
  pause (): void { this.paused = true }
  resume (): void { this.paused = false }
  ping (): void {}
  /** A frame from the client. */
  receive (frame: unknown): void {
    this.emit('message', Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)), false)
  }
}

export const TEST_LIMITS: ConnectionLimits = {
  ratePerSecond: 1000,
  rateBurst: 1000,
  authTimeoutMs: 60_000,
  maxQueued: 1000,
  maxInFlight: 32,
  maxSendWaitMs: 2000,
  maxQueuedBytes: 1 << 20,
  maxLoginFrameBytes: 1 << 16,
  maxFrameBytes: 1 << 20,
  maxBufferedBytes: 1 << 20,
  maxPendingPushes: 1000,
  pingIntervalMs: 0,
}

/** A session for user `id`. */
export function sessionOf (id: number, username = `user${id}`): Session {
  return {
    user: { id, username, nickname: '', avatar: '', email: '', createdAt: '2026-01-01T00:00:00.000Z' },
    token: `jwt-${id}`,
    sessionId: `s-${id}`,
    expiresAt: '2099-01-01T00:00:00.000Z',
  }
}

/**
 * A real WsConnection of `api` over a FakeSocket, its services scripted by
 * `reply`, logged in as `session` unless it is null. `run(frame)` sends a
 * frame and resolves with what was sent until the connection is idle.
 */
export async function testConnection<Req extends WsRequest, State> (
  api: WsApi<Req, State>,
  opts: { reply?: (subject: string, req: any) => unknown, session?: Session | null, users?: Partial<UserDirectory>, limits?: Partial<ConnectionLimits> } = {}
) {
  const { commands, calls } = scriptedCommands(opts.reply)
  const socket = new FakeSocket()
  const services: ApiServices = {
    commands: publicCommands(commands),
    act: (session) => actAs(commands, session),
    authenticate: async () => { throw new Error('authenticate is not scripted') },
    files: new FileStore('', 1 << 20),
    users: (opts.users ?? new UserDirectory(commands)) as UserDirectory,
  }
  const hub = { attach: async () => {}, detach: () => {}, joinRoom: (_u: number, _r: number, join: () => Promise<unknown>) => join() } as unknown as ConnectionHub
  const connection = new WsConnection(
    'gw:1', socket as never, api, services, hub, { ...TEST_LIMITS, ...opts.limits },
    createLogger('test', 'silent'), '127.0.0.1', new ConnectionCaps({ perAddress: 100, perUser: 100 })
  )
  if (opts.session !== null) await connection.login(opts.session ?? sessionOf(1))
  const idle = async () => {
    // Until nothing is queued: requests, then pushes (a push may follow a reply).
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      await (connection as unknown as { pipeline: { answered: Promise<void> } }).pipeline.answered
      await (connection as unknown as { pushes: Promise<void> }).pushes
    }
  }
  const run = async (frame: unknown): Promise<Frame[]> => {
    const before = socket.sent.length
    socket.receive(frame)
    await idle()
    return socket.sent.slice(before)
  }
  return { connection, socket, calls, sent: socket.sent, run, idle }
}
