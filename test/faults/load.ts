// The fault suite's load driver: users in pairs over the `typed` API, each
// sending to its partner at a steady rate with unique client `messageId`s.
// A send that got no answer (socket closed, no reply in time) is sent again
// with the SAME messageId once the client is connected again; a retryable
// failure (CHAT_BUSY, CHAT_UNAVAILABLE, CHAT_TIMEOUT, CHAT_INTERNAL) is sent
// again a bounded number of times. A client whose socket closes reconnects to
// any live gateway with its token and catches up with SYNC from the highest
// `seq` it holds, as docs/api-typed.md tells clients to. Every send attempt,
// outcome and delivery goes to `log`.
import type { Frame, WsClient } from '../helpers/ws.js'
import { connectWs } from '../helpers/ws.js'
import { registerUser, sleep } from '../helpers/typed.js'

const RETRYABLE = new Set(['CHAT_BUSY', 'CHAT_UNAVAILABLE', 'CHAT_TIMEOUT', 'CHAT_INTERNAL'])

/** One line of the run's log (JSON Lines). */
export type LogEntry =
  | { t: number, ev: 'sent', user: string, messageId: string, attempt: number }
  | { t: number, ev: 'acked', user: string, messageId: string, id: number, seq: number }
  | { t: number, ev: 'error', user: string, messageId: string, code: string }
  | { t: number, ev: 'failed' | 'unknown', user: string, messageId: string, code: string }
  | { t: number, ev: 'delivered', user: string, via: 'live' | 'sync', conversationId: number, seq: number, id: number, content: string }
  | { t: number, ev: 'connected' | 'disconnected', user: string, gateway: string }
  | { t: number, ev: 'fault', what: string }

export interface LoadOptions {
  /** WebSocket URLs of the gateways; users are spread over them, reconnects try the others first. */
  gateways: string[]
  pairs: number
  /** New messages per second, per user. */
  ratePerUser: number
  /** Sends in flight per user. */
  window: number
  /** How long a client waits for an answer before it counts the send as unanswered. */
  answerTimeoutMs: number
  /** Attempts answered with a retryable error before the send counts as failed. */
  maxRetryableAttempts: number
  log: (entry: LogEntry) => void
}

/** A message as the driver tracks it. */
export interface SendRecord {
  messageId: string
  from: string
  to: string
  state: 'pending' | 'inflight' | 'acked' | 'failed' | 'unknown'
  attempts: number
  retryable: number
  notBefore: number
  lastCode?: string
  ackedAt?: number
  id?: number
  seq?: number
  conversationId?: number
}

/** A message a client holds (answered, pushed or fetched). */
export interface Held { id: number, content: string, via: 'ack' | 'live' | 'sync' }

export interface LoadClient {
  name: string
  userId: number
  token: string
  peer: LoadClient | undefined
  sends: SendRecord[]
  /** Per conversation: seq → message held. */
  held: Map<number, Map<number, Held>>
  /** Pushes that arrived with a lower seq than an earlier push of another message on the same socket. */
  reorders: Array<{ conversationId: number, seq: number, after: number }>
  /** The same seq held for two different messages. */
  seqConflicts: Array<{ conversationId: number, seq: number, ids: number[] }>
  ws: WsClient | undefined
  gatewayIndex: number
  /** Messages delivered live (MESSAGE_RECEIVED_OTHER / MESSAGE_SENT). */
  liveCount: number
}

export interface Load {
  clients: LoadClient[]
  /** Stops making new messages; in-flight and pending ones keep being retried. */
  stopGenerating: () => void
  /** Waits until every send is final (acked or failed) or `ms` have passed; the rest become `unknown`. Stops the driver. */
  drain: (ms: number) => Promise<void>
  /** Resolves once every client is connected, or rejects after `ms`. */
  allConnected: (ms: number) => Promise<void>
  /** SYNCs every conversation of a client from `lastSeq` (all pages); returns the messages fetched. */
  sync: (c: LoadClient, conversationId: number, lastSeq: number) => Promise<Array<{ id: number, seq: number, content: string }>>
  /** Closes every socket. */
  close: () => Promise<void>
  /** Times (ms since epoch) of every acknowledgement, in order. */
  ackTimes: number[]
}

