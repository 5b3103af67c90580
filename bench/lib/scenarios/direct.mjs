// Scenario `direct` (the default): BENCH_PAIRS sender/recipient pairs,
// senders on gateway A and recipients on gateway B, an open-loop load at
// each rate of BENCH_RATES, and the knee.
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { snapshot, usage } from '../cpu.mjs'
import { connect } from '../client.mjs'
import { DirectShard } from '../direct-shard.mjs'
import { prefill } from '../prefill.mjs'
import { driver } from '../system.mjs'
import { registerUsers, tokenUrl } from '../users.mjs'
import { ROOT, bool, dist, epochNow, int, num, numList, round1, sleep, addCounts } from '../util.mjs'

export function directConfig () {
  const cfg = {
    pairs: int('BENCH_PAIRS', 100),
    rates: numList('BENCH_RATES', '20,50,100,200,500,1000'),
    seconds: num('BENCH_RATE_SECONDS', 10),
    size: int('BENCH_MESSAGE_BYTES', 100, 16),
    warmupSeconds: int('BENCH_WARMUP_SECONDS', 3, 0),
    graceMs: int('BENCH_GRACE_MS', 5000, 0),
    drainMs: int('BENCH_DRAIN_MS', 30_000, 0),
    kneeP99Ms: num('BENCH_KNEE_P99_MS', 100),
    stopPastKnee: int('BENCH_STOP_PAST_KNEE', 2, 0),
    overload: bool('BENCH_OVERLOAD'),
    workers: int('BENCH_WORKERS', 1),
    registerConcurrency: int('BENCH_REGISTER_CONCURRENCY', 16),
    clientIds: bool('BENCH_CLIENT_IDS', true),
  }
  if (cfg.workers > cfg.pairs) throw new Error('BENCH_WORKERS must not exceed BENCH_PAIRS')
  return cfg
}

/** The shards, in this thread (BENCH_WORKERS=1) or one worker thread each. */
function makeShards (cfg, pairSpecs) {
  const parts = Array.from({ length: cfg.workers }, (_, w) => pairSpecs.filter((p) => p.i % cfg.workers === w))
  const data = (pairs) => ({ pairs, totalPairs: cfg.pairs, size: cfg.size, clientIds: cfg.clientIds })
  if (cfg.workers === 1) {
    const shard = new DirectShard(data(parts[0]))
    return [{ call: async (cmd, ...args) => shard[cmd](...args), terminate: async () => {} }]
  }
  return parts.map((pairs) => {
    const worker = new Worker(path.join(ROOT, 'bench', 'lib', 'direct-worker.mjs'), { workerData: data(pairs) })
    const waiting = new Map()
    let nextId = 0
    worker.on('message', ({ id, ok, r, error }) => {
      const w = waiting.get(id)
      waiting.delete(id)
      if (ok) w.resolve(r)
      else w.reject(new Error(error))
    })
    worker.on('error', (err) => { for (const w of waiting.values()) w.reject(err); waiting.clear() })
    return {
      call: (cmd, ...args) => new Promise((resolve, reject) => {
        const id = ++nextId
        waiting.set(id, { resolve, reject })
        worker.postMessage({ id, cmd, args })
      }),
      terminate: () => worker.terminate(),
    }
  })
}

/** Sums the shards' results of one step. */
function merge (results) {
  const out = { sent: 0, acked: 0, failed: 0, unanswered: 0, deliveredOnce: 0, duplicated: 0, lost: 0, deliveredDespiteFailure: 0, outOfOrder: 0, misrouted: 0, failures: {}, pushes: {}, lastSendAt: 0, lastAckAt: 0, lastDlvAt: 0, ack: [], dlv: [], lag: [] }
  for (const r of results) {
    for (const k of ['sent', 'acked', 'failed', 'unanswered', 'deliveredOnce', 'duplicated', 'lost', 'deliveredDespiteFailure', 'outOfOrder', 'misrouted']) out[k] += r[k]
    addCounts(out.failures, r.failures)
    addCounts(out.pushes, r.pushes)
    for (const k of ['lastSendAt', 'lastAckAt', 'lastDlvAt']) out[k] = Math.max(out[k], r[k])
    for (const k of ['ack', 'dlv', 'lag']) out[k].push(r[k])
  }
  for (const k of ['ack', 'dlv', 'lag']) {
    const all = new Float64Array(out[k].reduce((n, a) => n + a.length, 0))
    let at = 0
    for (const a of out[k]) { all.set(a, at); at += a.length }
    out[k] = all
  }
  return out
}

