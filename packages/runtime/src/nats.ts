import { connect, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription, errors } from '@nats-io/transport-node'
import {
  ChatError, CommandSpecs, createSubjects, createValidator,
  type CommandReply, type CommandRequest, type CommandSubject, type Subjects,
} from '@chat/contracts'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { Logger } from './logger.js'
import { toChatError } from './errors.js'

export type { NatsConnection, Msg, Subscription }

/** Header carrying our stable error code next to nats.js services' own error headers. */
export const ERROR_CODE_HEADER = 'Chat-Error-Code'
/**
 * When the caller stops waiting (Unix ms). A service skips a command whose
 * caller has already given up: under overload, work nobody awaits would
 * only delay the requests still worth answering, and a send the client was
 * told had failed should not be stored behind its back.
 */
export const DEADLINE_HEADER = 'Chat-Deadline'
const SERVICE_ERROR_CODE_HEADER = 'Nats-Service-Error-Code'
const SERVICE_ERROR_HEADER = 'Nats-Service-Error'

/** Connects with unlimited reconnects, logging connection state changes. */
export async function connectNats (url: string, name: string, logger: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  })
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        logger.warn({ nats: s.type, server: 'server' in s ? s.server : undefined }, 'nats connection status')
      }
    }
  })()
  return nc
}

const encoder = new TextEncoder()

