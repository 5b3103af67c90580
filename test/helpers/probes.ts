// Polling /readyz: what a process says about its readiness, and waiting
// (with a deadline) until it says what a test expects.
import { http } from './http.js'
import type { ManagedProcess } from './proc.js'

/** A process's readiness probe. */
export interface Probe { name: string, url: string, proc: ManagedProcess }

/** One /readyz answer; status 0 when there was none (the message as body). */
export interface Readiness { status: number, body: { status?: string, checks?: Record<string, boolean> } | string }

/** Long enough for a loaded 2-core machine; a transition normally takes a second or two. */
export const TRANSITION_DEADLINE_MS = 20_000

export async function readiness (probe: Probe): Promise<Readiness> {
  try {
    const res = await http(probe.url, { timeoutMs: 3000 })
    return { status: res.status, body: res.body }
  } catch (err) {
    return { status: 0, body: (err as Error).message }
  }
}

export const isReady = (r: Readiness) => r.status === 200

/** 503 with `check` false. */
export const failing = (check: string) => (r: Readiness) => r.status === 503 && typeof r.body === 'object' && r.body.checks?.[check] === false

/**
 * Polls each probe until `wanted` holds for it and resolves with those
 * answers; rejects naming the probe and its last answer after the deadline,
 * or at once if its process exits.
 */
export async function waitForReadiness (probes: Probe[], what: string, wanted: (r: Readiness) => boolean): Promise<Readiness[]> {
  return await Promise.all(probes.map(async (probe) => {
    const deadline = Date.now() + TRANSITION_DEADLINE_MS
    let last = await readiness(probe)
    while (!wanted(last)) {
      if (probe.proc.exitInfo !== null) throw new Error(`${probe.name} exited (${JSON.stringify(probe.proc.exitInfo)}) waiting to be ${what}:\n${probe.proc.tail()}`)
      if (Date.now() > deadline) throw new Error(`${probe.name} not ${what} after ${TRANSITION_DEADLINE_MS} ms; last /readyz: ${last.status} ${JSON.stringify(last.body)}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
      last = await readiness(probe)
    }
    return last
  }))
}
