// One fault run: a fresh system (two gateways, two replicas of each service,
// private NATS/Redis/MongoDB-wire servers where the fault needs them), the
// load driver, the fault injected and healed, clients reconnected and
// caught up, every conversation's history read, and the verdict.
import { appendFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { http } from '../helpers/http.js'
import { REPO_ROOT } from '../helpers/proc.js'
import { redisCommand } from '../helpers/redis.js'
import { startRestartableMongo, startRestartableNats, startRestartableRedis, type RestartableServer } from '../helpers/servers.js'
import { restartGateway, restartService, startSystem, type System, type TestLike } from '../helpers/system.js'
import { sleep } from '../helpers/typed.js'
import { judge, type Details, type Figures, type StoredMessage } from './judge.js'
import { startLoad, type LoadClient, type LogEntry } from './load.js'

/** The gateways' and services' command deadline in these runs: a send taken by a dead or paused replica fails (CHAT_TIMEOUT) and is retried after this. */
export const REQUEST_TIMEOUT_MS = 2000

/** How much load, and for how long. */
export interface Profile {
  pairs: number
  ratePerUser: number
  warmupMs: number
  /** How long the fault lasts (faults that repeat repeat for this long). */
  faultMs: number
  /** Load after healing, before new messages stop. */
  afterMs: number
  /** How long unanswered sends keep being retried after the load stops. */
  drainMs: number
}

export const SHORT: Profile = { pairs: 3, ratePerUser: 4, warmupMs: 1500, faultMs: 5000, afterMs: 2000, drainMs: 15_000 }
export const LONG: Profile = { pairs: 4, ratePerUser: 5, warmupMs: 5000, faultMs: 20_000, afterMs: 5000, drainMs: 30_000 }

type ServerKind = 'nats' | 'redis' | 'mongo'

export interface FaultContext {
  sys: System
  servers: Partial<Record<ServerKind, RestartableServer>>
  profile: Profile
  mark: (what: string) => void
}

export interface Fault {
  key: string
  title: string
  servers: ServerKind[]
  /** Injects the fault and heals it; resolves once healed. */
  inject: (ctx: FaultContext) => Promise<void>
}

/** Every process's /readyz answers 200 (polled; throws after `ms`). */
async function allReady (sys: System, ms = 30_000): Promise<void> {
  const ports = [...sys.gateways.map((g) => g.port), ...Object.values(sys.replicas).flat().map((r) => r.port)]
  const deadline = Date.now() + ms
  for (const port of ports) {
    for (;;) {
      const status = await http(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 2000 }).then((r) => r.status, () => 0)
      if (status === 200) break
      if (Date.now() > deadline) throw new Error(`port ${port}: /readyz ${status} ${ms} ms after healing`)
      await sleep(200)
    }
  }
}

/**
 * In the middle of the fault window, stops a server for `outageMs`, starts it
 * again on its port and waits until every process is ready; returns at the
 * window's end (or once ready, if later).
 */
async function outage (ctx: FaultContext, kind: ServerKind, outageMs: number): Promise<void> {
  const end = Date.now() + ctx.profile.faultMs
  await sleep(Math.max(0, ctx.profile.faultMs - outageMs) / 2)
  const server = ctx.servers[kind]!
  ctx.mark(`${kind} stopped`)
  await server.stop()
  await sleep(outageMs)
  await server.start()
  ctx.mark(`${kind} started`)
  await allReady(ctx.sys)
  await sleep(Math.max(0, end - Date.now()))
}

