import { readFileSync } from 'node:fs'
import {
  connect, credsAuthenticator, headers, nkeyAuthenticator, errors,
  type Msg, type MsgHdrs, type NatsConnection, type NodeConnectionOptions, type Subscription,
} from '@nats-io/transport-node'
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

/** Where NATS is and how to prove who we are to it (BaseConfig's NATS_* settings). */
export interface NatsSettings {
  /** Server URL(s), comma-separated; `nats://user:pass@host` or `nats://token@host` carry credentials. */
  NATS_URL: string
  NATS_USER?: string
  NATS_PASSWORD?: string
  NATS_TOKEN?: string
  /** A `.creds` file (user JWT and nkey seed), as `nsc` writes them. */
  NATS_CREDS_FILE?: string
  /** A file holding a user nkey seed (`SU…`). */
  NATS_NKEY_SEED_FILE?: string
  /** CA that signed the server's certificate (private PKI). */
  NATS_TLS_CA_FILE?: string
  /** Client certificate and key, for servers that verify clients. */
  NATS_TLS_CERT_FILE?: string
  NATS_TLS_KEY_FILE?: string
}

/** The server list without credentials, and the credentials the URLs carried. */
interface ParsedServers {
  servers: string[]
  user?: string
  pass?: string
  token?: string
}

/**
 * Splits NATS_URL and takes credentials out of its URLs (nats.js would not
 * read them there, and they must never reach a log line). Every URL must
 * carry the same credentials, or none.
 */
export function parseNatsServers (url: string): ParsedServers {
  const parsed: ParsedServers = { servers: [] }
  let seen: string | undefined
  for (const raw of url.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const at = raw.lastIndexOf('@')
    if (at < 0) {
      parsed.servers.push(raw)
      continue
    }
    const scheme = /^[a-z]+:\/\//i.exec(raw)?.[0] ?? ''
    const userinfo = raw.slice(scheme.length, at)
    const colon = userinfo.indexOf(':')
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon))
    const pass = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1))
    if (seen !== undefined && seen !== userinfo) throw new Error('NATS_URL: every server URL must carry the same credentials')
    seen = userinfo
    if (pass === undefined) parsed.token = user
    else Object.assign(parsed, { user, pass })
    parsed.servers.push(scheme + raw.slice(at + 1))
  }
  if (parsed.servers.length === 0) throw new Error('NATS_URL names no server')
  return parsed
}

/**
 * nats.js connection options from the settings: servers, at most one way
 * to authenticate (user and password, a token, a creds file or an nkey
 * seed; in the URL or in their own settings) and TLS files. Throws an Error
 * naming the conflict or the unreadable file.
 */
export function natsConnectionOptions (settings: NatsSettings, readFile: (path: string) => Uint8Array = readFileSync): NodeConnectionOptions {
  const { servers, ...fromUrl } = parseNatsServers(settings.NATS_URL)
  const set = (v: string | undefined): v is string => v !== undefined && v !== ''
  const ways = [
    (fromUrl.user !== undefined || set(settings.NATS_USER)) && 'user and password',
    (fromUrl.token !== undefined || set(settings.NATS_TOKEN)) && 'token',
    set(settings.NATS_CREDS_FILE) && 'NATS_CREDS_FILE',
    set(settings.NATS_NKEY_SEED_FILE) && 'NATS_NKEY_SEED_FILE',
  ].filter((w): w is string => typeof w === 'string')
  if (ways.length > 1) throw new Error(`NATS: give one way to authenticate, not ${ways.join(' and ')}`)
  if ((fromUrl.user !== undefined || fromUrl.token !== undefined) && (set(settings.NATS_USER) || set(settings.NATS_PASSWORD) || set(settings.NATS_TOKEN))) {
    throw new Error('NATS: credentials are both in NATS_URL and in NATS_USER/NATS_PASSWORD/NATS_TOKEN; give them once')
  }
  if (set(settings.NATS_PASSWORD) && !set(settings.NATS_USER)) throw new Error('NATS: NATS_PASSWORD needs NATS_USER')

  const read = (name: string, path: string): Uint8Array => {
    try {
      return readFile(path)
    } catch (err) {
      throw new Error(`NATS: cannot read ${name} (${path}): ${(err as Error).message}`, { cause: err })
    }
  }
  const opts: NodeConnectionOptions = { servers }
  if (fromUrl.user !== undefined) Object.assign(opts, { user: fromUrl.user, pass: fromUrl.pass })
  if (fromUrl.token !== undefined) opts.token = fromUrl.token
  if (set(settings.NATS_USER)) Object.assign(opts, { user: settings.NATS_USER, pass: settings.NATS_PASSWORD ?? '' })
  if (set(settings.NATS_TOKEN)) opts.token = settings.NATS_TOKEN
  if (set(settings.NATS_CREDS_FILE)) opts.authenticator = credsAuthenticator(read('NATS_CREDS_FILE', settings.NATS_CREDS_FILE))
  if (set(settings.NATS_NKEY_SEED_FILE)) {
    const seed = new TextDecoder().decode(read('NATS_NKEY_SEED_FILE', settings.NATS_NKEY_SEED_FILE)).trim()
    opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed))
  }

  if (set(settings.NATS_TLS_CERT_FILE) !== set(settings.NATS_TLS_KEY_FILE)) throw new Error('NATS: NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together')
  if (set(settings.NATS_TLS_CA_FILE) || set(settings.NATS_TLS_CERT_FILE)) {
    // Read now, so a wrong path fails at start with its name rather than as a handshake error.
    opts.tls = {
      ...(set(settings.NATS_TLS_CA_FILE) ? { ca: new TextDecoder().decode(read('NATS_TLS_CA_FILE', settings.NATS_TLS_CA_FILE)) } : {}),
      ...(set(settings.NATS_TLS_CERT_FILE) ? { cert: new TextDecoder().decode(read('NATS_TLS_CERT_FILE', settings.NATS_TLS_CERT_FILE)) } : {}),
      ...(set(settings.NATS_TLS_KEY_FILE) ? { key: new TextDecoder().decode(read('NATS_TLS_KEY_FILE', settings.NATS_TLS_KEY_FILE!)) } : {}),
    }
  }
  return opts
}

