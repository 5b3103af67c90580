// Starts and stops the system under test the way test/helpers/system.ts does:
// auth, contact, message (1 or 2 replicas) and the gateways as
// `node services/<name>/dist/main.js`, with a random NATS_PREFIX,
// REDIS_PREFIX and MONGO_DB, free loopback ports and LOG_LEVEL=warn.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { ROOT, sleep } from './util.mjs'

/** NATS, Redis and the MongoDB-wire server: the services' defaults, loopback only. */
export function infraUrls () {
  const urls = {
    NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    MONGO_URL: process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017',
  }
  for (const [k, v] of Object.entries(urls)) {
    for (const u of v.split(',')) {
      const host = new URL(u.trim()).hostname
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) throw new Error(`${k}=${v}: the benchmark only uses loopback addresses`)
    }
  }
  return urls
}

/** A MongoDB connection string with one more option. */
function withOption (url, name, value) {
  if (url.includes('?')) return `${url}&${name}=${value}`
  return /^mongodb(\+srv)?:\/\/[^/]+$/.test(url) ? `${url}/?${name}=${value}` : `${url}?${name}=${value}`
}

async function freePort () {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer().on('error', reject)
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)) })
  })
}

// With LOG_LEVEL=warn every line a child prints is worth reporting: count
// them by pino level and keep a few samples.
const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
function noteLine (p, line) {
  if (line.trim() === '') return
  let level = 'raw'
  let text = line
  try {
    const j = JSON.parse(line)
    level = LEVELS[j.level] ?? String(j.level)
    text = [j.msg, j.err?.message ?? j.err?.code, j.code].filter(Boolean).join(' | ')
  } catch {}
  p.output[level] = (p.output[level] ?? 0) + 1
  if (p.samples.length < 5) p.samples.push(`${level}: ${text.slice(0, 300)}`)
}

/**
 * Env for every child. Settings the benchmark needs (no per-socket rate
 * limit, cheap password hashes, many sockets per address) apply unless the
 * caller's environment sets them.
 */
function childEnv (runId, urls, mongoMaxPool) {
  const env = { ...process.env }
  delete env.NODE_OPTIONS // don't hand our loaders/flags to the services
  const defaults = {
    LOG_LEVEL: 'warn',
    WS_RATE_LIMIT_PER_SEC: '100000',
    WS_RATE_LIMIT_BURST: '100000',
    WS_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    // The benchmark registers hundreds of users; auth logs one warning for it.
    PASSWORD_SCRYPT_LOG2_N: '10',
  }
  for (const [k, v] of Object.entries(defaults)) if (env[k] === undefined || env[k] === '') env[k] = v
  return Object.assign(env, urls, {
    MONGO_URL: mongoMaxPool > 0 ? withOption(urls.MONGO_URL, 'maxPoolSize', mongoMaxPool) : urls.MONGO_URL,
    NATS_PREFIX: runId,
    REDIS_PREFIX: `${runId}:`,
    MONGO_DB: runId,
    HTTP_HOST: '127.0.0.1',
  })
}

/**
 * Starts the system; resolves when every process answers /readyz with 200.
 * `system.procs` lists them ({name, pid, port, output, samples, exit, ...}).
 */
