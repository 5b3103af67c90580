// Scenario `reconnect`: BENCH_RECONNECT_USERS logged-in users (split over
// the two gateways) lose their sockets all at once and reconnect all at
// once with `?token=`; a user counts as back when the first request on the
// new socket (LOAD_UNREAD) is answered. BENCH_RECONNECT_ROUNDS times.
import { connect } from '../client.mjs'
import { snapshot, usage } from '../cpu.mjs'
import { prefill } from '../prefill.mjs'
import { registerUsers, tokenUrl } from '../users.mjs'
import { dist, epochNow, int, round1, sleep } from '../util.mjs'

export function reconnectConfig () {
  return {
    users: int('BENCH_RECONNECT_USERS', 200),
    rounds: int('BENCH_RECONNECT_ROUNDS', 3),
    pauseMs: int('BENCH_RECONNECT_PAUSE_MS', 1000, 0),
    timeoutMs: int('BENCH_RECONNECT_TIMEOUT_MS', 30_000),
    registerConcurrency: int('BENCH_REGISTER_CONCURRENCY', 16),
  }
}

export async function runReconnect ({ system, cfg, common, log, note }) {
  const [gwA, gwB] = system.gateways
  log(`registering ${cfg.users} users`)
  const specs = Array.from({ length: cfg.users }, (_, i) => ({ tag: `u${i}`, gateway: i % 2 === 0 ? gwA : gwB }))
  const { users, latencies } = await registerUsers(system, specs, cfg.registerConcurrency)
  note.register = dist(latencies)

  if (common.prefill > 0) {
    log(`prefilling ${common.prefill} messages (other users' conversations)`)
    note.prefill = await prefill({ system, total: common.prefill, pairs: [], extra: common.prefillConversations, before: common.startedAt, batch: common.prefillBatch, size: 100, log })
  }

  const rounds = []
  for (let round = 1; round <= cfg.rounds; round++) {
    log(`round ${round}: dropping ${cfg.users} sockets at once`)
    for (const u of users) u.client?.terminate()
    await sleep(cfg.pauseMs)
    const cpu0 = snapshot(system.procs)
    const t0 = epochNow()
    const opened = []
    const answered = []
    const failures = {}
    const fail = (reason) => { failures[reason] = (failures[reason] ?? 0) + 1 }
    await Promise.all(users.map(async (u) => {
      u.client = null
      let client
      try {
        client = await connect(tokenUrl(u.gateway, u.token), cfg.timeoutMs)
      } catch (err) {
        fail(err.reason ?? err.message)
        return
      }
      opened.push(epochNow() - t0)
      u.client = client
      try {
        const f = await client.call('LOAD_UNREAD', {}, Math.max(1, t0 + cfg.timeoutMs - epochNow()))
        if (f.type === 'UNREAD_LOADED') answered.push(epochNow() - t0)
        else fail(f.type === '_CLOSED' ? f.payload.code : `${f.type} ${f.payload?.code ?? ''}`.trim())
      } catch {
        fail('no answer')
      }
    }))
    const cpu1 = snapshot(system.procs)
    const r = {
      round,
      users: cfg.users,
      loggedIn: answered.length,
      allBackMs: answered.length > 0 ? round1(Math.max(...answered)) : null,
      openMs: dist(opened),
      firstAnswerMs: dist(answered),
      failures,
      cpu: usage(cpu0, cpu1),
    }
    rounds.push(r)
    log(`  ${r.loggedIn} of ${cfg.users} back in ${r.allBackMs} ms (open p50 ${r.openMs.p50} p99 ${r.openMs.p99}, answered p50 ${r.firstAnswerMs.p50} p99 ${r.firstAnswerMs.p99} ms)${Object.keys(failures).length ? `; failures ${JSON.stringify(failures)}` : ''}`)
  }
  for (const u of users) u.client?.terminate()
  return { rounds }
}

export function reconnectProblems (result) {
  return result.rounds.filter((r) => r.loggedIn < r.users).map((r) => `round ${r.round}: ${r.users - r.loggedIn} users not back`)
}
