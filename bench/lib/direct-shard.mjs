// The load generator of the `direct` scenario for a subset of the pairs
// (all of them, unless BENCH_WORKERS splits them over worker threads).
//
// Open loop: message j of a step (0 ≤ j < rate × seconds) is due at
// t0 + j / rate and belongs to pair j mod P, as its message n = ⌊j / P⌋.
// A message leaves when it is due, whether or not earlier ones were
// answered; latencies count from the due time. The sender's socket carries
// any number of outstanding requests; their answers are matched by id
// (step × 1e8 + j) and the recipient's pushes by the content
// ("b<step>.<j> xxx…").
import { connect } from './client.mjs'
import { epochNow, padded, sleep } from './util.mjs'

const ID_STEP = 1e8
// status of a message
const PENDING = 0
const SENT = 1
const ACKED = 2
const FAILED = 3

export class DirectShard {
  /**
   * @param {object} o
   * @param {Array<{i: number, senderId: number, recipientId: number, senderUrl: string, recipientUrl: string}>} o.pairs this shard's pairs
   * @param {number} o.totalPairs P, across all shards
   * @param {number} o.size content length
   * @param {boolean} o.clientIds whether sends carry a messageId
   */
  constructor ({ pairs, totalPairs, size, clientIds = true }) {
    this.clientIds = clientIds
    this.pairs = pairs.slice().sort((a, b) => a.i - b.i)
    this.P = totalPairs
    this.size = size
    this.steps = new Map()
    this.closes = {}
    this.problems = []
  }

  async connect () {
    await Promise.all(this.pairs.map(async (pair) => {
      const [sender, recipient] = await Promise.all([connect(pair.senderUrl), connect(pair.recipientUrl)])
      pair.sender = sender
      pair.recipient = recipient
      sender.onAnswer = (f) => this.onAnswer(f)
      sender.onPush = () => {}
      recipient.onPush = (f) => this.onPush(pair, f)
      for (const [role, c] of [['sender', sender], ['recipient', recipient]]) {
        void c.closed.then((code) => {
          if (this.closing) return
          this.closes[code] = (this.closes[code] ?? 0) + 1
          this.problems.push(`pair ${pair.i}: ${role} socket closed (${code})`)
        })
      }
    }))
    // One answered request per socket: logged in (at the upgrade) and working.
    await Promise.all(this.pairs.flatMap((p) => [p.sender, p.recipient]).map(async (c) => {
      const f = await c.call('LOAD_UNREAD', {})
      if (f.type !== 'UNREAD_LOADED') throw new Error(`LOAD_UNREAD after login failed: ${JSON.stringify(f)}`)
    }))
  }

  /**
   * One rate step. `t0` is the epoch ms at which message 0 is due. Resolves
   * `graceMs` after the last message was due (or sooner, once everything is
   * answered and every acked message delivered) with what this shard saw.
   */
  async runStep ({ s, rate, seconds, t0, graceMs }) {
    const total = Math.round(rate * seconds)
    const st = {
      s,
      rate,
      total,
      t0,
      interval: 1000 / rate,
      status: new Uint8Array(total),
      deliveries: new Uint8Array(total),
      sendLag: new Float64Array(total).fill(NaN),
      ack: new Float64Array(total).fill(NaN),
      dlv: new Float64Array(total).fill(NaN),
      lastN: new Int32Array(this.P).fill(-1),
      failures: {},
      pushes: {},
      outOfOrder: 0,
      misrouted: 0,
      mine: 0, // messages of this shard's pairs
      outstanding: 0,
      undelivered: 0, // acked, not yet delivered
      lastSendAt: t0,
      lastAckAt: t0,
      lastDlvAt: t0,
      closedAt: null, // when the result was taken: later events are "late"
      late: { answers: 0, deliveries: 0 },
    }
    const mine = new Set(this.pairs.map((p) => p.i))
    for (let j = 0; j < total; j++) if (mine.has(j % this.P)) st.mine++
    this.steps.set(s, st)
    this.current = s

    // Walk this shard's messages in due order: n ascending, then pair (i
    // ascending). Once a pair's j passes the end, every later one does too.
    let n = 0
    let li = 0
    const next = () => {
      if (li >= this.pairs.length) { li = 0; n++ }
      const pair = this.pairs[li++]
      const j = n * this.P + pair.i
      return j < total ? { j, pair } : -1
    }
    let cur = next()
    await new Promise((resolve) => {
      const tick = () => {
        const now = epochNow()
        const due = Math.min(total, Math.floor((now - t0) / st.interval) + 1)
        while (cur !== -1 && cur.j < due) {
          this.sendOne(st, cur.pair, cur.j, now)
          cur = next()
        }
        if (cur === -1) { resolve(); return }
        // Sleep until the next one is due (timers fire ≥ 1 ms late anyway).
        setTimeout(tick, Math.max(0, t0 + cur.j * st.interval - epochNow() - 1))
      }
      setTimeout(tick, Math.max(0, t0 - epochNow()))
    })
    const end = t0 + total * st.interval
    const deadline = end + graceMs
    while (epochNow() < deadline && (st.outstanding > 0 || st.undelivered > 0)) await sleep(20)
    st.closedAt = epochNow()
    return this.result(st)
  }

