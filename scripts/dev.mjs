#!/usr/bin/env node
// Local development runner (`pnpm dev` builds first, then runs this).
//
// 1. NATS, Redis and MongoDB: uses the ones answering at NATS_URL / REDIS_URL /
//    MONGO_URL (or the defaults); starts local ones for those that don't
//    (nats-server -js, redis-server, and mongod or else FerretDB: on PostgreSQL
//    when one answers, else on SQLite; CHAT_LOCAL_MONGO forces the choice),
//    data in .data/dev/.
// 2. Starts auth, contact, message and one gateway from services/*/dist,
//    prefixing their output with the service name, and waits for /readyz.
// 3. Ctrl-C / SIGTERM stops everything it started, apps first; if a child dies
//    on its own, the rest is stopped and the exit code is 1.
//
// With --infra-only (used by `pnpm test`), it only makes sure NATS, Redis and
// MongoDB answer, starting the missing ones detached (logs in .data/dev/) so
// they outlive it, like the servers a developer's machine already runs.
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, mkdirSync, openSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DATA = path.join(ROOT, '.data', 'dev')
const LOCAL = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', ''])
const SERVICES = [['auth', 9101], ['contact', 9102], ['message', 9103]]
const GATEWAY_PORT = Number(process.env.PORT || 8080)
const INFRA_ONLY = process.argv.includes('--infra-only')
const READY_TIMEOUT_MS = 30_000
const STOP_GRACE_MS = 10_000

const color = process.stdout.isTTY
  ? (n, s) => `\x1b[${[36, 33, 35, 32, 34, 31][n % 6]}m${s}\x1b[0m`
  : (_n, s) => s
const say = (msg) => console.log(`${color(5, '[dev]')} ${msg}`)

/** Host and port of the first server in a URL like nats://a:4222,b:4222. */
function endpoint (envName, fallback, defaultPort) {
  const url = process.env[envName] || fallback
  const first = url.split(',')[0].trim()
  const m = /^[a-z+]+:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/?]+)?(?::(\d+))?/i.exec(first)
  const host = (m?.[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '')
  return { url, host, port: Number(m?.[2] || defaultPort) }
}

function answers (port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: host === '0.0.0.0' ? '127.0.0.1' : host })
    const done = (ok) => { sock.destroy(); resolve(ok) }
    sock.setTimeout(timeoutMs, () => done(false))
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}

function which (bin) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const file = path.join(dir, bin)
    try { accessSync(file, constants.X_OK); return file } catch {}
  }
  return null
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---- children -----------------------------------------------------------

/** Everything we started: { name, kind: 'infra' | 'app', child, exited }. */
const children = []
let stopping = false
let colorIndex = 0

