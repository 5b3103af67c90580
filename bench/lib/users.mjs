// Registers the benchmark's users through the typed API (REGISTER on a
// socket, which leaves that socket logged in).
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { connect } from './client.mjs'
import { pool } from './util.mjs'

/**
 * Registers one user per spec ({tag, gateway}), `concurrency` at a time.
 * Resolves with [{tag, gateway, userId, token, client}] in spec order and
 * the registration latencies.
 */
export async function registerUsers (system, specs, concurrency) {
  const latencies = []
  const users = await pool(specs, concurrency, async ({ tag, gateway }) => {
    const client = await connect(gateway.wsUrl)
    const t0 = performance.now()
    const f = await client.call('REGISTER', { username: `${system.runId}_${tag}`, password: `pw-${randomBytes(6).toString('hex')}` })
    if (f.type !== 'REGISTER_SUCCESS') throw new Error(`REGISTER ${tag} failed: ${JSON.stringify(f.payload)}`)
    latencies.push(performance.now() - t0)
    return { tag, gateway, userId: f.payload.userId, token: f.payload.token, client }
  })
  return { users, latencies }
}

/** The socket URL that logs in at the upgrade. */
export function tokenUrl (gateway, token) {
  return `${gateway.wsUrl}?token=${encodeURIComponent(token)}`
}
