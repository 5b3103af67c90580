// Benchmark of the `typed` WebSocket API across two gateway replicas.
//
// Starts its own system the way test/helpers/system.ts does (auth, contact,
// message and 2 gateways as child processes, private NATS/Redis/Mongo
// namespaces, free loopback ports), pairs users up with the sender on
// gateway A and the recipient on gateway B, and measures send→ack and
// send→delivery latency, throughput, exactly-once delivery, history latency
// and memory. Prints a report and writes it as JSON to bench/results/.
//
// Env: BENCH_USERS (40), BENCH_MESSAGES (4000, total), BENCH_INFLIGHT (8 per
// sender socket), BENCH_DURATION_MS (unset; stop sending after this long even
// if fewer messages went out), BENCH_TIMEOUT_MS (180000, hard bound). Plain
// Node ESM: `pnpm bench` (builds first) or `node bench/run.mjs` after a build.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const int = (name, def) => {
  const v = process.env[name] === undefined || process.env[name] === '' ? def : Number(process.env[name])
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${process.env[name]}`)
  return v
}
const cfg = {
  users: int('BENCH_USERS', 40),
  messages: int('BENCH_MESSAGES', 4000),
  inflight: int('BENCH_INFLIGHT', 8),
  durationMs: process.env.BENCH_DURATION_MS ? int('BENCH_DURATION_MS', 0) : null,
  timeoutMs: int('BENCH_TIMEOUT_MS', 180_000),
  historyCalls: 200,
  httpCalls: int('BENCH_HTTP_CALLS', 200),
  gateways: 2,
}
if (cfg.users < 2 || cfg.users % 2 !== 0) throw new Error('BENCH_USERS must be an even number ≥ 2 (users are paired)')

// Backing stores: the same defaults as the services, but only on loopback.
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

const runId = 'b' + randomBytes(5).toString('hex')
const baseEnv = { ...process.env }
delete baseEnv.NODE_OPTIONS // don't hand our loaders/flags to the services
Object.assign(baseEnv, urls, {
  NATS_PREFIX: runId,
  REDIS_PREFIX: `${runId}:`,
  MONGO_DB: runId,
  LOG_LEVEL: 'warn',
  HTTP_HOST: '127.0.0.1',
  WS_RATE_LIMIT_PER_SEC: '100000',
  WS_RATE_LIMIT_BURST: '100000',
})

// ---------------------------------------------------------------- state
// Everything measured so far lives here, so a timeout can still report it.
const procs = []
const clients = []
const lat = { register: [], ack: [], deliver: [], history: [], httpSend: [], httpTake: [], httpList: [] }
const st = {
  phase: 'start',
  sent: 0,
  acked: 0,
  failed: 0,
  unanswered: 0,
  failures: [], // things that went wrong outside sending
  sendFailures: {}, // why sends failed → how often
  firstSendAt: 0,
  lastAckAt: 0,
  outOfOrder: 0,
  lateAnswers: 0, // answers that came after our call had given up
  pushes: {},
  ackedKeys: new Set(),
  failedKeys: new Set(),
  unansweredKeys: new Set(),
  delivered: new Map(), // key "pair:n" → times delivered
  history: null,
  memory: null,
  stop: null,
  cleanup: null,
}
let stopping = false
// Loops test this between awaits, so a stop set meanwhile ends them.
const alive = () => !stopping

// ---------------------------------------------------------------- processes
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

async function startProcess (name, service, extra) {
  const port = await freePort()
  const portVar = service === 'gateway' ? 'PORT' : 'HTTP_PORT'
  const main = path.join(ROOT, 'services', service, 'dist', 'main.js')
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`pnpm build\` first`)
  const child = spawn(process.execPath, [main], { cwd: ROOT, env: { ...baseEnv, ...extra, [portVar]: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
  const p = { name, pid: child.pid, port, child, exit: null, output: {}, samples: [] }
  p.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    p.exit = { code, signal, unexpected: !stopping }
    resolve()
  }))
  child.on('error', (err) => noteLine(p, `spawn error: ${err.message}`))
  for (const s of [child.stdout, child.stderr]) createInterface({ input: s }).on('line', (l) => noteLine(p, l))
  procs.push(p)
  // Ready means /readyz answers 200 (NATS, Mongo, Redis connected).
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (p.exit !== null) throw new Error(`${name} exited (${p.exit.code ?? p.exit.signal}) before ready: ${p.samples.join(' / ')}`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.status === 200) return p
    } catch {}
    await sleep(100)
  }
  throw new Error(`${name} not ready on port ${port} within 20 s`)
}