function start (name, kind, command, args, env = process.env) {
  const child = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal Ctrl-C reaches only us, and we stop the
    // children in order (apps before the servers they depend on).
    detached: true,
  })
  const label = color(colorIndex++, `[${name}]`.padEnd(10))
  for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    createInterface({ input: stream }).on('line', (line) => out.write(`${label} ${line}\n`))
  }
  const entry = { name, kind, child, exited: null }
  entry.exited = new Promise((resolve) => {
    child.once('error', (err) => {
      say(`${name}: could not start ${command}: ${err.message}`)
      resolve()
      void shutdown(1)
    })
    child.once('exit', (code, signal) => {
      resolve()
      if (!stopping) {
        say(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping everything`)
        void shutdown(1)
      }
    })
  })
  children.push(entry)
  return entry
}

async function stop (entry) {
  const { child } = entry
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => {
    say(`${entry.name} still running ${STOP_GRACE_MS / 1000} s after SIGTERM: SIGKILL`)
    child.kill('SIGKILL')
  }, STOP_GRACE_MS)
  await entry.exited
  clearTimeout(timer)
}

async function shutdown (code) {
  if (stopping) return
  stopping = true
  say('stopping...')
  const apps = children.filter((c) => c.kind === 'app')
  await Promise.all(apps.filter((c) => c.name === 'gateway').map(stop))
  await Promise.all(apps.map(stop))
  await Promise.all(children.filter((c) => c.kind === 'infra').map(stop))
  say('stopped')
  process.exit(code)
}

process.on('SIGINT', () => {
  if (stopping) { // a second Ctrl-C: don't wait any longer
    for (const c of children) c.child.kill('SIGKILL')
    process.exit(130)
  }
  void shutdown(0)
})
process.on('SIGTERM', () => { void shutdown(0) })
// Last resort if we die on an exception: don't leave detached children behind.
process.on('exit', () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGTERM')
})

async function waitFor (what, entry, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (entry.child.exitCode !== null || entry.child.signalCode !== null) throw new Error(`${entry.name} exited before ${what}`)
    if (Date.now() > deadline) throw new Error(`${entry.name}: no ${what} after ${timeoutMs / 1000} s`)
    await sleep(200)
  }
}

// ---- infrastructure ---------------------------------------------------------

/** Uses the server at `ep` if it answers, else starts one via `launch`. */
async function ensureInfra (name, ep, launch) {
  if (await answers(ep.port, ep.host)) {
    say(`${name}: using ${ep.url}`)
    return
  }
  if (!LOCAL.has(ep.host)) throw new Error(`${name}: ${ep.url} does not answer and is not local, so it can't be started here`)
  const host = ep.host === 'localhost' || ep.host === '0.0.0.0' || ep.host === '' ? '127.0.0.1' : ep.host
  const dir = path.join(DATA, name)
  mkdirSync(dir, { recursive: true })
  const [command, args] = await launch(host, ep.port, dir)
  say(`${name}: nothing at ${ep.url}; starting ${path.basename(command)} on ${host}:${ep.port} (data ${path.relative(ROOT, dir)})`)
  const entry = INFRA_ONLY ? startDetached(name, command, args, path.join(dir, `${name}.log`)) : start(name, 'infra', command, args)
  await waitFor(`answer on port ${ep.port}`, entry, () => answers(ep.port, host), READY_TIMEOUT_MS)
  say(`${name}: up`)
}

/** A server that keeps running after we exit (--infra-only), its output in a log file. */
function startDetached (name, command, args, logFile) {
  const out = openSync(logFile, 'a')
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', out, out], detached: true })
  child.unref()
  say(`${name}: log ${path.relative(ROOT, logFile)}`)
  return { name, kind: 'detached', child, exited: Promise.resolve() }
}

function need (bin, hint) {
  const file = which(bin)
  if (file === null) throw new Error(`${bin} not found on PATH; ${hint}`)
  return file
}

/**
 * How to start a MongoDB-wire server when none answers at MONGO_URL:
 * CHAT_LOCAL_MONGO=mongod|postgresql|sqlite forces one; by default (auto) a
 * real mongod when it is on PATH, else FerretDB with its PostgreSQL handler
 * when a PostgreSQL server answers at CHAT_LOCAL_PG_URL
 * (postgres://postgres@127.0.0.1:5432), else FerretDB on SQLite files.
 */
function mongoLauncher () {
  return async (host, port, dir) => {
    const choice = (process.env.CHAT_LOCAL_MONGO || 'auto').toLowerCase()
    if (!['auto', 'mongod', 'postgresql', 'sqlite'].includes(choice)) {
      throw new Error(`CHAT_LOCAL_MONGO must be mongod, postgresql, sqlite or auto, got ${process.env.CHAT_LOCAL_MONGO}`)
    }
    const mongod = which('mongod')
    if (choice === 'mongod' || (choice === 'auto' && mongod !== null)) {
      if (mongod === null) throw new Error('CHAT_LOCAL_MONGO=mongod, but mongod is not on PATH')
      say('mongo: using mongod')
      return [mongod, ['--dbpath', dir, '--port', String(port), '--bind_ip', host]]
    }
    return await ferretdbLauncher(choice, host, port, dir)
  }
}

async function ferretdbLauncher (choice, host, port, dir) {
  let handler = ['--handler=sqlite', `--sqlite-url=file:${dir}/`]
  let what = `SQLite files in ${path.relative(ROOT, dir)}`
  if (choice === 'postgresql' || choice === 'auto') {
    const pg = await postgresFor(port, choice === 'postgresql')
    if (pg !== null) {
      handler = ['--handler=postgresql', `--postgresql-url=${pg.url}`]
      what = `PostgreSQL database ${pg.database} at ${pg.server}`
    }
  }
  say(`mongo: ${choice === 'auto' ? 'no mongod on PATH' : `CHAT_LOCAL_MONGO=${choice}`}, so FerretDB on ${what} (scripts/ensure-ferretdb.sh)`)
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'ensure-ferretdb.sh')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  if (r.status !== 0) throw new Error('could not get a FerretDB binary (see above)')
  const ferretdb = r.stdout.trim().split('\n').pop()
  return [ferretdb, [
    ...handler, `--listen-addr=${host}:${port}`,
    `--state-dir=${dir}`, '--debug-addr=-', // its debug HTTP server would otherwise take port 8088
    '--telemetry=disable', '--log-level=warn',
  ]]
}

/**
 * The PostgreSQL database for a FerretDB on `mongoPort`, created if
 * missing, or null when no PostgreSQL answers (an error instead when
 * `required`). The server is CHAT_LOCAL_PG_URL; its database part, if any,
 * names the database, else ferretdb_dev (ferretdb_dev_<port> for a FerretDB
 * on another port than 27017, so two never share one).
 */
async function postgresFor (mongoPort, required) {
  const fail = (why) => {
    if (required) throw new Error(`CHAT_LOCAL_MONGO=postgresql, but ${why}`)
    say(`mongo: ${why}; falling back to SQLite`)
    return null
  }
  const base = new URL(process.env.CHAT_LOCAL_PG_URL || 'postgres://postgres@127.0.0.1:5432')
  const server = `${base.protocol}//${base.username ? `${base.username}@` : ''}${base.host}`
  const pgHost = base.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
  const pgPort = Number(base.port || 5432)
  if (!(await answers(pgPort, pgHost))) {
    if (required) return fail(`no PostgreSQL answers at ${server}`)
    return null // the usual case without PostgreSQL: SQLite, silently
  }
  const psql = which('psql')
  if (psql === null) return fail(`PostgreSQL answers at ${server} but psql (needed to create the database) is not on PATH`)
  const database = decodeURIComponent(base.pathname.slice(1)) || (mongoPort === 27017 ? 'ferretdb_dev' : `ferretdb_dev_${mongoPort}`)
  if (!/^[A-Za-z0-9_]{1,63}$/.test(database)) throw new Error(`PostgreSQL database name ${JSON.stringify(database)}: use letters, digits and _`)
  const admin = new URL(base)
  admin.pathname = '/postgres'
  admin.search = '' // FerretDB's own parameters (pool_max_conns, ...) mean nothing to psql
  const sql = (query) => spawnSync(psql, [admin.href, '-v', 'ON_ERROR_STOP=1', '-tAc', query], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
  const exists = sql(`select 1 from pg_database where datname = '${database}'`)
  if (exists.status !== 0) return fail(`psql could not query ${server}: ${(exists.stderr || exists.error?.message || '').trim()}`)
  if (exists.stdout.trim() !== '1') {
    const created = sql(`create database "${database}"`)
    // A concurrent start may have created it meanwhile: that is fine too.
    if (created.status !== 0 && !/already exists/.test(created.stderr)) return fail(`could not create database ${database}: ${created.stderr.trim()}`)
    say(`mongo: created PostgreSQL database ${database}`)
  }
  const url = new URL(base)
  url.pathname = `/${database}`
  return { url: url.href, server, database }
}

// ---- main ---------------------------------------------------------------

async function main () {
  const nats = endpoint('NATS_URL', 'nats://127.0.0.1:4222', 4222)
  const redis = endpoint('REDIS_URL', 'redis://127.0.0.1:6379', 6379)
  const mongo = endpoint('MONGO_URL', 'mongodb://127.0.0.1:27017', 27017)

  await ensureInfra('nats', nats, (host, port, dir) => [
    need('nats-server', 'install it (apt-get install nats-server) or set NATS_URL'),
    ['-js', '-sd', dir, '-a', host, '-p', String(port)],
  ])
  await ensureInfra('redis', redis, (host, port, dir) => [
    need('redis-server', 'install it (apt-get install redis-server) or set REDIS_URL'),
    ['--port', String(port), '--bind', host, '--dir', dir, '--appendonly', 'no'],
  ])
  await ensureInfra('mongo', mongo, mongoLauncher())
  if (INFRA_ONLY) return

  const apps = [...SERVICES, ['gateway', GATEWAY_PORT]]
  for (const [name, port] of apps) {
    const main = path.join(ROOT, 'services', name, 'dist', 'main.js')
    if (!existsSync(main)) throw new Error(`${path.relative(ROOT, main)} is missing: run \`pnpm build\` (pnpm dev does)`)
    if (await answers(port)) throw new Error(`port ${port} (for ${name}) is already in use`)
  }

  const base = {
    ...process.env,
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    MONGO_URL: mongo.url,
    HTTP_HOST: process.env.HTTP_HOST || '127.0.0.1',
  }
  const started = apps.map(([name, port]) => {
    const env = name === 'gateway' ? { ...base, PORT: String(port) } : { ...base, HTTP_PORT: String(port) }
    return { port, entry: start(name, 'app', process.execPath, [path.join('services', name, 'dist', 'main.js')], env) }
  })
  await Promise.all(started.map(async ({ port, entry }) => {
    const ready = async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        return res.status === 200
      } catch { return false }
    }
    await waitFor('/readyz 200', entry, ready, READY_TIMEOUT_MS)
    say(`${entry.name} ready (http://127.0.0.1:${port}/readyz)`)
  }))

  say('all services ready; Ctrl-C to stop')
  console.log(`Gateway: http://127.0.0.1:${GATEWAY_PORT} (WebSocket ws://127.0.0.1:${GATEWAY_PORT}/ws; HTTP API docs http://127.0.0.1:${GATEWAY_PORT}/docs)`)
}

main().catch((err) => {
  if (stopping) return // already shutting down because a child died
  say(`error: ${err.message}`)
  void shutdown(1)
})
