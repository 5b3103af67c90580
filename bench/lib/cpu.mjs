// CPU time per process over an interval, from /proc/<pid>/stat (utime +
// stime), shown as % of one core. Covers the system's children, the
// infrastructure found by process name (every postgres backend summed) and
// the generator itself (process.cpuUsage(), worker threads included).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { epochNow } from './util.mjs'

let ticksPerSec = 100
try { ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch {}

/** Infrastructure processes by `comm` (the kernel's 15-character name). */
export const INFRA = ['nats-server', 'redis-server', 'ferretdb', 'postgres', 'mongod']

// Several FerretDBs may run (each on its own port): count the one at MONGO_URL.
let mongoPort = null
const listensElsewhere = new Map() // pid → whether its --listen-addr is another port
export function countFerretdbOnPort (port) { mongoPort = String(port) }
function otherFerretdb (pid) {
  if (mongoPort === null) return false
  if (!listensElsewhere.has(pid)) {
    let args = []
    try { args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') } catch {}
    const listen = args.find((a) => a.startsWith('--listen-addr='))
    listensElsewhere.set(pid, listen !== undefined && !listen.endsWith(`:${mongoPort}`))
  }
  return listensElsewhere.get(pid)
}

/** utime + stime of a process in seconds, or null when it is gone. */
function cpuSeconds (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: the fields start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / ticksPerSec // fields 14 and 15 of the line
  } catch {
    return null
  }
}

/**
 * Every process: pid → {comm, seconds, reaped}. `reaped` adds the CPU of
 * its children that exited and were waited for (cutime + cstime): for the
 * postmaster, the parallel workers, autovacuum workers and backends that
 * came and went.
 */
function allProcesses () {
  const out = new Map()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const own = (Number(f[11]) + Number(f[12])) / ticksPerSec
      out.set(Number(d), { comm, seconds: own, reaped: own + (Number(f[13]) + Number(f[14])) / ticksPerSec })
    } catch {}
  }
  return out
}

/** All CPUs' busy and total jiffies from /proc/stat. */
function machine () {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = line[3] + (line[4] ?? 0) // idle + iowait
  const total = line.slice(0, 8).reduce((a, b) => a + b, 0) // without guest (counted in user)
  return { busy: total - idle, total }
}

/** A point-in-time reading; `procs` are the system's children ({name, pid}). */
export function snapshot (procs) {
  const all = allProcesses()
  const children = {}
  for (const p of procs) children[p.name] = all.get(p.pid)?.seconds ?? cpuSeconds(p.pid)
  const infra = Object.fromEntries(INFRA.map((n) => [n, {}]))
  for (const [pid, { comm, reaped }] of all) {
    if (comm in infra && !(comm === 'ferretdb' && otherFerretdb(pid))) infra[comm][pid] = reaped
  }
  return { at: epochNow(), children, childPids: new Set(procs.map((p) => p.pid)), infra, all, generator: process.cpuUsage(), machine: machine() }
}

/**
 * % of one core each process used between two snapshots. A postgres backend
 * that started in between counts from zero; one that exited in between
 * counts through the postmaster's reaped children's time.
 */
export function usage (a, b) {
  const secs = (b.at - a.at) / 1000
  const pctOf = (s) => Math.round((s / secs) * 1000) / 10
  const out = {}
  for (const [name, end] of Object.entries(b.children)) {
    const start = a.children[name]
    if (end !== null && start !== null && start !== undefined) out[name] = pctOf(end - start)
  }
  // Totals, not per-pid differences: a backend that exits moves its time
  // into the postmaster's reaped-children time, so the sums stay right.
  const sum = (pids) => Object.values(pids ?? {}).reduce((t, x) => t + x, 0)
  for (const [name, pids] of Object.entries(b.infra)) {
    if (Object.keys(pids).length > 0) out[name] = pctOf(Math.max(0, sum(pids) - sum(a.infra[name])))
  }
  out.generator = pctOf((b.generator.user + b.generator.system - a.generator.user - a.generator.system) / 1e6)
  const dm = { busy: b.machine.busy - a.machine.busy, total: b.machine.total - a.machine.total }
  // The whole machine, as % of one core too (2 cores: at most 200).
  out.machine = dm.total > 0 ? Math.round((dm.busy / dm.total) * cpus().length * 1000) / 10 : null
  // What else ran meanwhile (other programs on the machine, the kernel).
  if (out.machine !== null) {
    const ours = Object.entries(out).filter(([k]) => k !== 'machine').reduce((a, [, v]) => a + v, 0)
    out.other = Math.max(0, Math.round((out.machine - ours) * 10) / 10)
  }
  // The biggest of the others, by name, for the JSON (and the report when "other" is large).
  const others = {}
  for (const [pid, { comm, seconds }] of b.all) {
    if (pid === process.pid || b.childPids.has(pid) || b.infra[comm]?.[pid] !== undefined) continue
    const d = seconds - (a.all.get(pid)?.seconds ?? 0)
    if (d > 0) others[comm] = (others[comm] ?? 0) + d
  }
  out.otherTop = Object.entries(others).sort((x, y) => y[1] - x[1]).slice(0, 3).map(([name, sec]) => `${name} ${pctOf(sec)}`).join(', ')
  return out
}

/** How busy the machine is (% of one core) over `ms`, before the run starts. */
export async function busyNow (ms = 1000) {
  const a = machine()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const b = machine()
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * cpus().length * 1000) / 10
}

/** What the report says about the machine. */
export function machineInfo () {
  const c = cpus()
  let load = null
  try { load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') } catch {}
  return { cores: c.length, model: c[0]?.model ?? 'unknown', loadAverageAtStart: load, node: process.version }
}