// Gateways first (they hold the sockets), then the services; SIGKILL after 5 s.
async function stopAll () {
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
  await Promise.all(procs.filter((p) => p.name.startsWith('gateway')).map(stop))
  await Promise.all(procs.filter((p) => !p.name.startsWith('gateway')).map(stop))
}
// If we die abruptly, don't leave services behind.
process.on('exit', () => { for (const p of procs) if (p.exit === null) try { p.child.kill('SIGKILL') } catch {} })

// ---------------------------------------------------------------- client
// A minimal client: requests are matched to answers by `id`; frames without
// an id are pushes and go to `onPush`.
async function connect (url) {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
    setTimeout(() => reject(new Error(`no open on ${url} within 5 s`)), 5000).unref()
  })
  const pending = new Map()
  let nextId = 0
  const c = {
    ws,
    onPush: () => {},
    // Only a safety net: the gateway answers every request, at worst with
    // CHAT_TIMEOUT per queued request, so a pipelined answer can take
    // inflight × NATS_REQUEST_TIMEOUT_MS.
    call (type, payload, timeoutMs = 120_000) {
      const id = ++nextId
      ws.send(JSON.stringify({ type, id, payload }))
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { pending.delete(id); reject(new Error(`${type}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
        pending.set(id, { resolve: (f) => { clearTimeout(timer); resolve(f) }, reject: (e) => { clearTimeout(timer); reject(e) } })
      })
    },
  }
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString())
    const w = f.id === undefined ? undefined : pending.get(f.id)
    if (w !== undefined) { pending.delete(f.id); w.resolve(f) } else if (f.id !== undefined) st.lateAnswers++
    else c.onPush(f)
  })
  ws.on('error', () => {}) // surfaces as 'close'
  ws.on('close', (code) => {
    for (const w of pending.values()) w.reject(new Error(`socket closed (${code})`))
    pending.clear()
    if (!stopping) st.failures.push(`socket to ${url} closed unexpectedly (${code})`)
  })
  clients.push(c)
  return c
}

async function register (gw, i) {
  const c = await connect(`ws://127.0.0.1:${gw.port}/ws`)
  const t0 = performance.now()
  const f = await c.call('REGISTER', { username: `${runId}_${i}`, password: `pw-${randomBytes(6).toString('hex')}` })
  if (f.type !== 'REGISTER_SUCCESS') throw new Error(`REGISTER failed: ${JSON.stringify(f)}`)
  lat.register.push(performance.now() - t0)
  return { c, userId: f.payload.userId, token: f.payload.token }
}

// Runs fn over items with at most `limit` at a time (scrypt makes
// registration CPU-bound in auth; a flood would only measure its queue).
async function pool (items, limit, fn, more = () => true) {
  let next = 0
  const out = []
  const worker = async () => { while (next < items.length && alive() && more()) { const i = next++; out[i] = await fn(items[i], i) } }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

// ---------------------------------------------------------------- phases
async function run () {
  phase('starting system')
  await Promise.all([
    ...['auth', 'contact', 'message'].map((s) => startProcess(s, s, {})),
    ...Array.from({ length: cfg.gateways }, (_, i) => startProcess(`gateway#${i + 1}`, 'gateway', { GATEWAY_ID: `${runId}-gw${i + 1}` })),
  ])
  const [gwA, gwB] = procs.filter((p) => p.name.startsWith('gateway'))

  phase('registering')
  const npairs = cfg.users / 2
  const pairs = await pool(Array.from({ length: npairs }, (_, i) => i), 8, async (i) => ({
    i, lastN: -1, sender: await register(gwA, `s${i}`), recipient: await register(gwB, `r${i}`),
  }))

  // Recipients check every push: content is "bench <pair>:<n> <sent at, ms>",
  // timed against the same performance clock the sender used.
  for (const pair of pairs) {
    pair.recipient.c.onPush = (f) => {
      st.pushes[f.type] = (st.pushes[f.type] ?? 0) + 1
      if (f.type !== 'MESSAGE_RECEIVED_OTHER') return
      const [tag, key, sentAt] = String(f.payload.content).split(' ')
      // The HTTP phase's messages arrive here too; they are counted there.
      if (tag !== 'bench') return
      const seen = st.delivered.get(key) ?? 0
      st.delivered.set(key, seen + 1)
      if (seen > 0) return
      lat.deliver.push(performance.now() - Number(sentAt))
      const n = Number(key.split(':')[1])
      if (n < pair.lastN) st.outOfOrder++
      pair.lastN = Math.max(pair.lastN, n)
    }
    pair.sender.c.onPush = (f) => { st.pushes[`sender:${f.type}`] = (st.pushes[`sender:${f.type}`] ?? 0) + 1 }
  }

  phase('sending')
  st.firstSendAt = performance.now()
  const inTime = () => cfg.durationMs === null || performance.now() - st.firstSendAt < cfg.durationMs
  await Promise.all(pairs.map(async (pair) => {
    const count = Math.floor(cfg.messages / npairs) + (pair.i < cfg.messages % npairs ? 1 : 0)
    // `inflight` loops per socket: each keeps one request outstanding. The
    // gateway still handles a socket's requests one by one, so this pipelines.
    await pool(Array.from({ length: count }, (_, n) => n), cfg.inflight, async (n) => {
      const key = `${pair.i}:${n}`
      const t0 = performance.now()
      st.sent++
      try {
        const f = await pair.sender.c.call('SEND_MESSAGE', {
          messageId: pair.i * 1_000_000 + n, // unique per run, so no dedup hides anything
          senderId: pair.sender.userId,
          receiverId: pair.recipient.userId,
          content: `bench ${key} ${t0.toFixed(3)}`,
        })
        if (f.type !== 'MESSAGE_RECEIVED_SELF') throw new Error(`${f.type} ${f.payload?.code}`)
        st.lastAckAt = performance.now()
        lat.ack.push(st.lastAckAt - t0)
        st.acked++
        st.ackedKeys.add(key)
      } catch (err) {
        // Cut off by our own stop: not a system failure, but it may still be delivered.
        if (stopping) { st.unanswered++; st.unansweredKeys.add(key); return }
        st.failed++
        st.failedKeys.add(key)
        st.sendFailures[err.message] = (st.sendFailures[err.message] ?? 0) + 1
      }
    }, inTime)
  }))
  if (stopping) return
  st.sendEndAt = performance.now()
  st.sendingEndedBy = inTime() ? 'count' : 'duration'

  // Deliveries may trail the acks: wait until each acked message arrived,
  // or nothing new came for 5 s.
  phase('draining deliveries')
  let last = -1
  let quietSince = performance.now()
  while (![...st.ackedKeys].every((k) => st.delivered.has(k)) && performance.now() - quietSince < 5000 && alive()) {
    if (st.delivered.size !== last) { last = st.delivered.size; quietSince = performance.now() }
    await sleep(50)
  }

  // History on pair 0's conversation (all its messages, by the recipient).
  phase('history')
  const { sender, recipient } = pairs[0]
  const ask = { userId: recipient.userId, targetId: sender.userId }
  // First page through everything once: what is stored must be what was acked.
  const ids = new Set()
  const keys = new Set() // "pair:n" from the content, to compare with the acks
  const order = [] // [seq, n]: is the stored order the order sent?
  let beforeId
  for (;;) {
    const f = await recipient.c.call('LOAD_MESSAGES', { ...ask, limit: 100, ...(beforeId === undefined ? {} : { beforeId }) })
    if (f.type !== 'MESSAGES_LOADED') throw new Error(`LOAD_MESSAGES failed: ${JSON.stringify(f)}`)
    for (const m of f.payload) {
      const key = m.content.split(' ')[1]
      ids.add(m.id)
      keys.add(key)
      order.push([m.seq, Number(key.split(':')[1])])
    }
    if (!f.meta?.hasMore || f.payload.length === 0) break
    beforeId = f.payload[0].id
  }
  // Every acked message must be stored once; a send that failed may be stored too.
  const acked = [...st.ackedKeys].filter((k) => k.startsWith('0:'))
  st.history = {
    conversationMessages: ids.size,
    ackedMissing: acked.filter((k) => !keys.has(k)).length,
    storedTwice: ids.size - keys.size,
    storedDespiteFailure: [...keys].filter((k) => st.failedKeys.has(k)).length,
    // Messages stored (by seq) after one the sender sent later.
    storedOutOfOrder: countLate(order.sort((a, b) => a[0] - b[0]).map(([, n]) => n)),
    calls: 0,
    badAnswers: 0,
  }
  // Then the timed part: the default call a client makes on opening a chat.
  for (let i = 0; i < cfg.historyCalls && alive(); i++) {
    const t0 = performance.now()
    const f = await recipient.c.call('LOAD_MESSAGES', ask)
    lat.history.push(performance.now() - t0)
    st.history.calls++
    if (f.type !== 'MESSAGES_LOADED' || f.payload.length !== Math.min(50, ids.size)) st.history.badAnswers++
  }

  // The `chats` HTTP API on the same conversation: the sender posts on
  // gateway A, the recipient lists on B, then drains everything unread
  // (the typed messages and these) with consuming chats_v2 reads.
  phase('http')
  st.http = { sent: 0, sendFailures: 0, listCalls: 0, taken: 0, takeCalls: 0, takenTwice: 0, unreadBefore: null, unreadAfter: null }
  const httpCall = async (gw, method, url, token, body) => {
    const res = await fetch(`http://127.0.0.1:${gw.port}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) }
  }
  let chatId
  for (let i = 0; i < cfg.httpCalls && alive(); i++) {
    const t0 = performance.now()
    const r = await httpCall(gwA, 'POST', '/chats', sender.token, { receiver_id: recipient.userId, message: `http ${i}`, type: 'text' })
    lat.httpSend.push(performance.now() - t0)
    if (r.status === 201) { st.http.sent++; chatId = r.body.chat_id } else st.http.sendFailures++
  }
  for (let i = 0; i < cfg.httpCalls && alive(); i++) {
    const t0 = performance.now()
    const r = await httpCall(gwB, 'GET', '/chats/unread', recipient.token)
    lat.httpList.push(performance.now() - t0)
    st.http.listCalls++
    if (i === 0) st.http.unreadBefore = r.body?.find((c) => c.chat_id === chatId)?.unread_count ?? null
  }
  const seen = new Set()
  for (;;) {
    if (!alive() || chatId === undefined) break
    const t0 = performance.now()
    const r = await httpCall(gwB, 'GET', `/chats_v2/${chatId}`, recipient.token)
    lat.httpTake.push(performance.now() - t0)
    st.http.takeCalls++
    if (r.status !== 200) throw new Error(`chats_v2 read failed: ${r.status} ${JSON.stringify(r.body)}`)
    for (const m of r.body) {
      const key = `${m.message_timestamp} ${m.message}`
      if (seen.has(key)) st.http.takenTwice++
      seen.add(key)
    }
    st.http.taken += r.body.length
    if (Number(r.headers.get('unread_count')) === 0) break
  }
  const after = await httpCall(gwB, 'GET', '/chats/unread', recipient.token)
  st.http.unreadAfter = after.body?.find((c) => c.chat_id === chatId)?.unread_count ?? 0
  phase('done')
}
// How many numbers come after a larger one (sent earlier, arrived/stored later).
function countLate (ns) {
  let max = -Infinity
  let late = 0
  for (const n of ns) { if (n < max) late++; else max = n }
  return late
}
// After a timeout run() is left running while we stop; this ends it at the
// next phase instead of letting it go on against a dying system.
function phase (name) {
  if (stopping) throw new Error('stopped')
  st.phase = name
}

// ---------------------------------------------------------------- measuring
const rssOf = (pid) => {
  try { return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024 } catch { return null }
}
async function memory () {
  const out = { bench: { rss: process.memoryUsage().rss } }
  await Promise.all(procs.map(async (p) => {
    let metricsRss = null
    try { // every process serves Prometheus /metrics on its port
      const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`, { signal: AbortSignal.timeout(2000) })).text()
      metricsRss = Number(/^process_resident_memory_bytes(?:\{[^}]*\})?\s+(\S+)/m.exec(text)?.[1] ?? NaN) || null
    } catch {}
    out[p.name] = { pid: p.pid, rss: rssOf(p.pid), metricsRss }
  }))
  return out
}