export async function runDirect ({ system, cfg, common, log, note }) {
  const [gwA, gwB] = system.gateways
  log(`registering ${cfg.pairs * 2} users`)
  const specs = []
  for (let i = 0; i < cfg.pairs; i++) specs.push({ tag: `s${i}`, gateway: gwA }, { tag: `r${i}`, gateway: gwB })
  const { users, latencies } = await registerUsers(system, specs, cfg.registerConcurrency)
  note.register = dist(latencies)
  // The registration sockets close; the load sockets log in with the token at the upgrade.
  await Promise.all(users.map(async (u) => { u.client.close(); await u.client.closed }))
  const pairSpecs = []
  for (let i = 0; i < cfg.pairs; i++) {
    const s = users[2 * i]
    const r = users[2 * i + 1]
    pairSpecs.push({ i, senderId: s.userId, recipientId: r.userId, senderUrl: tokenUrl(gwA, s.token), recipientUrl: tokenUrl(gwB, r.token) })
  }

  if (common.prefill > 0) {
    log(`prefilling ${common.prefill} messages`)
    note.prefill = await prefill({
      system,
      total: common.prefill,
      pairs: common.prefillPairs ? pairSpecs.map((p) => ({ a: p.senderId, b: p.recipientId })) : [],
      extra: common.prefillConversations,
      before: common.startedAt,
      batch: common.prefillBatch,
      size: cfg.size,
      log,
    })
  }

  log(`connecting ${cfg.pairs * 2} sockets${cfg.workers > 1 ? ` in ${cfg.workers} worker threads` : ''}`)
  const shards = makeShards(cfg, pairSpecs)
  try {
    await Promise.all(shards.map((s) => s.call('connect')))
    const steps = []
    let s = 0
    const runRate = async (rate, seconds, label) => {
      s++
      const t0 = epochNow() + 300 // every shard has the command by then
      const window = []
      const cpuTimer = (async () => {
        await sleep(t0 - epochNow())
        window.push(snapshot(system.procs))
        await sleep(t0 + seconds * 1000 - epochNow())
        window.push(snapshot(system.procs))
      })()
      const results = await Promise.all(shards.map((sh) => sh.call('runStep', { s, rate, seconds, t0, graceMs: cfg.graceMs })))
      await cpuTimer
      const drains = await Promise.all(shards.map((sh) => sh.call('drain', s, epochNow() + cfg.drainMs)))
      const r = merge(results)
      const total = Math.round(rate * seconds)
      const secsTo = (at) => Math.max(seconds, (at - t0) / 1000)
      const onTime = r.dlv.filter((x) => x <= cfg.kneeP99Ms).length
      const step = {
        label,
        rate,
        seconds,
        messages: total,
        sendRate: round1(r.sent / secsTo(r.lastSendAt)),
        ackRate: round1(r.acked / secsTo(r.lastAckAt)),
        deliveryRate: round1(r.dlv.length / secsTo(r.lastDlvAt)),
        goodput: round1(onTime / seconds),
        sendLagMs: dist(r.lag),
        ackMs: dist(r.ack),
        deliveryMs: dist(r.dlv),
        sent: r.sent,
        acked: r.acked,
        failed: r.failed,
        failures: r.failures,
        unanswered: r.unanswered,
        delivered: r.dlv.length,
        lost: r.lost,
        duplicated: r.duplicated,
        outOfOrder: r.outOfOrder,
        misrouted: r.misrouted,
        deliveredDespiteFailure: r.deliveredDespiteFailure,
        afterGrace: {
          answers: drains.reduce((n, d) => n + d.lateAnswers, 0),
          deliveries: drains.reduce((n, d) => n + d.lateDeliveries, 0),
          unansweredAfterDrain: drains.reduce((n, d) => n + d.outstanding, 0),
          undeliveredAfterDrain: drains.reduce((n, d) => n + d.stillUndelivered, 0),
        },
        pushes: r.pushes,
        cpu: usage(window[0], window[1]),
      }
      step.underKnee = step.deliveryMs.p99 !== null && step.deliveryMs.p99 < cfg.kneeP99Ms && step.deliveryRate >= 0.95 * rate
      return step
    }

    if (cfg.warmupSeconds > 0) {
      // At least one message per pair: the first send of a pair creates its conversation.
      const rate = Math.max(cfg.rates[0], Math.ceil(cfg.pairs / cfg.warmupSeconds))
      log(`warm-up: ${rate} msg/s for ${cfg.warmupSeconds} s (not reported)`)
      const w = await runRate(rate, cfg.warmupSeconds, 'warm-up')
      note.warmup = { rate, delivered: w.delivered, failed: w.failed, deliveryMs: w.deliveryMs }
    }

    let past = 0
    for (const rate of cfg.rates) {
      log(`rate ${rate} msg/s for ${cfg.seconds} s`)
      const step = await runRate(rate, cfg.seconds, 'rate')
      steps.push(step)
      log(summaryLine(step))
      past = step.underKnee ? 0 : past + 1
      const stuck = step.afterGrace.unansweredAfterDrain > 0
      if (stuck) {
        log(`requests still unanswered ${cfg.drainMs} ms after the grace period: stopping`)
        note.stuck = `${step.afterGrace.unansweredAfterDrain} requests at ${rate}/s were still unanswered ${cfg.drainMs} ms after the grace period (BENCH_DRAIN_MS): the system is far past its capacity, or stopped answering`
        break
      }
      if (cfg.stopPastKnee > 0 && past >= cfg.stopPastKnee && rate !== cfg.rates.at(-1)) {
        log(`${past} rates past the knee in a row: skipping the higher ones`)
        note.skippedRates = cfg.rates.slice(cfg.rates.indexOf(rate) + 1)
        break
      }
    }
    const knee = steps.filter((x) => x.underKnee).reduce((m, x) => Math.max(m, x.rate), 0) || null
    const overload = []
    if (cfg.overload && knee !== null) {
      for (const factor of [2, 5]) {
        log(`overload: ${factor} × knee = ${knee * factor} msg/s for ${cfg.seconds} s`)
        const step = await runRate(knee * factor, cfg.seconds, `${factor}× knee`)
        overload.push(step)
        log(summaryLine(step))
        if (step.afterGrace.unansweredAfterDrain > 0) break
      }
    }
    if (note.prefill?.ofPairs > 0) {
      const { conversations, messages } = note.prefill
      note.prefillCheck = await checkPrefilled(system, pairSpecs[0], Math.floor(messages / conversations) + (messages % conversations > 0 ? 1 : 0))
        .catch((err) => ({ ok: null, error: `could not check: ${err.message}` }))
      log(`prefill check on pair 0's conversation: ${JSON.stringify(note.prefillCheck)}`)
    }
    const seen = await Promise.all(shards.map((sh) => sh.call('problemsSeen')))
    note.sockets = { closes: seen.reduce((a, x) => addCounts(a, x.closes), {}), problems: seen.flatMap((x) => x.problems).slice(0, 20), problemCount: seen.reduce((n, x) => n + x.problemCount, 0) }
    return { steps, knee, overload, prefillCheck: note.prefillCheck }
  } finally {
    await Promise.all(shards.map((sh) => sh.call('close').catch(() => {})))
    await Promise.all(shards.map((sh) => sh.terminate()))
  }
}

