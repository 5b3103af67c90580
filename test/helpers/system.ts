// Starts the real system for an integration test: auth, contact and message
// (one each, or `replicas` each) plus N gateways, each as `node services/<x>/dist/main.js`,
// isolated from other test files by unique NATS/Redis/Mongo namespaces.
// Needs `pnpm build` first and NATS, Redis and MongoDB (FerretDB) running.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { removeDomainStreams } from '../../packages/runtime/src/testing.js'
import { freePort } from './net.js'
import { cleanEnv, REPO_ROOT, spawnManaged, stopProcess, type ExitInfo, type ManagedProcess } from './proc.js'

/** What the harness needs from a tap test (any `t`). */
export interface TestLike {
  teardown: (fn: () => unknown) => void
  passing?: () => boolean
}

export type ServiceName = 'auth' | 'contact' | 'message'

export interface ServiceHandle {
  port: number
  proc: ManagedProcess
  /** Which service this replica runs. */
  name?: ServiceName
  /** The extra env it was started with (HTTP_PORT included), reused by restartService. */
  extraEnv?: Record<string, string>
}

export interface GatewayHandle {
  port: number
  httpUrl: string
  wsUrl: (path?: string) => string
  proc: ManagedProcess
  /** The extra env it was started with (PORT included), reused by restartGateway. */
  extraEnv?: Record<string, string>
}

export interface System {
  gateways: GatewayHandle[]
  /** The replica of each service started last. */
  services: Record<ServiceName, ServiceHandle>
  /** Every replica of each service, in start order (restarted ones in their place). */
  replicas: Record<ServiceName, ServiceHandle[]>
  /** The env every process of this system got (before per-process extras). */
  env: Record<string, string>
  /** Sends a signal; resolves on exit (SIGSTOP/SIGCONT resolve at once). */
  kill: (proc: ManagedProcess, signal?: NodeJS.Signals) => Promise<ExitInfo | null>
  /** SIGTERM everything (gateways first), SIGKILL after 5 s. Idempotent. */
  stop: () => Promise<void>
  /** Every process started for this system, in start order. */
  processes: ManagedProcess[]
}

export interface StartOptions {
  gateways?: number
  /** Extra env for every process (overrides the harness's values). */
  env?: Record<string, string>
  /** Redis for this system, e.g. from startPrivateRedis(t). */
  redisUrl?: string
  /** Replicas of each of auth, contact and message (default 1). */
  replicas?: number
}

const READY_TIMEOUT_MS = 60_000

export async function startSystem (t: TestLike, opts: StartOptions = {}): Promise<System> {
  const id = 't' + randomBytes(5).toString('hex')
  const env: Record<string, string> = {
    NATS_PREFIX: id,
    REDIS_PREFIX: `${id}:`,
    MONGO_DB: id,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    // At OWASP's minimum (N=2^17) a password hash takes about a second of one
    // core on a 2-core CI machine, and the suite registers hundreds of users:
    // integration tests hash at 2^14. services/auth/test covers the real cost
    // and the upgrade of weaker hashes.
    PASSWORD_SCRYPT_LOG2_N: '14',
    // Bursts of registrations still queue in auth: not a gateway timeout.
    NATS_REQUEST_TIMEOUT_MS: '20000',
    HTTP_HOST: '127.0.0.1',
    // Streams of domain events in memory, deleted at teardown.
    EVENTS_STORAGE: 'memory',
    // No token key: auth generates one in this system's database on first start.
    ...(opts.redisUrl !== undefined ? { REDIS_URL: opts.redisUrl } : {}),
    ...opts.env,
  }

  const system: System = {
    gateways: [],
    services: {} as Record<ServiceName, ServiceHandle>,
    replicas: { auth: [], contact: [], message: [] },
    env,
    processes: [],
    kill: async (proc, signal = 'SIGTERM') => {
      if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
        proc.child.kill(signal)
        return null
      }
      return await stopProcess(proc, signal)
    },
    stop: async () => {
      const isGateway = (p: ManagedProcess) => p.name.startsWith('gateway')
      await Promise.all(system.processes.filter(isGateway).map(async (p) => await stopProcess(p)))
      await Promise.all(system.processes.filter((p) => !isGateway(p)).map(async (p) => await stopProcess(p)))
    },
  }

  // Registered before anything starts, so a failed start still cleans up.
  t.teardown(async () => {
    if (t.passing !== undefined && !t.passing()) dumpOutput(system)
    await system.stop()
    await removeDomainStreams(env.NATS_URL ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222', id).catch(() => undefined)
  })

  const count = opts.gateways ?? 2
  const replicas = opts.replicas ?? 1
  await Promise.all([
    ...(['auth', 'contact', 'message'] as const).flatMap((name) => Array.from({ length: replicas }, async () => {
      system.services[name] = await startService(system, name)
    })),
    ...Array.from({ length: count }, async () => await startGateway(system)),
  ])
  return system
}