const pct = (arr, p) => {
  if (arr.length === 0) return null
  const s = [...arr].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}
const round2 = (x) => x === null ? null : Math.round(x * 100) / 100
const dist = (arr) => ({ n: arr.length, p50: round2(pct(arr, 50)), p95: round2(pct(arr, 95)), p99: round2(pct(arr, 99)), max: round2(pct(arr, 100)) })

function summarize (error) {
  let once = 0; let dup = 0; let missing = 0
  const despite = { failed: 0, unanswered: 0, unknown: 0 }
  for (const k of st.ackedKeys) {
    const n = st.delivered.get(k) ?? 0
    if (n === 1) once++
    else if (n === 0) missing++
    else dup++
  }
  // Delivered without an ack: the sender was told it failed (or never heard).
  for (const k of st.delivered.keys()) {
    if (st.ackedKeys.has(k)) continue
    despite[st.failedKeys.has(k) ? 'failed' : st.unansweredKeys.has(k) ? 'unanswered' : 'unknown']++
  }
  // Throughput over the whole sending window (to the stop, if it came first).
  const secs = st.firstSendAt > 0 ? ((st.sendEndAt ?? stoppedAt) - st.firstSendAt) / 1000 : null
  const problems = []
  if (error) problems.push(error)
  if (st.phase !== 'done') problems.push(`stopped during: ${st.phase}`)
  if (st.failed > 0) problems.push(`${st.failed} sends failed`)
  // Sends our own stop cut off can't be judged; every other one must arrive once.
  const judged = st.sent - st.unanswered
  if (once !== judged) problems.push(`delivered exactly once ${once} ≠ sent ${judged}` + (st.unanswered ? ` (+${st.unanswered} cut off by the stop)` : ''))
  if (st.history?.ackedMissing) problems.push(`${st.history.ackedMissing} acked messages missing from the history`)
  if (st.history?.storedTwice) problems.push(`${st.history.storedTwice} messages stored twice`)
  if (st.history?.badAnswers) problems.push(`${st.history.badAnswers} bad LOAD_MESSAGES answers`)
  if (st.http?.sendFailures) problems.push(`${st.http.sendFailures} POST /chats failed`)
  if (st.http && st.http.taken !== st.http.unreadBefore) problems.push(`chats_v2 returned ${st.http.taken} messages of ${st.http.unreadBefore} unread`)
  if (st.http?.takenTwice) problems.push(`chats_v2 returned ${st.http.takenTwice} messages twice`)
  if (st.http?.unreadAfter) problems.push(`${st.http.unreadAfter} still unread after draining chats_v2`)
  for (const p of procs) if (p.exit?.unexpected) problems.push(`${p.name} exited during the run (${p.exit.code ?? p.exit.signal})`)
  for (const p of procs) if (p.killed) problems.push(`${p.name} needed SIGKILL`)
  for (const p of procs) {
    const bad = (p.output.error ?? 0) + (p.output.fatal ?? 0)
    if (bad > 0) problems.push(`${p.name} logged ${bad} errors`)
  }
  problems.push(...st.failures)
  return {
    ok: problems.length === 0,
    problems,
    startedAt: new Date(startedAt).toISOString(),
    config: { ...cfg, pairs: cfg.users / 2, runId, node: process.version },
    phase: st.phase, // the phase reached ("done" when complete)
    sendingEndedBy: st.sendingEndedBy ?? null, // BENCH_MESSAGES reached, or BENCH_DURATION_MS
    messages: { sent: st.sent, acked: st.acked, failed: st.failed, unansweredAtStop: st.unanswered, deliveredExactlyOnce: once, duplicates: dup, missing, deliveredDespiteFailure: despite.failed, deliveredUnansweredAtStop: despite.unanswered, deliveredNeverSent: despite.unknown, outOfOrder: st.outOfOrder, lateAnswers: st.lateAnswers, sendFailures: st.sendFailures },
    throughput: { ackedPerSec: secs ? Math.round(st.acked / secs) : null, seconds: secs && Math.round(secs * 100) / 100 },
    // Whether sending got slower as messages piled up (acks are in completion order).
    ackTrend: { firstTenthP50: round2(pct(lat.ack.slice(0, Math.ceil(lat.ack.length / 10)), 50)), lastTenthP50: round2(pct(lat.ack.slice(-Math.ceil(lat.ack.length / 10)), 50)) },
    latencyMs: { register: dist(lat.register), sendToAck: dist(lat.ack), sendToDelivery: dist(lat.deliver), loadMessages: dist(lat.history), httpPostChats: dist(lat.httpSend), httpGetUnread: dist(lat.httpList), httpChatsV2Read: dist(lat.httpTake) },
    history: st.history,
    http: st.http,
    pushes: st.pushes,
    memory: st.memory,
    processes: procs.map((p) => ({ name: p.name, pid: p.pid, output: p.output, samples: p.samples, exit: p.exit, stopMs: p.stopMs })),
    cleanup: st.cleanup,
  }
}

