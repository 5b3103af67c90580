// Child processes for integration tests: spawned with a clean environment,
// output captured in a ring buffer, stopped with SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

const KEEP_LINES = 200
const VERBOSE = Boolean(process.env.TEST_VERBOSE)

export interface ExitInfo { code: number | null, signal: NodeJS.Signals | null }

export interface ManagedProcess {
  name: string
  child: ChildProcess
  pid: number
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<ExitInfo>
  /** Set once exited. */
  exitInfo: ExitInfo | null
  /** The last ~200 lines of stdout+stderr (stderr lines are marked). */
  lines: string[]
  /** The last n captured lines joined, for error messages. */
  tail: (n?: number) => string
}

// Every live child, so that a test process exiting abruptly does not leave
// services running (and holding ports) behind it.
const live = new Set<ManagedProcess>()
process.on('exit', () => {
  for (const p of live) {
    try { p.child.kill('SIGKILL') } catch {}
  }
})

/**
 * The environment a service gets: ours minus what tap injects for its own
 * test processes (NODE_OPTIONS loaders, TAP_* and ts-node settings).
 */
export function cleanEnv (extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue
    if (k === 'NODE_OPTIONS' || k === 'NODE_PATH' || /^(TAP|_TAPJS_|TS_NODE_)/.test(k)) continue
    env[k] = v
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

export function spawnManaged (
  name: string,
  command: string,
  args: string[],
  opts: { env?: Record<string, string>, cwd?: string } = {}
): ManagedProcess {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env ?? cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const capture = (stream: NodeJS.ReadableStream | null, mark: string) => {
    if (stream === null) return
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(mark + line)
      if (lines.length > KEEP_LINES) lines.shift()
      if (VERBOSE) process.stderr.write(`[${name}] ${mark}${line}\n`)
    })
  }
  capture(child.stdout, '')
  capture(child.stderr, '[stderr] ')

  const proc: ManagedProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    exitInfo: null,
    lines,
    tail: (n = 40) => lines.slice(-n).join('\n'),
    exited: new Promise<ExitInfo>((resolve) => {
      // 'error' covers a command that could not be started at all (ENOENT).
      child.once('error', (err) => {
        lines.push(`[spawn error] ${err.message}`)
        if (child.exitCode === null && child.pid === undefined) {
          proc.exitInfo = { code: -1, signal: null }
          live.delete(proc)
          resolve(proc.exitInfo)
        }
      })
      child.once('exit', (code, signal) => {
        proc.exitInfo = { code, signal }
        live.delete(proc)
        resolve(proc.exitInfo)
      })
    }),
  }
  live.add(proc)
  return proc
}

/**
 * Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after
 * graceMs. Already exited processes resolve at once.
 */
export async function stopProcess (p: ManagedProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ExitInfo> {
  if (p.exitInfo !== null) return p.exitInfo
  p.child.kill(signal)
  const timer = setTimeout(() => {
    if (p.exitInfo === null) {
      p.lines.push(`[harness] no exit ${graceMs} ms after ${signal}: SIGKILL`)
      p.child.kill('SIGKILL')
    }
  }, graceMs)
  const info = await p.exited
  clearTimeout(timer)
  return info
}
