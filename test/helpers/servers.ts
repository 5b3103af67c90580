// Private NATS, Redis and MongoDB-wire servers that a fault test may stop
// and start again on the same port (and with the same data), to watch the
// processes using them lose and regain them.
import { execFile, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort, portAnswers, waitForPort } from './net.js'
import { REPO_ROOT, spawnManaged, stopProcess, type ManagedProcess } from './proc.js'
import type { TestLike } from './system.js'

const execFileAsync = promisify(execFile)

/** A server on a fixed port; stopped at teardown. */
export interface RestartableServer {
  url: string
  port: number
  /** The running process, or undefined while stopped. */
  proc: ManagedProcess | undefined
  /** Starts it (again) on its port; resolves once the port answers. */
  start: () => Promise<void>
  /** SIGTERM (SIGKILL after 5 s); resolves once it has exited and the port is free. */
  stop: () => Promise<void>
}

const START_TIMEOUT_MS = 15_000

function restartable (t: TestLike, name: string, url: string, port: number, command: string, args: string[]): RestartableServer {
  const server: RestartableServer = {
    url,
    port,
    proc: undefined,
    start: async () => {
      if (server.proc !== undefined) throw new Error(`${name} is already running`)
      const proc = spawnManaged(`${name}:${port}`, command, args)
      server.proc = proc
      await Promise.race([
        waitForPort(port, '127.0.0.1', START_TIMEOUT_MS),
        proc.exited.then((e) => { throw new Error(`${name} exited (code ${e.code}): ${proc.tail()}`) }),
      ])
    },
    stop: async () => {
      const proc = server.proc
      if (proc === undefined) return
      await stopProcess(proc)
      server.proc = undefined
      // A child the server forked could still hold the port a moment longer.
      const deadline = Date.now() + START_TIMEOUT_MS
      while (await portAnswers(port)) {
        if (Date.now() > deadline) throw new Error(`${name} exited but port ${port} still answers`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
  }
  t.teardown(() => server.stop())
  return server
}

/** nats-server with JetStream (the message service's domain events) on a free port; its store survives a restart. */
export async function startRestartableNats (t: TestLike): Promise<RestartableServer> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-nats-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const server = restartable(t, 'nats', `nats://127.0.0.1:${port}`, port, 'nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)])
  await server.start()
  return server
}

/** redis-server on a free port, without persistence: a restart starts empty. */
export async function startRestartableRedis (t: TestLike): Promise<RestartableServer> {
  const port = await freePort()
  const server = restartable(t, 'redis', `redis://127.0.0.1:${port}`, port, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
  ])
  await server.start()
  return server
}

function isExecutable (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The FerretDB binary scripts/ensure-ferretdb.sh keeps in .tools/bin,
 * built first if missing (as scripts/dev.mjs does: a machine whose shared
 * MongoDB-wire server was already running may not have built one yet).
 */
async function ensureFerretdb (): Promise<string | undefined> {
  const local = path.join(REPO_ROOT, '.tools', 'bin', 'ferretdb')
  if (isExecutable(local)) return local
  // Not spawnSync: other servers of the test are starting meanwhile.
  const { stdout } = await execFileAsync('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-ferretdb.sh')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 })
  const built = stdout.trim().split('\n').pop()
  return built !== undefined && isExecutable(built) ? built : undefined
}

function which (bin: string): string | undefined {
  return (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, bin)).find(isExecutable)
}

/**
 * A MongoDB-wire server of its own on a free port, started as scripts/dev.mjs
 * starts the shared one: FerretDB (on PATH, or the one
 * scripts/ensure-ferretdb.sh built into .tools/bin) with its PostgreSQL
 * handler on a database of its own when PostgreSQL answers at
 * CHAT_LOCAL_PG_URL (postgres://postgres@127.0.0.1:5432) and psql is there,
 * else on SQLite files; mongod when there is no FerretDB. Its data outlives
 * a restart; everything is removed at teardown.
 */
export async function startRestartableMongo (t: TestLike): Promise<RestartableServer> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-mongo-'))
  // Registered first, so it runs after the server has stopped.
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const url = `mongodb://127.0.0.1:${port}`
  const ferretdb = which('ferretdb') ?? (which('mongod') === undefined ? await ensureFerretdb() : undefined)
  if (ferretdb === undefined) {
    const mongod = which('mongod')
    if (mongod === undefined) throw new Error('neither FerretDB nor mongod found: run scripts/ensure-ferretdb.sh (or put mongod on PATH)')
    const server = restartable(t, 'mongod', url, port, mongod, ['--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1'])
    await server.start()
    return server
  }
  const backend = await postgresDatabase(t) ?? ['--handler=sqlite', `--sqlite-url=file:${dir}/`]
  const server = restartable(t, 'ferretdb', url, port, ferretdb, [
    ...backend, `--listen-addr=127.0.0.1:${port}`,
    `--state-dir=${dir}`, '--debug-addr=-', '--telemetry=disable', '--log-level=warn',
  ])
  await server.start()
  return server
}

/**
 * FerretDB's PostgreSQL handler arguments for a new database, dropped at
 * teardown; undefined when no PostgreSQL (or no psql) is at hand.
 */
async function postgresDatabase (t: TestLike): Promise<string[] | undefined> {
  const base = new URL(process.env.CHAT_LOCAL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432')
  const psql = which('psql')
  if (psql === undefined || !(await portAnswers(Number(base.port || 5432), base.hostname || '127.0.0.1'))) return undefined
  const admin = new URL(base)
  admin.pathname = '/postgres'
  admin.search = ''
  const sql = (query: string) => spawnSync(psql, [admin.href, '-v', 'ON_ERROR_STOP=1', '-tAc', query], { encoding: 'utf8', timeout: 10_000 })
  const database = `ferretdb_test_${randomBytes(5).toString('hex')}`
  const created = sql(`create database "${database}"`)
  if (created.status !== 0) throw new Error(`could not create PostgreSQL database ${database}: ${created.stderr}`)
  t.teardown(() => { sql(`drop database if exists "${database}"`) })
  const url = new URL(base)
  url.pathname = `/${database}`
  return ['--handler=postgresql', `--postgresql-url=${url.href}`]
}