/** Registers the users (pair i: users 2i and 2i+1, on different gateways) and starts sending. */
export async function startLoad (opts: LoadOptions): Promise<Load> {
  const { log } = opts
  let generating = true
  let halted = false // no more dispatches (drain's deadline passed)
  let stopped = false
  const ackTimes: number[] = []
  const clients: LoadClient[] = []
  for (let i = 0; i < opts.pairs * 2; i++) {
    const gatewayIndex = i % opts.gateways.length
    const user = await registerUser(opts.gateways[gatewayIndex]!, `f${i}`)
    await user.client.close()
    clients.push({
      name: user.username,
      userId: user.userId,
      token: user.token,
      peer: undefined,
      sends: [],
      held: new Map(),
      reorders: [],
      seqConflicts: [],
      ws: undefined,
      gatewayIndex,
      liveCount: 0,
    })
  }
  for (let i = 0; i < clients.length; i += 2) {
    clients[i]!.peer = clients[i + 1]
    clients[i + 1]!.peer = clients[i]
  }

  const hold = (c: LoadClient, m: { conversationId: number, seq: number, id: number, content: string }, via: Held['via']): boolean => {
    let conv = c.held.get(m.conversationId)
    if (conv === undefined) c.held.set(m.conversationId, conv = new Map())
    const had = conv.get(m.seq)
    if (had === undefined) {
      conv.set(m.seq, { id: m.id, content: m.content, via })
      return true
    }
    if (had.id !== m.id) c.seqConflicts.push({ conversationId: m.conversationId, seq: m.seq, ids: [had.id, m.id] })
    return false
  }

  const sync = async (c: LoadClient, conversationId: number, lastSeq: number) => {
    const fetched: Array<{ id: number, seq: number, content: string }> = []
    for (let from = lastSeq; ;) {
      const ws = c.ws
      if (ws === undefined) throw new Error(`${c.name}: not connected`)
      const res = await ws.request('SYNC', { cursors: [{ conversationId, lastSeq: from }] }, opts.answerTimeoutMs)
      if (res.type !== 'SYNC_RESULT') throw new Error(`${c.name}: SYNC failed: ${JSON.stringify(res.payload)}`)
      const conv = (res.payload.conversations as Array<{ hasMore: boolean, messages: Array<{ id: number, seq: number, content: string, conversationId: number }>, changes?: Array<{ seq: number }> }>)[0]
      const before = from
      for (const m of conv?.messages ?? []) {
        fetched.push(m)
        if (hold(c, m, 'sync')) log({ t: Date.now(), ev: 'delivered', user: c.name, via: 'sync', conversationId, seq: m.seq, id: m.id, content: m.content })
        from = Math.max(from, m.seq)
      }
      // Edits and deletions have places too (the load makes none; a page may still end with one).
      for (const change of conv?.changes ?? []) from = Math.max(from, change.seq)
      if (conv === undefined || !conv.hasMore || from === before) return fetched
    }
  }

  const maxSeqs = (c: LoadClient) => [...c.held.entries()].map(([conversationId, seqs]) => ({ conversationId, lastSeq: Math.max(...seqs.keys()) }))

  // One connection attempt loop per client; resolves once connected and caught up.
  const connecting = new Map<LoadClient, Promise<void>>()
  const connect = (c: LoadClient): Promise<void> => {
    const running = connecting.get(c)
    if (running !== undefined) return running
    const p = (async () => {
      const cursors = maxSeqs(c) // taken before any new push arrives
      for (let attempt = 0; ; attempt++) {
        if (stopped) return
        // After a failure, try the gateways in turn starting with the next one.
        const index = (c.gatewayIndex + attempt) % opts.gateways.length
        const url = opts.gateways[index]!
        let ws: WsClient
        try {
          ws = await connectWs(`${url}?token=${c.token}`, { openTimeoutMs: 2000 })
        } catch {
          await sleep(250)
          continue
        }
        c.gatewayIndex = index
        const lastLive = new Map<number, number>()
        ws.raw.on('message', (data) => {
          let f: Frame
          try { f = JSON.parse(data.toString()) as Frame } catch { return }
          if (f.id !== undefined || (f.type !== 'MESSAGE_RECEIVED_OTHER' && f.type !== 'MESSAGE_SENT')) return
          const m = f.payload as { id: number, seq: number, content: string, conversationId: number }
          c.liveCount++
          const before = lastLive.get(m.conversationId) ?? 0
          const fresh = hold(c, m, 'live')
          if (fresh && m.seq < before) c.reorders.push({ conversationId: m.conversationId, seq: m.seq, after: before })
          lastLive.set(m.conversationId, Math.max(before, m.seq))
          if (fresh) log({ t: Date.now(), ev: 'delivered', user: c.name, via: 'live', conversationId: m.conversationId, seq: m.seq, id: m.id, content: m.content })
        })
        c.ws = ws
        log({ t: Date.now(), ev: 'connected', user: c.name, gateway: url })
        void ws.closed.then(() => {
          if (c.ws === ws) c.ws = undefined
          log({ t: Date.now(), ev: 'disconnected', user: c.name, gateway: url })
          if (!stopped) void connect(c)
        })
        try {
          for (const cur of cursors) await sync(c, cur.conversationId, cur.lastSeq)
        } catch {
          // The new socket failed too: its close starts the next attempt.
          if (c.ws === ws) ws.raw.terminate()
          return
        }
        pump(c)
        return
      }
    })().finally(() => connecting.delete(c))
    connecting.set(c, p)
    return p
  }

  const inflight = new Map<LoadClient, number>()
  const dispatch = async (c: LoadClient, ws: WsClient, s: SendRecord): Promise<void> => {
    s.state = 'inflight'
    s.attempts++
    inflight.set(c, (inflight.get(c) ?? 0) + 1)
    log({ t: Date.now(), ev: 'sent', user: c.name, messageId: s.messageId, attempt: s.attempts })
    let answer: Frame | undefined
    try {
      answer = await ws.request('SEND_MESSAGE', { messageId: s.messageId, senderId: c.userId, receiverId: c.peer!.userId, content: s.messageId }, opts.answerTimeoutMs)
    } catch {
      answer = undefined
    }
    inflight.set(c, inflight.get(c)! - 1)
    if (answer?.type === 'MESSAGE_RECEIVED_SELF') {
      const p = answer.payload as { id: number, seq: number, conversationId: number }
      s.state = 'acked'
      s.ackedAt = Date.now()
      s.id = p.id
      s.seq = p.seq
      s.conversationId = p.conversationId
      ackTimes.push(s.ackedAt)
      hold(c, { ...p, content: s.messageId }, 'ack')
      log({ t: s.ackedAt, ev: 'acked', user: c.name, messageId: s.messageId, id: p.id, seq: p.seq })
    } else {
      const code = answer === undefined ? 'NO_ANSWER' : String(answer.payload?.code ?? answer.type)
      s.lastCode = code
      log({ t: Date.now(), ev: 'error', user: c.name, messageId: s.messageId, code })
      if (answer !== undefined && !RETRYABLE.has(code)) {
        s.state = 'failed'
        log({ t: Date.now(), ev: 'failed', user: c.name, messageId: s.messageId, code })
      } else if (answer !== undefined && ++s.retryable >= opts.maxRetryableAttempts) {
        s.state = 'failed'
        log({ t: Date.now(), ev: 'failed', user: c.name, messageId: s.messageId, code })
      } else {
        // Unanswered (the socket closed or nothing came back): sent again with
        // the same messageId, on this socket or after the reconnect.
        s.state = 'pending'
        s.notBefore = Date.now() + (code === 'CHAT_BUSY' ? 1000 : 200)
        setTimeout(() => pump(c), s.notBefore - Date.now() + 5).unref()
      }
    }
    pump(c)
  }

  const pump = (c: LoadClient): void => {
    const ws = c.ws
    if (ws === undefined || stopped || halted) return
    const now = Date.now()
    for (const s of c.sends) {
      if ((inflight.get(c) ?? 0) >= opts.window) return
      if (s.state === 'pending' && s.notBefore <= now) void dispatch(c, ws, s)
    }
  }

  await Promise.all(clients.map(connect))

  // Each user's clock: a new message every 1/rate s, phase-shifted per user.
  const intervalMs = 1000 / opts.ratePerUser
  const timers = clients.map((c, i) => {
    let n = 0
    const tick = () => {
      if (!generating) return
      c.sends.push({ messageId: `${c.name}-${n++}`, from: c.name, to: c.peer!.name, state: 'pending', attempts: 0, retryable: 0, notBefore: 0 })
      pump(c)
    }
    const start = setTimeout(() => { tick(); timer.ref() }, (intervalMs * i) / clients.length)
    const timer = setInterval(tick, intervalMs)
    return { start, timer }
  })

  const stopGenerating = () => {
    generating = false
    for (const { start, timer } of timers) { clearTimeout(start); clearInterval(timer) }
  }

  return {
    clients,
    ackTimes,
    stopGenerating,
    sync,
    drain: async (ms) => {
      stopGenerating()
      const deadline = Date.now() + ms
      const open = () => clients.flatMap((c) => c.sends).filter((s) => s.state === 'pending' || s.state === 'inflight')
      while (open().length > 0 && Date.now() < deadline) {
        for (const c of clients) pump(c)
        await sleep(100)
      }
      // Those still in flight get their answer or time out; the rest are unknown.
      halted = true
      while ([...inflight.values()].some((n) => n > 0)) await sleep(100)
      for (const c of clients) {
        for (const s of c.sends) {
          if (s.state === 'pending' || s.state === 'inflight') {
            s.state = 'unknown'
            log({ t: Date.now(), ev: 'unknown', user: c.name, messageId: s.messageId, code: s.lastCode ?? 'NO_ANSWER' })
          }
        }
      }
    },
    allConnected: async (ms) => {
      const deadline = Date.now() + ms
      while (clients.some((c) => c.ws === undefined || connecting.has(c))) {
        if (Date.now() > deadline) throw new Error(`clients never reconnected: ${clients.filter((c) => c.ws === undefined).map((c) => c.name).join(', ')}`)
        await sleep(100)
      }
    },
    close: async () => {
      stopped = true
      stopGenerating()
      await Promise.all(clients.map(async (c) => await c.ws?.close()))
    },
  }
}