export const FAULTS: Fault[] = [
  {
    key: 'message-kill',
    title: 'a message-service replica SIGKILLed every 3 s (and restarted)',
    servers: [],
    inject: async ({ sys, profile, mark }) => {
      const end = Date.now() + profile.faultMs
      for (let i = 0; Date.now() < end; i++) {
        const replica = sys.replicas.message[i % sys.replicas.message.length]!
        mark(`SIGKILL ${replica.proc.name} (pid ${replica.proc.pid})`)
        await sys.kill(replica.proc, 'SIGKILL')
        await restartService(sys, replica)
        mark(`${replica.proc.name} restarted`)
        await sleep(Math.min(3000, Math.max(0, end - Date.now())))
      }
    },
  },
  {
    key: 'gateway-kill',
    title: 'a gateway SIGKILLed; its clients reconnect to the other and catch up',
    servers: [],
    inject: async ({ sys, profile, mark }) => {
      const gateway = sys.gateways[0]!
      mark(`SIGKILL ${gateway.proc.name}`)
      await sys.kill(gateway.proc, 'SIGKILL')
      await sleep(profile.faultMs)
      await restartGateway(sys, gateway)
      mark(`${gateway.proc.name} restarted`)
    },
  },
  {
    key: 'nats-restart',
    title: 'NATS restarted (down 3 s)',
    servers: ['nats'],
    inject: async (ctx) => await outage(ctx, 'nats', 3000),
  },
  {
    key: 'redis-flush',
    title: 'Redis flushed (FLUSHALL)',
    servers: ['redis'],
    inject: async ({ servers, profile, mark }) => {
      await sleep(profile.faultMs / 2)
      mark('FLUSHALL')
      await redisCommand(servers.redis!.url, 'FLUSHALL')
      await sleep(profile.faultMs / 2)
    },
  },
  {
    key: 'redis-restart',
    title: 'Redis restarted empty (down 2 s)',
    servers: ['redis'],
    inject: async (ctx) => await outage(ctx, 'redis', 2000),
  },
  {
    key: 'mongo-restart',
    title: 'the MongoDB-wire server (FerretDB) restarted (down 3 s)',
    servers: ['mongo'],
    inject: async (ctx) => await outage(ctx, 'mongo', 3000),
  },
  {
    key: 'message-pause',
    title: `a message-service replica paused (SIGSTOP) for 3 × the ${REQUEST_TIMEOUT_MS} ms request timeout, then resumed`,
    servers: [],
    inject: async ({ sys, profile, mark }) => {
      await sleep(Math.max(0, profile.faultMs - 3 * REQUEST_TIMEOUT_MS) / 2)
      const replica = sys.replicas.message[0]!
      mark(`SIGSTOP ${replica.proc.name}`)
      await sys.kill(replica.proc, 'SIGSTOP')
      await sleep(3 * REQUEST_TIMEOUT_MS)
      await sys.kill(replica.proc, 'SIGCONT')
      mark(`SIGCONT ${replica.proc.name}`)
      await sleep(Math.max(0, profile.faultMs - 3 * REQUEST_TIMEOUT_MS) / 2)
    },
  },
]

/** Where each run's log (JSON Lines) and the figures go. */
export const LOG_DIR = path.join(REPO_ROOT, '.data', 'faults')

/** Logs kept in LOG_DIR: `pnpm test` adds three per run. */
const KEEP_LOGS = 60

/** Removes all but the newest KEEP_LOGS run logs (their names start with the time). */
function pruneLogs (): void {
  const logs = readdirSync(LOG_DIR).filter((f) => f.endsWith('.jsonl')).sort()
  for (const f of logs.slice(0, Math.max(0, logs.length - KEEP_LOGS))) rmSync(path.join(LOG_DIR, f), { force: true })
}

/** A conversation's whole history, oldest first, paged with LOAD_MESSAGES. */
async function history (c: LoadClient): Promise<StoredMessage[]> {
  const all: StoredMessage[] = []
  let beforeId: number | undefined
  for (;;) {
    const page = await c.ws!.request('LOAD_MESSAGES', { userId: c.userId, targetId: c.peer!.userId, limit: 100, ...(beforeId === undefined ? {} : { beforeId }) }, 20_000)
    if (page.type !== 'MESSAGES_LOADED') throw new Error(`history failed: ${JSON.stringify(page)}`)
    all.unshift(...(page.payload as StoredMessage[]))
    if (!(page.meta as { hasMore?: boolean } | undefined)?.hasMore || page.payload.length === 0) return all
    beforeId = page.payload[0].id
  }
}

export interface FaultResult { figures: Figures, details: Details, logFile: string, durationMs: number }

/** The system the faults run on, with the private servers they stop and flush. */
export interface FaultSystem { sys: System, servers: Partial<Record<ServerKind, RestartableServer>> }