/**
 * After a prefilled run: pair 0's conversation must continue the prefilled
 * one (consecutive seqs, the prefilled messages below the sent ones), and
 * the recipient's unread count must be exactly the messages sent during the
 * run, both from the Redis cache and rebuilt from the database.
 */
async function checkPrefilled (system, pair, prefilled) {
  const client = await connect(pair.recipientUrl)
  try {
    const page = await client.call('LOAD_MESSAGES', { userId: pair.recipientId, targetId: pair.senderId, limit: 100 })
    if (page.type !== 'MESSAGES_LOADED') throw new Error(`LOAD_MESSAGES failed: ${JSON.stringify(page.payload)}`)
    const seqs = page.payload.map((m) => m.seq).sort((a, b) => a - b)
    const maxSeq = seqs.at(-1) ?? 0
    const consecutive = seqs.every((q, i) => i === 0 || q === seqs[i - 1] + 1)
    const prefilledSeen = page.payload.filter((m) => m.seq <= prefilled && m.content.startsWith('p')).length
    const unreadOf = async () => {
      const f = await client.call('LOAD_UNREAD', {})
      if (f.type !== 'UNREAD_LOADED') throw new Error(`LOAD_UNREAD failed: ${JSON.stringify(f.payload)}`)
      return f.payload.conversations.find((c) => c.conversationId === page.meta.conversationId)?.count ?? 0
    }
    const cached = await unreadOf()
    const Redis = driver('ioredis')
    const redis = new Redis(system.urls.REDIS_URL, { keyPrefix: `${system.runId}:` })
    try { await redis.del(`unread:${pair.recipientId}`) } finally { redis.disconnect() }
    const rebuilt = await unreadOf()
    const expected = maxSeq - prefilled
    const ok = consecutive && maxSeq > prefilled && cached === expected && rebuilt === expected &&
      prefilledSeen === Math.max(0, Math.min(seqs.length, prefilled - seqs[0] + 1))
    return { ok, prefilled, maxSeq, consecutive, prefilledOnPage: prefilledSeen, unreadExpected: expected, unreadCached: cached, unreadRebuilt: rebuilt }
  } finally {
    client.terminate()
  }
}

export function summaryLine (x) {
  return `  ${x.rate}/s: sent ${x.sendRate}/s, acked ${x.ackRate}/s, delivered ${x.deliveryRate}/s; ack p99 ${x.ackMs.p99} ms, delivery p50 ${x.deliveryMs.p50} p99 ${x.deliveryMs.p99} ms; failed ${x.failed}, lost ${x.lost}`
}

/** Problems that make the run fail (load-induced failures are results, not problems). */
export function directProblems (result, notes) {
  const out = []
  if (notes.stuck) out.push(notes.stuck)
  for (const x of [...result.steps, ...result.overload]) {
    const at = `at ${x.rate}/s`
    if (x.duplicated) out.push(`${x.duplicated} messages delivered twice ${at}`)
    if (x.outOfOrder) out.push(`${x.outOfOrder} messages out of order ${at}`)
    if (x.misrouted) out.push(`${x.misrouted} messages delivered to the wrong user ${at}`)
    if (x.afterGrace.undeliveredAfterDrain) out.push(`${x.afterGrace.undeliveredAfterDrain} acked messages never delivered ${at}`)
  }
  if (result.prefillCheck?.ok === false) out.push(`the prefilled conversation does not match the service's view: ${JSON.stringify(result.prefillCheck)}`)
  return out
}