/**
 * Connections opened by connectNats that have lost their server and not yet
 * reconnected. nats.js keeps such a connection open (neither closed nor
 * draining) while it redials, buffering publishes and letting requests time
 * out, so only its status events tell.
 */
const disconnected = new WeakSet<NatsConnection>()

/**
 * Readiness of a NATS connection: open, not draining, and not between a
 * disconnect and the reconnect that follows. Disconnects are known only for
 * connections opened by connectNats.
 */
export function natsReady (nc: NatsConnection): boolean {
  return !nc.isClosed() && !nc.isDraining() && !disconnected.has(nc)
}

/**
 * Connects with unlimited reconnects, logging connection state changes and
 * tracking them for natsReady. Takes NATS_URL alone or every NATS_* setting
 * (credentials, TLS). A first connection that fails (no server, refused
 * credentials) rejects with an Error naming the servers, never the
 * credentials.
 */
export async function connectNats (settings: string | NatsSettings, name: string, logger: Logger): Promise<NatsConnection> {
  const opts = natsConnectionOptions(typeof settings === 'string' ? { NATS_URL: settings } : settings)
  let nc: NatsConnection
  try {
    nc = await connect({
      ...opts,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // Otherwise every request builds an Error up front for its stack
      // trace: a tenth of a busy gateway's CPU. Our failures carry codes
      // and the caller's own context instead.
      noAsyncTraces: true,
    })
  } catch (err) {
    throw new Error(`NATS: cannot connect to ${(opts.servers as string[]).join(',')}: ${(err as Error).message}`, { cause: err })
  }
  void (async () => {
    for await (const s of nc.status()) {
      // A stale connection or a forced reconnect is followed by 'disconnect' too.
      if (s.type === 'disconnect') disconnected.add(nc)
      else if (s.type === 'reconnect') disconnected.delete(nc)
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
  /** Commands being handled, with when their callers stop waiting (Infinity: no deadline given). */
  const inflight = new Map<Promise<void>, number>()
  let stopping = false
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
        // Cut short by a shutdown after its caller had given up: nobody to tell.
        if (stopping && deadline > 0 && Date.now() > deadline) logger.debug({ err }, 'command abandoned at shutdown')
        else if (failure.code === 'CHAT_INTERNAL') logger.error({ err }, 'command failed')
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
        const deadline = Number(msg.headers?.get(DEADLINE_HEADER))
        const p = handle(msg).finally(() => inflight.delete(p))
        inflight.set(p, deadline > 0 ? deadline : Infinity)
      },
    })
  })

  let stopped: Promise<void> | undefined
  return {
    subscriptions,
    stop () {
      stopped ??= (async () => {
        stopping = true
        await Promise.allSettled(subscriptions.map(async (s) => { await s.drain() }))
        // Commands taken run to completion, but not past the moment their
        // callers stop waiting: a reply nobody reads must not hold up a
        // shutdown (a slow query would outlast the grace period).
        const latest = Math.max(0, ...inflight.values())
        const all = Promise.allSettled([...inflight.keys()])
        if (latest === Infinity) {
          await all
          return
        }
        let timer: NodeJS.Timeout | undefined
        const pastDeadlines = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, latest - Date.now())) })
        await Promise.race([all, pastDeadlines])
        clearTimeout(timer)
        if (inflight.size > 0) opts.logger.warn({ commands: inflight.size }, 'stopping with commands whose callers have given up')
      })()
      return stopped
    },
  }
}
