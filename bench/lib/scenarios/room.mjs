// Scenario `room`: one public room with BENCH_ROOM_MEMBERS members split
// over the two gateways. First times how long they take to join
// (BENCH_JOIN_CONCURRENCY at a time), then a sender (another user, on
// gateway A) posts at each rate of BENCH_ROOM_RATES, open loop: every
// member socket must get every message exactly once.
import { performance } from 'node:perf_hooks'
import { snapshot, usage } from '../cpu.mjs'
import { prefill } from '../prefill.mjs'
import { registerUsers } from '../users.mjs'
import { dist, epochNow, int, num, numList, padded, pool, round1, schedule, sleep } from '../util.mjs'

export function roomConfig () {
  return {
    members: int('BENCH_ROOM_MEMBERS', 300),
    joinConcurrency: int('BENCH_JOIN_CONCURRENCY', 50),
    rates: numList('BENCH_ROOM_RATES', '1,5,20'),
    seconds: num('BENCH_ROOM_SECONDS', 10),
    size: int('BENCH_MESSAGE_BYTES', 100, 16),
    graceMs: int('BENCH_GRACE_MS', 5000, 0),
    drainMs: int('BENCH_DRAIN_MS', 30_000, 0),
    registerConcurrency: int('BENCH_REGISTER_CONCURRENCY', 16),
  }
}

