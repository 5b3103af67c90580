// Small helpers shared by the benchmark's modules: env parsing, timing,
// percentiles.
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across worker threads. */
export const epochNow = () => performance.timeOrigin + performance.now()

const raw = (name) => process.env[name] === undefined || process.env[name] === '' ? undefined : process.env[name]

/** A positive (or, with min 0, non-negative) integer from the environment. */
export function int (name, def, min = 1) {
  const s = raw(name)
  const v = s === undefined ? def : Number(s)
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${s}`)
  return v
}

/** A positive number from the environment. */
export function num (name, def) {
  const s = raw(name)
  const v = s === undefined ? def : Number(s)
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got ${s}`)
  return v
}

/** A comma-separated list of positive numbers. */
export function numList (name, def) {
  const s = raw(name) ?? def
  const out = s.split(',').map((x) => x.trim()).filter(Boolean).map(Number)
  if (out.length === 0 || out.some((v) => !Number.isFinite(v) || v <= 0)) throw new Error(`${name} must be a comma-separated list of positive numbers, got ${s}`)
  return out
}

export function bool (name, def = false) {
  const s = raw(name)
  if (s === undefined) return def
  if (['1', 'true', 'yes'].includes(s.toLowerCase())) return true
  if (['0', 'false', 'no'].includes(s.toLowerCase())) return false
  throw new Error(`${name} must be 1 or 0, got ${s}`)
}

export function str (name, def) {
  return raw(name) ?? def
}

/** The p-th percentile (nearest rank) of a sorted typed array or array. */
function rank (sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export const round1 = (x) => x === null || x === undefined ? null : Math.round(x * 10) / 10

/** n, p50, p90, p99 and max of a list of milliseconds, rounded to 0.1 ms. */
export function dist (values) {
  const s = Float64Array.from(values).sort()
  return { n: s.length, p50: round1(rank(s, 50)), p90: round1(rank(s, 90)), p99: round1(rank(s, 99)), max: round1(rank(s, 100)) }
}

/** Adds the counts of `b` into `a` (objects of name → count). */
export function addCounts (a, b) {
  for (const [k, v] of Object.entries(b ?? {})) a[k] = (a[k] ?? 0) + v
  return a
}

/** Runs fn over items with at most `limit` at a time; results in item order. */
export async function pool (items, limit, fn) {
  let next = 0
  const out = new Array(items.length)
  const worker = async () => { while (next < items.length) { const i = next++; out[i] = await fn(items[i], i) } }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** A fixed-width number for tables: null → '-'. */
export function fmt (x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return '-'
  return typeof x === 'number' ? x.toFixed(digits).replace(/\.0+$/, '') : String(x)
}

/** `size` characters: the text, then filler. Content of every benchmark message. */
export function padded (text, size) {
  return text.length >= size ? text : text + ' ' + 'x'.repeat(size - text.length - 1)
}

/**
 * Open loop: calls fn(j, now) for j = 0 … total - 1 at t0 + j × interval
 * (epoch ms), whether or not earlier calls finished. Resolves after the last.
 */
export function schedule (total, t0, interval, fn) {
  return new Promise((resolve) => {
    let j = 0
    const tick = () => {
      const now = epochNow()
      const due = Math.min(total, Math.floor((now - t0) / interval) + 1)
      while (j < due) fn(j++, now)
      if (j >= total) { resolve(); return }
      setTimeout(tick, Math.max(0, t0 + j * interval - epochNow() - 1))
    }
    if (total === 0) resolve()
    else setTimeout(tick, Math.max(0, t0 - epochNow()))
  })
}