/** The private servers `faults` need, and a system on them: two gateways, two replicas of each service. */
export async function startFaultSystem (t: TestLike, faults: Fault[]): Promise<FaultSystem> {
  const servers: Partial<Record<ServerKind, RestartableServer>> = {}
  const kinds = [...new Set(faults.flatMap((f) => f.servers))]
  await Promise.all(kinds.map(async (kind) => {
    servers[kind] = await (kind === 'nats' ? startRestartableNats(t) : kind === 'redis' ? startRestartableRedis(t) : startRestartableMongo(t))
  }))
  const sys = await startSystem(t, {
    gateways: 2,
    replicas: 2,
    env: {
      NATS_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      // A private NATS is restarted: its streams must survive on disk.
      ...(servers.nats !== undefined ? { NATS_URL: servers.nats.url, EVENTS_STORAGE: 'file' } : {}),
      ...(servers.redis !== undefined ? { REDIS_URL: servers.redis.url } : {}),
      ...(servers.mongo !== undefined ? { MONGO_URL: servers.mongo.url } : {}),
    },
  })
  return { sys, servers }
}

/**
 * Runs one fault on `fs` with users of its own, from a whole system (every
 * process ready) to its verdict, and leaves the system whole again.
 */
export async function runFault (t: TestLike, fs: FaultSystem, fault: Fault, profile: Profile): Promise<FaultResult> {
  const { sys, servers } = fs
  const began = Date.now()
  mkdirSync(LOG_DIR, { recursive: true })
  pruneLogs()
  const logFile = path.join(LOG_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}-${fault.key}.jsonl`)
  writeFileSync(logFile, '')
  const lines: string[] = []
  const log = (e: LogEntry) => { lines.push(JSON.stringify(e)) }
  const flush = () => { if (lines.length > 0) appendFileSync(logFile, lines.splice(0).join('\n') + '\n') }
  const flusher = setInterval(flush, 1000)
  t.teardown(() => { clearInterval(flusher); flush() })

  await allReady(sys)
  const mark = (what: string) => log({ t: Date.now(), ev: 'fault', what })
  const load = await startLoad({
    gateways: sys.gateways.map((g) => g.wsUrl()),
    pairs: profile.pairs,
    ratePerUser: profile.ratePerUser,
    window: 8,
    answerTimeoutMs: 3 * REQUEST_TIMEOUT_MS,
    maxRetryableAttempts: 20,
    log,
  })
  t.teardown(() => load.close())

  const loadStart = Date.now()
  await sleep(profile.warmupMs)
  mark(`fault: ${fault.key}`)
  await fault.inject({ sys, servers, profile, mark })
  mark('healed')
  await sleep(profile.afterMs)
  const loadStop = Date.now()
  await load.drain(profile.drainMs)
  await load.allConnected(30_000)

  // Final catch-up, as docs/api-typed.md tells a client: SYNC each
  // conversation from the highest seq it holds.
  const conversations = new Set<number>()
  for (const c of load.clients) for (const s of c.sends) if (s.conversationId !== undefined) conversations.add(s.conversationId)
  for (const c of load.clients) {
    for (const conversationId of [...conversations].filter((id) => c.held.has(id) || c.peer!.held.has(id))) {
      await load.sync(c, conversationId, Math.max(0, ...(c.held.get(conversationId)?.keys() ?? [])))
    }
  }

  const historyByConversation = new Map<number, StoredMessage[]>()
  for (let i = 0; i < load.clients.length; i += 2) {
    const c = load.clients[i]!
    const msgs = await history(c)
    const conversationId = (msgs[0] as { conversationId?: number } | undefined)?.conversationId
    if (conversationId !== undefined) historyByConversation.set(conversationId, msgs)
  }
  const verdict = judge({ fault: fault.key, clients: load.clients, history: historyByConversation, ackTimes: load.ackTimes, loadStart, loadStop })
  lines.push(JSON.stringify({ t: Date.now(), ev: 'verdict', ...verdict, history: Object.fromEntries(historyByConversation) }))
  flush()
  return { ...verdict, logFile, durationMs: Date.now() - began }
}