export async function runRoom ({ system, cfg, common, log, note }) {
  const [gwA, gwB] = system.gateways
  log(`registering 1 sender and ${cfg.members} members`)
  const specs = [{ tag: 'owner', gateway: gwA }]
  for (let m = 0; m < cfg.members; m++) specs.push({ tag: `m${m}`, gateway: m % 2 === 0 ? gwA : gwB })
  const { users, latencies } = await registerUsers(system, specs, cfg.registerConcurrency)
  note.register = dist(latencies)
  const [owner, ...members] = users

  if (common.prefill > 0) {
    log(`prefilling ${common.prefill} messages (other users' conversations)`)
    note.prefill = await prefill({ system, total: common.prefill, pairs: [], extra: common.prefillConversations, before: common.startedAt, batch: common.prefillBatch, size: cfg.size, log })
  }

  const created = await owner.client.call('CREATE_ROOM', { name: `bench ${system.runId}` })
  if (created.type !== 'ROOM_CREATED') throw new Error(`CREATE_ROOM failed: ${JSON.stringify(created.payload)}`)
  const roomId = created.payload.room.id

  // Pushes per member; MESSAGE_RECEIVED_OTHER are the measured ones.
  const pushes = {}
  let lastPushAt = 0
  members.forEach((u, idx) => {
    u.client.onPush = (f) => {
      lastPushAt = epochNow()
      pushes[f.type] = (pushes[f.type] ?? 0) + 1
      if (f.type === 'MESSAGE_RECEIVED_OTHER') onMessage(idx, f)
    }
  })
  owner.client.onPush = (f) => { pushes[`sender:${f.type}`] = (pushes[`sender:${f.type}`] ?? 0) + 1 }
  const steps = new Map()
  const onMessage = (idx, f) => {
    const now = epochNow()
    const m = /^r(\d+)\.(\d+) /.exec(f.payload?.content ?? '')
    const st = m ? steps.get(Number(m[1])) : undefined
    if (!st || f.payload.roomId !== roomId) { st && st.stray++; return }
    const j = Number(m[2])
    const k = j * cfg.members + idx
    if (st.deliveries[k]++ > 0) return
    st.dlv.push(now - (st.t0 + j * st.interval))
    st.lastDlvAt = now
    st.delivered++
    if (st.closedAt !== null) st.late++
  }

  // Joining: every join also tells the members already there (ROOM_MEMBER_JOINED).
  log(`joining ${cfg.members} members, ${cfg.joinConcurrency} at a time`)
  const joinLat = []
  const joinFailures = {}
  const j0 = performance.now()
  await pool(members, cfg.joinConcurrency, async (u) => {
    const t = performance.now()
    const f = await u.client.call('JOIN_ROOM', { roomId })
    if (f.type === 'ROOM_JOINED') joinLat.push(performance.now() - t)
    else joinFailures[f.payload?.code ?? f.type] = (joinFailures[f.payload?.code ?? f.type] ?? 0) + 1
  })
  const joinMs = performance.now() - j0
  // Settle: the join notices still on their way.
  const expectedNotices = (cfg.members * (cfg.members - 1)) / 2
  const settleStart = epochNow()
  while ((pushes.ROOM_MEMBER_JOINED ?? 0) < expectedNotices && epochNow() - Math.max(lastPushAt, settleStart) < 2000) await sleep(50)
  const join = {
    members: cfg.members,
    concurrency: cfg.joinConcurrency,
    seconds: round1(joinMs / 1000),
    joinsPerSecond: round1(joinLat.length / (joinMs / 1000)),
    latencyMs: dist(joinLat),
    failures: joinFailures,
    memberJoinedNotices: pushes.ROOM_MEMBER_JOINED ?? 0,
    memberJoinedExpected: expectedNotices,
    noticesSettledAfterMs: Math.round(Math.max(lastPushAt, settleStart) - settleStart),
  }
  log(`  joined in ${join.seconds} s (${join.joinsPerSecond}/s), join p50 ${join.latencyMs.p50} p99 ${join.latencyMs.p99} ms; ${join.memberJoinedNotices} of ${expectedNotices} join notices`)

  const results = []
  let s = 0
  for (const rate of cfg.rates) {
    s++
    const total = Math.round(rate * cfg.seconds)
    const st = {
      s,
      rate,
      total,
      interval: 1000 / rate,
      t0: epochNow() + 200,
      deliveries: new Uint8Array(total * cfg.members), // [j × members + member]
      dlv: [],
      ack: [],
      delivered: 0,
      late: 0,
      stray: 0,
      acked: new Uint8Array(total),
      ackedCount: 0,
      failures: {},
      failed: 0,
      outstanding: 0,
      lastDlvAt: 0,
      lastAckAt: 0,
      closedAt: null,
    }
    steps.set(s, st)
    log(`room rate ${rate} msg/s for ${cfg.seconds} s (${rate * cfg.members} deliveries/s expected)`)
    await sleep(st.t0 - epochNow() - 5)
    const cpu0 = snapshot(system.procs)
    await schedule(total, st.t0, st.interval, (j, now) => {
      st.outstanding++
      owner.client.send('SEND_ROOM_MESSAGE', { messageId: `${s}.${j}`, senderId: owner.userId, roomId, content: padded(`r${s}.${j}`, cfg.size) }, (f) => {
        const at = epochNow()
        st.outstanding--
        if (f.type === 'MESSAGE_RECEIVED_SELF') {
          st.acked[j] = 1
          st.ackedCount++
          st.ack.push(at - (st.t0 + j * st.interval))
          st.lastAckAt = at
        } else {
          st.failed++
          const code = f.payload?.code ?? f.type
          st.failures[code] = (st.failures[code] ?? 0) + 1
        }
      })
    })
    await sleep(st.t0 + total * st.interval - epochNow())
    const cpu1 = snapshot(system.procs)
    const deadline = epochNow() + cfg.graceMs
    while (epochNow() < deadline && (st.outstanding > 0 || st.delivered < st.ackedCount * cfg.members)) await sleep(20)
    st.closedAt = epochNow()
    let missing = 0
    let duplicated = 0
    let deliveredUnacked = 0
    for (let j = 0; j < total; j++) {
      for (let m = 0; m < cfg.members; m++) {
        const d = st.deliveries[j * cfg.members + m]
        if (d > 1) duplicated++
        if (st.acked[j] && d === 0) missing++
        if (!st.acked[j] && d > 0) deliveredUnacked++
      }
    }
    const secsTo = (at) => Math.max(cfg.seconds, (at - st.t0) / 1000)
    const r = {
      rate,
      seconds: cfg.seconds,
      messages: total,
      acked: st.ackedCount,
      failed: st.failed,
      failures: st.failures,
      unanswered: st.outstanding,
      expectedDeliveries: st.ackedCount * cfg.members,
      delivered: st.delivered,
      deliveriesPerSecond: round1(st.delivered / secsTo(st.lastDlvAt)),
      ackMs: dist(st.ack),
      deliveryMs: dist(st.dlv),
      missing,
      duplicated,
      deliveredUnacked,
      stray: st.stray,
      cpu: usage(cpu0, cpu1),
    }
    results.push(r)
    log(`  ${r.deliveriesPerSecond} deliveries/s; delivery p50 ${r.deliveryMs.p50} p99 ${r.deliveryMs.p99} max ${r.deliveryMs.max} ms; ack p99 ${r.ackMs.p99} ms; missing ${missing}, duplicated ${duplicated}, failed ${st.failed}`)
    // The previous rate's stragglers land before the next one starts.
    const drained = epochNow() + cfg.drainMs
    while (epochNow() < drained && st.outstanding > 0) await sleep(50)
    r.afterGrace = { answers: r.unanswered - st.outstanding, unansweredAfterDrain: st.outstanding, lateDeliveries: st.late }
    if (st.outstanding > 0) {
      log(`${st.outstanding} sends still unanswered ${cfg.drainMs} ms after the grace period: stopping`)
      note.stuck = `${st.outstanding} room sends at ${rate}/s were still unanswered ${cfg.drainMs} ms after the grace period (BENCH_DRAIN_MS)`
      break
    }
  }
  note.pushes = pushes
  return { roomId, join, steps: results }
}

export function roomProblems (result, notes) {
  const out = []
  if (notes.stuck) out.push(notes.stuck)
  const failed = Object.values(result.join.failures).reduce((a, b) => a + b, 0)
  if (failed) out.push(`${failed} joins failed`)
  for (const x of result.steps) {
    if (x.missing) out.push(`${x.missing} room deliveries missing at ${x.rate}/s`)
    if (x.duplicated) out.push(`${x.duplicated} room deliveries duplicated at ${x.rate}/s`)
  }
  return out
}