export async function startSystem ({ gateways = 2, messageReplicas = 1, mongoMaxPool = 0 } = {}) {
  const runId = 'b' + randomBytes(5).toString('hex')
  const urls = infraUrls()
  const env = childEnv(runId, urls, mongoMaxPool)
  const procs = []
  let stopping = false

  async function start (name, service, extra) {
    const port = await freePort()
    const portVar = service === 'gateway' ? 'PORT' : 'HTTP_PORT'
    const main = path.join(ROOT, 'services', service, 'dist', 'main.js')
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`pnpm build\` first`)
    // BENCH_CPU_PROF=<dir>: each process writes a V8 CPU profile there when it stops (node --cpu-prof).
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`, `--cpu-prof-name=${name.replace(/[^\w.-]/g, '_')}.cpuprofile`] : []
    const child = spawn(process.execPath, [...profile, main], { cwd: ROOT, env: { ...env, ...extra, [portVar]: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
    const p = { name, service, pid: child.pid, port, child, exit: null, output: {}, samples: [] }
    p.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      p.exit = { code, signal, unexpected: !stopping }
      resolve()
    }))
    child.on('error', (err) => noteLine(p, `spawn error: ${err.message}`))
    for (const s of [child.stdout, child.stderr]) createInterface({ input: s }).on('line', (l) => noteLine(p, l))
    procs.push(p)
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (p.exit !== null) throw new Error(`${name} exited (${p.exit.code ?? p.exit.signal}) before ready: ${p.samples.join(' / ')}`)
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        if (res.status === 200) return p
      } catch {}
      await sleep(100)
    }
    throw new Error(`${name} not ready on port ${port} within 30 s`)
  }

  const system = {
    runId,
    urls,
    procs,
    gateways: [],
    get stopping () { return stopping },
    /** Gateways first (they hold the sockets), then the services; SIGKILL after 5 s. */
    async stop () {
      stopping = true
      const stop = async (p) => {
        if (p.exit !== null) return
        const t0 = performance.now()
        p.child.kill('SIGTERM')
        const timer = setTimeout(() => { p.killed = true; p.child.kill('SIGKILL') }, 5000)
        await p.exited
        clearTimeout(timer)
        p.stopMs = Math.round(performance.now() - t0)
      }
      await Promise.all(procs.filter((p) => p.service === 'gateway').map(stop))
      await Promise.all(procs.filter((p) => p.service !== 'gateway').map(stop))
    },
    cleanup: () => cleanup(runId, urls),
    /** RSS of each process, from /proc. */
    memory () {
      const out = {}
      for (const p of procs) out[p.name] = rssOf(p.pid)
      return out
    },
    /** Problems a report should fail on: early exits, SIGKILLs, logged errors. */
    problems () {
      const out = []
      for (const p of procs) if (p.exit?.unexpected) out.push(`${p.name} exited during the run (${p.exit.code ?? p.exit.signal})`)
      for (const p of procs) if (p.killed) out.push(`${p.name} needed SIGKILL`)
      for (const p of procs) {
        const bad = (p.output.error ?? 0) + (p.output.fatal ?? 0)
        if (bad > 0) out.push(`${p.name} logged ${bad} errors`)
      }
      return out
    },
    processes () {
      return procs.map((p) => ({ name: p.name, pid: p.pid, output: p.output, samples: p.samples, exit: p.exit, stopMs: p.stopMs }))
    },
  }
  // If we die abruptly, don't leave services behind.
  process.on('exit', () => { for (const p of procs) if (p.exit === null) try { p.child.kill('SIGKILL') } catch {} })

  const services = [['auth', 'auth'], ['contact', 'contact']]
  for (let i = 1; i <= messageReplicas; i++) services.push([messageReplicas > 1 ? `message#${i}` : 'message', 'message'])
  let started
  try {
    started = await Promise.all([
      ...services.map(([name, service]) => start(name, service, {})),
      ...Array.from({ length: gateways }, (_, i) => start(`gateway#${i + 1}`, 'gateway', { GATEWAY_ID: `${runId}-gw${i + 1}` })),
    ])
  } catch (err) {
    // Stop what did start, and say what each process printed.
    await system.stop()
    const said = procs.filter((p) => p.samples.length > 0 && !err.message.startsWith(`${p.name} exited`)).map((p) => `${p.name}: ${p.samples.join(' / ')}`)
    err.message += said.length > 0 ? `; output: ${said.join('; ')}` : '; no output (is the MongoDB-wire server at MONGO_URL answering?)'
    throw err
  }
  system.gateways = started.filter((p) => p.service === 'gateway').map((p) => ({ ...p, wsUrl: `ws://127.0.0.1:${p.port}/ws` }))
  return system
}

const rssOf = (pid) => {
  try { return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024 } catch { return null }
}