/** JSON-encodes a payload for NATS. */
export function encodeJson (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Publishes a JSON event. Events are fire-and-forget; durability lives in MongoDB. */
export function publishJson (nc: NatsConnection, subject: string, value: unknown): void {
  nc.publish(subject, encodeJson(value))
}

function errorFromHeaders (h: MsgHdrs | undefined, body: Msg): ChatError | undefined {
  if (h === undefined) return undefined
  const code = h.get(ERROR_CODE_HEADER)
  const status = h.get(SERVICE_ERROR_CODE_HEADER)
  if (code === '' && status === '') return undefined
  const message = h.get(SERVICE_ERROR_HEADER)
  try {
    const data = body.json<{ code?: unknown, message?: unknown, retryAfterSeconds?: unknown }>()
    return ChatError.fromData({ code: data.code ?? code, message: data.message ?? message, retryAfterSeconds: data.retryAfterSeconds })
  } catch {
    return ChatError.fromData({ code, message })
  }
}

/** A typed caller of the services' commands. */
export interface CommandClient {
  readonly subjects: Subjects
  call<S extends CommandSubject>(subject: S, request: CommandRequest<S>, opts?: { timeoutMs?: number }): Promise<CommandReply<S>>
  /** Sends a command without waiting for its reply (heartbeats). */
  send<S extends CommandSubject>(subject: S, request: CommandRequest<S>): void
}

export function createCommandClient (
  nc: NatsConnection,
  opts: { prefix: string, timeoutMs: number, registry?: Registry }
): CommandClient {
  const subjects = createSubjects(opts.prefix)
  const duration = opts.registry
    ? new Histogram({
      name: 'chat_command_client_duration_seconds',
      help: 'Time from sending a command over NATS to its reply',
      labelNames: ['command', 'outcome'],
      registers: [opts.registry],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    })
    : undefined
  return {
    subjects,
    async call (subject, request, callOpts) {
      const end = duration?.startTimer({ command: subject })
      const timeout = callOpts?.timeoutMs ?? opts.timeoutMs
      const h = headers()
      h.set(DEADLINE_HEADER, String(Date.now() + timeout))
      let reply: Msg
      try {
        reply = await nc.request(subjects.command(subject), encodeJson(request), { timeout, headers: h })
      } catch (err) {
        end?.({ outcome: 'unavailable' })
        if (err instanceof errors.TimeoutError) throw new ChatError('CHAT_TIMEOUT', undefined, { cause: err })
        throw new ChatError('CHAT_UNAVAILABLE', undefined, { cause: err })
      }
      const failure = errorFromHeaders(reply.headers, reply)
      if (failure) {
        end?.({ outcome: failure.code })
        throw failure
      }
      end?.({ outcome: 'ok' })
      return reply.json()
    },
    send (subject, request) {
      nc.publish(subjects.command(subject), encodeJson(request))
    },
  }
}

/** What a command handler gets besides its request. */
export interface CommandContext {
  logger: Logger
}

export type CommandHandler<S extends CommandSubject> =
  (request: CommandRequest<S>, ctx: CommandContext) => Promise<CommandReply<S>>

export type CommandHandlers = { [S in CommandSubject]?: CommandHandler<S> }

/** A running set of command endpoints. */
export interface CommandServer {
  /** Stops taking requests and waits for those already taken to finish. */
  stop(): Promise<void>
  readonly subscriptions: readonly Subscription[]
}

/**
 * Serves command handlers in a queue group. Requests are validated against
 * the contract before the handler sees them; failures are answered as data
 * (our code plus the nats.js services error headers) and never crash the
 * process.
 */
export function serveCommands (
  nc: NatsConnection,
  opts: { prefix: string, queue: string, handlers: CommandHandlers, logger: Logger, registry?: Registry }
): CommandServer {
  const subjects = createSubjects(opts.prefix)
  const inflight = new Set<Promise<void>>()
  const duration = opts.registry
    ? new Histogram({
      name: 'chat_command_duration_seconds',
      help: 'Time a service spent handling a command',
      labelNames: ['command', 'outcome'],
      registers: [opts.registry],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    })
    : undefined

  const expired = opts.registry
    ? new Counter({
      name: 'chat_command_expired_total',
      help: 'Commands skipped because their caller had stopped waiting (overload)',
      labelNames: ['command'],
      registers: [opts.registry],
    })
    : undefined

  const subscriptions = Object.entries(opts.handlers).map(([name, handler]) => {
    const command = name as CommandSubject
    const validate = createValidator(CommandSpecs[command].request)
    const run = handler as (req: unknown, ctx: CommandContext) => Promise<unknown>
    const logger = opts.logger.child({ command })
    const handle = async (msg: Msg): Promise<void> => {
      const deadline = Number(msg.headers?.get(DEADLINE_HEADER))
      if (deadline > 0 && Date.now() > deadline) {
        expired?.inc({ command })
        return
      }
      const end = duration?.startTimer({ command })
      try {
        let body: unknown
        try {
          body = msg.json()
        } catch (err) {
          throw new ChatError('CHAT_BAD_REQUEST', 'payload is not valid JSON', { cause: err })
        }
        const result = await run(validate(body), { logger })
        if (msg.reply) msg.respond(encodeJson(result ?? {}))
        end?.({ outcome: 'ok' })
      } catch (err) {
        const failure = toChatError(err)
        if (failure.code === 'CHAT_INTERNAL') logger.error({ err }, 'command failed')
        else logger.debug({ code: failure.code, msg: failure.message }, 'command refused')
        end?.({ outcome: failure.code })
        if (msg.reply) {
          const h = headers()
          h.set(SERVICE_ERROR_CODE_HEADER, String(failure.status))
          h.set(SERVICE_ERROR_HEADER, failure.message)
          h.set(ERROR_CODE_HEADER, failure.code)
          msg.respond(encodeJson(failure.toData()), { headers: h })
        }
      }
    }
    return nc.subscribe(subjects.command(command), {
      queue: opts.queue,
      callback: (err, msg) => {
        if (err) {
          logger.error({ err }, 'subscription error')
          return
        }
        const p = handle(msg).finally(() => inflight.delete(p))
        inflight.add(p)
      },
    })
  })

  let stopping: Promise<void> | undefined
  return {
    subscriptions,
    stop () {
      stopping ??= (async () => {
        await Promise.allSettled(subscriptions.map(async (s) => { await s.drain() }))
        await Promise.allSettled([...inflight])
      })()
      return stopping
    },
  }
}