function print (r) {
  const ms = (d) => d.n === 0 ? 'no samples' : `p50 ${d.p50}  p95 ${d.p95}  p99 ${d.p99}  max ${d.max} ms  (n=${d.n})`
  const mb = (b) => b == null ? '?' : `${(b / 1048576).toFixed(1)} MB`
  const m = r.messages
  const lines = [
    `chat bench ${r.config.runId}: ${r.config.users} users (${r.config.pairs} pairs A→B), ${r.config.messages} messages, in-flight ${r.config.inflight}/socket, ${r.config.gateways} gateways`,
    `  register        ${ms(r.latencyMs.register)}`,
    `  send→ack        ${ms(r.latencyMs.sendToAck)}`,
    `                  p50 of the first tenth of acks ${r.ackTrend.firstTenthP50} ms, of the last tenth ${r.ackTrend.lastTenthP50} ms`,
    `  send→delivery   ${ms(r.latencyMs.sendToDelivery)}`,
    `  throughput      ${r.throughput.ackedPerSec ?? '?'} acked msg/s (${m.acked} in ${r.throughput.seconds ?? '?'} s; sending ended by ${r.sendingEndedBy ?? 'the stop'})`,
    `  delivery        sent ${m.sent}, acked ${m.acked}, failed ${m.failed}, unanswered at stop ${m.unansweredAtStop}; exactly once ${m.deliveredExactlyOnce}, duplicates ${m.duplicates}, missing ${m.missing}, out of order ${m.outOfOrder}, late answers ${m.lateAnswers}`,
    `                  delivered although the send failed ${m.deliveredDespiteFailure}, delivered but unanswered at stop ${m.deliveredUnansweredAtStop}, never sent ${m.deliveredNeverSent}`,
    `  LOAD_MESSAGES   ${ms(r.latencyMs.loadMessages)}` + (r.history ? `  on a ${r.history.conversationMessages}-message conversation (${r.history.storedDespiteFailure} stored although the send failed, ${r.history.storedOutOfOrder} out of order)` : ''),
    `  POST /chats     ${ms(r.latencyMs.httpPostChats)}`,
    `  GET /chats/unread ${ms(r.latencyMs.httpGetUnread)}`,
    `  GET /chats_v2/:id ${ms(r.latencyMs.httpChatsV2Read)}` + (r.http ? `  drained ${r.http.taken} of ${r.http.unreadBefore} unread in ${r.http.takeCalls} reads (twice: ${r.http.takenTwice}, left: ${r.http.unreadAfter})` : ''),
    '  memory (RSS)    ' + Object.entries(r.memory ?? {}).map(([k, v]) => `${k} ${mb(v.rss)}` + (v.metricsRss ? ` (/metrics ${mb(v.metricsRss)})` : '')).join(', '),
    '  stop            ' + r.processes.map((p) => `${p.name} ${p.exit ? (p.exit.code ?? p.exit.signal) : 'running'} in ${p.stopMs ?? '?'} ms`).join(', '),
  ]
  for (const p of r.processes) {
    if (Object.keys(p.output).length > 0) lines.push(`  output ${p.name}: ${JSON.stringify(p.output)}\n    ${p.samples.join('\n    ')}`)
  }
  if (m.failed > 0) lines.push(`  send failures   ${JSON.stringify(m.sendFailures)}`)
  lines.push(`  cleanup         ${r.cleanup}`)
  lines.push(r.ok ? 'OK' : `FAILED: ${r.problems.join('; ')}`)
  console.log(lines.join('\n'))
}