/**
 * Starts (or restarts, e.g. after `kill`) one auth/contact/message process
 * on a fresh probe port and waits for /readyz. Updates `system.services`.
 */
export async function startService (system: System, name: ServiceName, env: Record<string, string> = {}): Promise<ServiceHandle> {
  const port = await freePort()
  const extraEnv = { ...env, HTTP_PORT: String(port) }
  const label = system.replicas[name].length === 0 ? name : `${name}#${system.replicas[name].length + 1}`
  const proc = spawnService(system, name, label, extraEnv)
  const handle: ServiceHandle = { port, proc, name, extraEnv }
  system.replicas[name].push(handle)
  await waitReady(proc, port)
  system.services[name] = handle
  return handle
}

/**
 * Starts a replica again after it exited (e.g. `kill(handle.proc, 'SIGKILL')`)
 * with the same env and probe port; `handle.proc` becomes the new process.
 * A replica still running is SIGKILLed first.
 */
export async function restartService (system: System, handle: ServiceHandle): Promise<ServiceHandle> {
  if (handle.name === undefined || handle.extraEnv === undefined) throw new Error('restartService: not a handle from startService')
  await stopProcess(handle.proc, 'SIGKILL')
  handle.proc = spawnService(system, handle.name, handle.proc.name, handle.extraEnv)
  await waitReady(handle.proc, handle.port)
  return handle
}

/** Adds one more gateway replica to a running system. */
export async function startGateway (system: System, env: Record<string, string> = {}): Promise<GatewayHandle> {
  const port = await freePort()
  const label = `gateway#${system.processes.filter((p) => p.name.startsWith('gateway')).length + 1}`
  const extraEnv = { ...env, PORT: String(port) }
  const proc = spawnService(system, 'gateway', label, extraEnv)
  const handle: GatewayHandle = {
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: (p = '/ws') => `ws://127.0.0.1:${port}${p}`,
    proc,
    extraEnv,
  }
  system.gateways.push(handle)
  await waitReady(proc, port)
  return handle
}

/** Starts a gateway again on its port with the same env (SIGKILLing it first if still running); `handle.proc` becomes the new process. */
export async function restartGateway (system: System, handle: GatewayHandle): Promise<GatewayHandle> {
  if (handle.extraEnv === undefined) throw new Error('restartGateway: not a handle from startGateway')
  await stopProcess(handle.proc, 'SIGKILL')
  handle.proc = spawnService(system, 'gateway', handle.proc.name, handle.extraEnv)
  await waitReady(handle.proc, handle.port)
  return handle
}

function spawnService (system: System, service: string, label: string, extra: Record<string, string>): ManagedProcess {
  const main = path.join(REPO_ROOT, 'services', service, 'dist', 'main.js')
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`pnpm build\` first`)
  const proc = spawnManaged(label, process.execPath, [main], { env: cleanEnv({ ...system.env, ...extra }) })
  system.processes.push(proc)
  return proc
}

/** Polls /readyz until 200; fails early if the process exits. */
async function waitReady (proc: ManagedProcess, port: number): Promise<void> {
  const url = `http://127.0.0.1:${port}/readyz`
  const deadline = Date.now() + READY_TIMEOUT_MS
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (proc.exitInfo !== null) {
      throw new Error(`${proc.name} exited (code ${proc.exitInfo.code}, signal ${proc.exitInfo.signal}) before it was ready; output:\n${proc.tail()}`)
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      const body = await res.text()
      if (res.status === 200) return
      last = `${res.status} ${body}`
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${proc.name} not ready on ${url} after ${READY_TIMEOUT_MS} ms (last: ${last}); output:\n${proc.tail()}`)
}

/** On a failing test, show what each process said last (unless already streamed). */
function dumpOutput (system: System): void {
  if (process.env.TEST_VERBOSE) return
  for (const p of system.processes) {
    process.stderr.write(`--- ${p.name} (pid ${p.pid}) last output ---\n${p.tail(40)}\n`)
  }
}