/** The services' own drivers (the root package has neither). */
export function driver (name) {
  const req = createRequire(path.join(ROOT, 'services', 'message', 'package.json'))
  const mod = req(name)
  return mod.default ?? mod
}

/** Drops the run's database and Redis keys. */
async function cleanup (runId, urls) {
  const done = []
  try {
    const { MongoClient } = driver('mongodb')
    // Bounded: a backend that stopped answering must not hang the report.
    const client = new MongoClient(urls.MONGO_URL, { serverSelectionTimeoutMS: 3000, socketTimeoutMS: 30_000 })
    try { await client.db(runId).dropDatabase(); done.push(`dropped database ${runId}`) } finally { await client.close() }
  } catch (err) { done.push(`database ${runId} left behind: ${err.message}`) }
  try {
    const Redis = driver('ioredis')
    const redis = new Redis(urls.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await redis.connect()
    let cursor = '0'; let n = 0
    do {
      const [c, keys] = await redis.scan(cursor, 'MATCH', `${runId}:*`, 'COUNT', 1000)
      cursor = c
      if (keys.length > 0) n += await redis.del(...keys)
    } while (cursor !== '0')
    redis.disconnect()
    done.push(`deleted ${n} Redis keys`)
  } catch (err) { done.push(`Redis keys ${runId}:* left behind: ${err.message}`) }
  return done.join(', ')
}

/**
 * What answers at MONGO_URL: "FerretDB v1.24.2 (postgresql handler)",
 * "MongoDB 7.0.5", … The FerretDB handler comes from the command line of a
 * local ferretdb process listening on that port.
 */
export async function describeBackend (urls) {
  let info
  try {
    const { MongoClient } = driver('mongodb')
    const client = new MongoClient(urls.MONGO_URL, { serverSelectionTimeoutMS: 3000, socketTimeoutMS: 5000 })
    try { info = await client.db('admin').command({ buildInfo: 1 }) } finally { await client.close() }
  } catch (err) {
    return `unknown (${err.message})`
  }
  if (!info.ferretdbVersion) return `MongoDB ${info.version}`
  const port = new URL(urls.MONGO_URL.split(',')[0]).port || '27017'
  let handler = 'handler unknown'
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    let args
    try { args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0') } catch { continue }
    if (!args.some((a) => a.endsWith('ferretdb'))) continue
    if (!args.some((a) => a.startsWith('--listen-addr=') && a.endsWith(`:${port}`))) continue
    const h = args.find((a) => a.startsWith('--handler='))
    handler = `${h ? h.slice('--handler='.length) : 'default'} handler`
  }
  return `FerretDB ${info.ferretdbVersion} (${handler})`
}

/** BENCH_TARGET=mock: the mock gateways instead of the system (direct scenario only). */
export async function startMock () {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'lib', 'mock-gateway.mjs')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  const p = { name: 'mock', service: 'mock', pid: child.pid, port: 0, child, exit: null, output: {}, samples: [] }
  p.exited = new Promise((resolve) => child.once('exit', (code, signal) => { p.exit = { code, signal, unexpected: false }; resolve() }))
  const { ports } = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)))
    child.once('exit', () => reject(new Error('the mock gateway exited')))
  })
  process.on('exit', () => { if (p.exit === null) child.kill('SIGKILL') })
  return {
    runId: 'mock' + randomBytes(3).toString('hex'),
    urls: infraUrls(),
    procs: [p],
    gateways: ports.map((port, i) => ({ name: `mock#${i + 1}`, port, wsUrl: `ws://127.0.0.1:${port}/ws` })),
    async stop () { child.kill('SIGTERM'); await p.exited },
    cleanup: async () => 'nothing to clean up (mock)',
    memory: () => ({ mock: rssOf(p.pid) }),
    problems: () => [],
    processes: () => [{ name: 'mock', pid: p.pid, output: {}, samples: [], exit: p.exit }],
  }
}