// Drops the run's Mongo database and Redis keys, with the services' own
// drivers (the root package has neither).
async function cleanup () {
  const req = createRequire(path.join(ROOT, 'services', 'message', 'package.json'))
  const done = []
  try {
    const { MongoClient } = req('mongodb')
    const client = new MongoClient(urls.MONGO_URL, { serverSelectionTimeoutMS: 3000 })
    try { await client.db(runId).dropDatabase(); done.push(`dropped database ${runId}`) } finally { await client.close() }
  } catch (err) { done.push(`database ${runId} left behind: ${err.message}`) }
  try {
    const Redis = req('ioredis').default ?? req('ioredis')
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

// ---------------------------------------------------------------- main
function sleep (ms) { return new Promise((resolve) => setTimeout(resolve, ms)) }

const startedAt = Date.now()
let abort
const aborted = new Promise((_resolve, reject) => { abort = reject })
const timer = setTimeout(() => abort(new Error(`timeout after ${cfg.timeoutMs} ms`)), cfg.timeoutMs)
process.once('SIGINT', () => abort(new Error('interrupted')))

let error = null
const running = run()
running.catch(() => {}) // after an abort it fails as sockets close; already reported
try {
  await Promise.race([running, aborted])
} catch (err) {
  error = err.message
}
clearTimeout(timer)
const stoppedAt = performance.now()
// Memory "at the end": measured while everything still runs, even after a failure.
st.memory = await memory()
stopping = true
for (const c of clients) c.ws.terminate()
await stopAll()
st.cleanup = await cleanup()

const report = summarize(error)
print(report)
const dir = path.join(ROOT, 'bench', 'results')
mkdirSync(dir, { recursive: true })
const file = path.join(dir, `${new Date(startedAt).toISOString().replaceAll(':', '-')}.json`)
writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
console.log(`report: ${path.relative(ROOT, file)}`)
process.exit(report.ok ? 0 : 1)