  sendOne (st, pair, j, now) {
    if (pair.sender.closeCode !== null) { st.failures['socket closed'] = (st.failures['socket closed'] ?? 0) + 1; return }
    st.status[j] = SENT
    st.outstanding++
    st.sendLag[j] = now - (st.t0 + j * st.interval)
    st.lastSendAt = now
    const payload = { senderId: pair.senderId, receiverId: pair.recipientId, content: padded(`b${st.s}.${j}`, this.size) }
    if (this.clientIds) payload.messageId = `${st.s}.${j}`
    pair.sender.send('SEND_MESSAGE', payload, undefined, st.s * ID_STEP + j)
  }

  onAnswer (f) {
    const now = epochNow()
    const id = Number(f.id)
    const st = this.steps.get(Math.floor(id / ID_STEP))
    const j = id % ID_STEP
    if (st === undefined || st.status[j] !== SENT) {
      this.problems.push(`unexpected answer ${f.type} id ${f.id}`)
      return
    }
    st.outstanding--
    if (st.closedAt !== null) st.late.answers++
    if (f.type === 'MESSAGE_RECEIVED_SELF') {
      st.status[j] = ACKED
      st.ack[j] = now - (st.t0 + j * st.interval)
      st.lastAckAt = now
      if (st.deliveries[j] === 0) st.undelivered++
    } else {
      st.status[j] = FAILED
      const code = f.payload?.code ?? f.type
      st.failures[code] = (st.failures[code] ?? 0) + 1
    }
  }

  onPush (pair, f) {
    const now = epochNow()
    if (f.type !== 'MESSAGE_RECEIVED_OTHER') {
      const st = this.steps.get(this.current)
      if (st) st.pushes[f.type] = (st.pushes[f.type] ?? 0) + 1
      return
    }
    const c = f.payload?.content
    const m = typeof c === 'string' ? /^b(\d+)\.(\d+) /.exec(c) : null
    const st = m ? this.steps.get(Number(m[1])) : undefined
    if (!st) { this.problems.push(`unexpected delivery: ${String(c).slice(0, 40)}`); return }
    st.pushes[f.type] = (st.pushes[f.type] ?? 0) + 1
    const j = Number(m[2])
    if (j % this.P !== pair.i) { st.misrouted++; return }
    const seen = st.deliveries[j]++
    if (seen > 0) return
    if (st.closedAt !== null) st.late.deliveries++
    if (st.status[j] === ACKED) st.undelivered--
    st.dlv[j] = now - (st.t0 + j * st.interval)
    st.lastDlvAt = now
    const n = Math.floor(j / this.P)
    if (n < st.lastN[pair.i]) st.outOfOrder++
    else st.lastN[pair.i] = n
  }

  /** What a step saw, as plain data (typed arrays of the samples). */
  result (st) {
    const r = {
      s: st.s,
      mine: st.mine,
      sent: 0,
      acked: 0,
      failed: 0,
      unanswered: 0,
      deliveredOnce: 0,
      duplicated: 0,
      lost: 0,
      deliveredDespiteFailure: 0,
      outOfOrder: st.outOfOrder,
      misrouted: st.misrouted,
      failures: { ...st.failures },
      pushes: { ...st.pushes },
      lastSendAt: st.lastSendAt,
      lastAckAt: st.lastAckAt,
      lastDlvAt: st.lastDlvAt,
    }
    const ack = []
    const dlv = []
    const lag = []
    for (let j = 0; j < st.total; j++) {
      const status = st.status[j]
      if (status === PENDING) continue
      r.sent++
      lag.push(st.sendLag[j])
      const d = st.deliveries[j]
      if (d === 1) r.deliveredOnce++
      if (d > 1) r.duplicated++
      if (d > 0) dlv.push(st.dlv[j])
      if (status === ACKED) {
        r.acked++
        ack.push(st.ack[j])
        if (d === 0) r.lost++
      } else {
        if (status === FAILED) {
          r.failed++
          if (d > 0) r.deliveredDespiteFailure++
        } else {
          r.unanswered++
        }
      }
    }
    r.ack = Float64Array.from(ack)
    r.dlv = Float64Array.from(dlv)
    r.lag = Float64Array.from(lag)
    return r
  }

  /**
   * After a step's grace: waits (until `deadline`, epoch ms) for every
   * request still outstanding to be answered, so the next step starts on a
   * quiet system. Returns what came late.
   */
  async drain (s, deadline) {
    const st = this.steps.get(s)
    if (!st) return { outstanding: 0, lateAnswers: 0, lateDeliveries: 0, lateLost: 0 }
    while (epochNow() < deadline && (st.outstanding > 0 || st.undelivered > 0)) await sleep(50)
    // Acked messages still undelivered now: certainly lost.
    const out = { outstanding: st.outstanding, lateAnswers: st.late.answers, lateDeliveries: st.late.deliveries, stillUndelivered: st.undelivered }
    // Free the samples; keep the step for late-arriving frames' bookkeeping.
    return out
  }

  problemsSeen () { return { problems: this.problems.slice(0, 20), problemCount: this.problems.length, closes: this.closes } }

  async close () {
    this.closing = true
    for (const p of this.pairs) { p.sender?.terminate(); p.recipient?.terminate() }
  }
}