/**
 * BENCH_TARGET=baseline: two replicas of the plain design
 * (bench/lib/baseline-gateway.mjs) instead of the system, `direct` only.
 * Their database, BENCH_BASELINE_DB (bench_baseline), is dropped first, so
 * every run starts from an empty collection as the system's does; each
 * replica gets the system's MongoDB pool (maxPoolSize in MONGO_URL).
 */
export async function startBaseline ({ mongoMaxPool = 0 } = {}) {
  const runId = 'bl' + randomBytes(5).toString('hex')
  const urls = infraUrls()
  const db = process.env.BENCH_BASELINE_DB || 'bench_baseline'
  const { MongoClient } = driver('mongodb')
  const admin = new MongoClient(urls.MONGO_URL, { serverSelectionTimeoutMS: 3000 })
  try { await admin.db(db).dropDatabase() } finally { await admin.close() }
  const env = {
    ...process.env,
    ...urls,
    MONGO_URL: mongoMaxPool > 0 ? withOption(urls.MONGO_URL, 'maxPoolSize', mongoMaxPool) : urls.MONGO_URL,
    BASELINE_DB: db,
    BASELINE_PREFIX: `${runId}:`,
  }
  delete env.NODE_OPTIONS
  let stopping = false
  const start = async (name) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'lib', 'baseline-gateway.mjs')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const p = { name, service: 'baseline', pid: child.pid, port: 0, child, exit: null, output: {}, samples: [] }
    p.exited = new Promise((resolve) => child.once('exit', (code, signal) => { p.exit = { code, signal, unexpected: !stopping }; resolve() }))
    // Anything it prints on stderr is an error (uncaught, or a failed publish).
    createInterface({ input: child.stderr }).on('line', (l) => noteLine(p, JSON.stringify({ level: 50, msg: l })))
    const { port } = await new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)))
      child.once('exit', () => reject(new Error(`${name} exited before ready: ${p.samples.join(' / ')}`)))
    })
    p.port = port
    return p
  }
  const procs = await Promise.all([start('baseline#1'), start('baseline#2')])
  process.on('exit', () => { for (const p of procs) if (p.exit === null) p.child.kill('SIGKILL') })
  return {
    runId,
    urls,
    procs,
    gateways: procs.map((p) => ({ name: p.name, port: p.port, wsUrl: `ws://127.0.0.1:${p.port}/ws` })),
    async stop () {
      stopping = true
      await Promise.all(procs.map(async (p) => {
        if (p.exit !== null) return
        p.child.kill('SIGTERM')
        const timer = setTimeout(() => { p.killed = true; p.child.kill('SIGKILL') }, 5000)
        await p.exited
        clearTimeout(timer)
      }))
    },
    // Says how many messages were stored (every acked one should be), then drops them.
    async cleanup () {
      const client = new MongoClient(urls.MONGO_URL, { serverSelectionTimeoutMS: 3000, socketTimeoutMS: 30_000 })
      try {
        const n = await client.db(db).collection('messages').countDocuments()
        await client.db(db).dropDatabase()
        const Redis = driver('ioredis')
        const redis = new Redis(urls.REDIS_URL, { maxRetriesPerRequest: 1 })
        try { await redis.del(`${runId}:users`) } finally { redis.disconnect() }
        return `${n} messages were stored in ${db}; dropped it and deleted ${runId}:users`
      } catch (err) {
        return `${db} or ${runId}:users left behind: ${err.message}`
      } finally { await client.close() }
    },
    memory: () => Object.fromEntries(procs.map((p) => [p.name, rssOf(p.pid)])),
    problems () {
      const out = []
      for (const p of procs) if (p.exit?.unexpected) out.push(`${p.name} exited during the run (${p.exit.code ?? p.exit.signal})`)
      for (const p of procs) if (p.killed) out.push(`${p.name} needed SIGKILL`)
      for (const p of procs) if (p.output.error) out.push(`${p.name} logged ${p.output.error} errors`)
      return out
    },
    processes: () => procs.map((p) => ({ name: p.name, pid: p.pid, output: p.output, samples: p.samples, exit: p.exit })),
  }
}
