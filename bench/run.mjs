// Open-loop benchmark of the chat backend over the `typed` WebSocket API.
//
// Starts its own system (auth, contact, 1-2 message replicas and 2 gateways,
// like test/helpers/system.ts), runs one scenario (BENCH_SCENARIO: direct,
// room or reconnect), prints the figures and writes them as JSON to
// bench/results/. bench/README.md describes every setting and figure.
// Plain Node ESM: `pnpm bench` (builds first) or `node bench/run.mjs`.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { busyNow, countFerretdbOnPort, machineInfo } from './lib/cpu.mjs'
import { print } from './lib/report.mjs'
import { describeBackend, infraUrls, startBaseline, startMock, startSystem } from './lib/system.mjs'
import { ROOT, bool, int, str } from './lib/util.mjs'
import { directConfig, directProblems, runDirect } from './lib/scenarios/direct.mjs'
import { reconnectConfig, reconnectProblems, runReconnect } from './lib/scenarios/reconnect.mjs'
import { roomConfig, roomProblems, runRoom } from './lib/scenarios/room.mjs'

const SCENARIOS = {
  direct: { config: directConfig, run: runDirect, problems: directProblems },
  room: { config: roomConfig, run: runRoom, problems: roomProblems },
  reconnect: { config: reconnectConfig, run: runReconnect, problems: reconnectProblems },
}

const scenario = str('BENCH_SCENARIO', 'direct')
if (!(scenario in SCENARIOS)) throw new Error(`BENCH_SCENARIO must be one of ${Object.keys(SCENARIOS).join(', ')}, got ${scenario}`)
const messageReplicas = int('BENCH_MESSAGE_REPLICAS', 1)
if (messageReplicas > 2) throw new Error('BENCH_MESSAGE_REPLICAS must be 1 or 2')
const cfg = { ...SCENARIOS[scenario].config(), gateways: 2, messageReplicas }
const common = {
  startedAt: Date.now(),
  prefill: int('BENCH_PREFILL', 0, 0),
  prefillConversations: int('BENCH_PREFILL_CONVERSATIONS', 1000, 0),
  prefillPairs: bool('BENCH_PREFILL_PAIRS', true),
  prefillBatch: int('BENCH_PREFILL_BATCH', 10_000),
}
const target = str('BENCH_TARGET', 'system')
if (!['system', 'mock', 'baseline'].includes(target)) throw new Error(`BENCH_TARGET must be system, mock or baseline, got ${target}`)
if (target !== 'system' && scenario !== 'direct') throw new Error(`BENCH_TARGET=${target} only serves the direct scenario`)
if (target !== 'system' && common.prefill > 0) throw new Error(`BENCH_TARGET=${target} has no prefill`)
cfg.target = target
const timeoutMs = int('BENCH_TIMEOUT_MS', 900_000)
countFerretdbOnPort(new URL(infraUrls().MONGO_URL.split(',')[0]).port || 27017)
const backend = target === 'mock' ? 'mock gateways (BENCH_TARGET=mock)' : await describeBackend(infraUrls())
// FerretDB v1 deadlocks when 50 operations that need a second PostgreSQL
// connection run at once (bench/README.md): keep the services' MongoDB
// pools below that together.
cfg.mongoMaxPool = int('BENCH_MONGO_MAX_POOL', backend.startsWith('FerretDB') ? 8 : 0, 0)
const t0 = Date.now()
const log = (s) => console.log(`[bench +${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`)

const report = {
  scenario,
  runId: null,
  startedAt: new Date(common.startedAt).toISOString(),
  machine: { ...machineInfo(), busyBeforeStart: await busyNow() },
  backend,
  config: { ...cfg, prefill: common.prefill, prefillConversations: common.prefillConversations, prefillPairs: common.prefillPairs },
  notes: {},
  result: null,
  ok: false,
  problems: [],
}
log(`${scenario} on ${report.backend}; ${report.machine.cores} cores, load average ${report.machine.loadAverageAtStart}, ${report.machine.busyBeforeStart}% of a core busy`)
if (report.machine.busyBeforeStart > 30) log('WARNING: something else keeps the machine busy; the figures will be low')

let system = null
let error = null
let abort
const aborted = new Promise((_resolve, reject) => { abort = reject })
const timer = setTimeout(() => abort(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs)
process.once('SIGINT', () => abort(new Error('interrupted')))
try {
  const running = (async () => {
    if (target === 'mock') {
      log('starting the mock gateways')
      system = await startMock()
    } else if (target === 'baseline') {
      log('starting the plain design (2 baseline replicas)')
      system = await startBaseline({ mongoMaxPool: cfg.mongoMaxPool })
    } else {
      log(`starting the system (2 gateways, ${messageReplicas} message replica(s))`)
      system = await startSystem({ gateways: 2, messageReplicas, mongoMaxPool: cfg.mongoMaxPool })
    }
    report.runId = system.runId
    report.result = await SCENARIOS[scenario].run({ system, cfg, common, log, note: report.notes })
  })()
  running.catch(() => {}) // after an abort it fails as sockets close; already reported
  await Promise.race([running, aborted])
} catch (err) {
  error = err
}
clearTimeout(timer)
if (system) {
  report.memory = system.memory()
  await system.stop()
  report.cleanup = await system.cleanup()
  report.processes = system.processes()
  report.problems.push(...system.problems())
} else {
  report.processes = []
}
if (error) report.problems.unshift(`${error.message}${process.env.BENCH_DEBUG ? `\n${error.stack}` : ''}`)
if (report.result) report.problems.push(...SCENARIOS[scenario].problems(report.result, report.notes))
report.ok = report.problems.length === 0

print(report)
const dir = path.join(ROOT, 'bench', 'results')
mkdirSync(dir, { recursive: true })
const file = path.join(dir, `${report.startedAt.replaceAll(':', '-')}-${scenario}.json`)
writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
console.log(`report: ${path.relative(ROOT, file)}`)
process.exit(report.ok ? 0 : 1)
