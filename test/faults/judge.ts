// The fault suite's verdict on one run: what the driver's clients sent,
// acknowledged and hold after catch-up, against each conversation's history.
import type { LoadClient, SendRecord } from './load.js'

/** A stored message as history (LOAD_MESSAGES) shows it. */
export interface StoredMessage { id: number, seq: number, content: string, senderId: number }

/** The figures of one fault run (one row of the table in docs/reliability.md). */
export interface Figures {
  fault: string
  /** Distinct messages (client messageIds) the clients made. */
  sends: number
  /** Final outcomes: acknowledged (MESSAGE_RECEIVED_SELF), failed (a non-retryable error, or retryable ones until the bound), unknown (never answered before the drain's deadline). */
  acked: number
  failed: number
  unknown: number
  /** Acknowledged messages not in history (or stored under another server id than the one acknowledged). */
  ackedLost: number
  /** Extra copies of a message in history (same client messageId stored more than once). */
  duplicates: number
  /** Per client and conversation: a seq held for two messages (after dropping repeats of one message), a seq stored twice, and gaps history fills but the client lacks after catch-up. */
  orderViolations: number
  /** Pushes that arrived after a push of a higher seq in their conversation on the same socket (a send numbered early and stored late); not an order violation: the client orders by seq. */
  latePushes: number
  /** Acknowledged messages the recipient (online at the end) does not hold after its catch-up. */
  undelivered: number
  /** The longest time during the load in which no send was acknowledged (ms). */
  longestAckGapMs: number
  /** Messages a recipient got only through SYNC, never as a push. */
  viaCatchUp: number
  /** seq numbers never stored (documented gaps: a send that failed after it was numbered). */
  skippedSeqs: number
}

/** Everything the verdict is made from. */
export interface RunRecord {
  fault: string
  clients: LoadClient[]
  /** Per conversation id: its history, oldest first. */
  history: Map<number, StoredMessage[]>
  ackTimes: number[]
  loadStart: number
  loadStop: number
}

/** Details behind non-zero figures, for the report and the failure message. */
export interface Details {
  lost: string[]
  duplicated: string[]
  violations: string[]
  undelivered: string[]
  latePushes: string[]
  /** Sends whose final outcome was failed or unknown, yet are stored (allowed: a later attempt's answer or none was seen). */
  storedWithoutAck: string[]
}

/** Longest stretch without an acknowledgement between the load's start and its stop (or the last ack after it). */
export function longestGap (ackTimes: number[], start: number, stop: number): number {
  const points = [start, ...ackTimes.filter((t) => t >= start).sort((a, b) => a - b)]
  const end = Math.max(stop, points[points.length - 1]!)
  points.push(end)
  let longest = 0
  for (let i = 1; i < points.length; i++) longest = Math.max(longest, points[i]! - points[i - 1]!)
  return longest
}

export function judge (run: RunRecord): { figures: Figures, details: Details } {
  const sends: SendRecord[] = run.clients.flatMap((c) => c.sends)
  const byContent = new Map<string, StoredMessage[]>()
  for (const msgs of run.history.values()) {
    for (const m of msgs) byContent.set(m.content, [...(byContent.get(m.content) ?? []), m])
  }
  const details: Details = { lost: [], duplicated: [], violations: [], undelivered: [], latePushes: [], storedWithoutAck: [] }

  let ackedLost = 0
  for (const s of sends) {
    const stored = byContent.get(s.messageId)
    if (s.state === 'acked') {
      if (stored === undefined) {
        ackedLost++
        details.lost.push(`${s.messageId} (acked as id ${s.id}, seq ${s.seq}): not in history`)
      } else if (!stored.some((m) => m.id === s.id)) {
        ackedLost++
        details.lost.push(`${s.messageId}: acked as id ${s.id}, stored as ${stored.map((m) => m.id).join(', ')}`)
      }
    } else if (stored !== undefined) {
      details.storedWithoutAck.push(`${s.messageId} (${s.state}, last ${s.lastCode})`)
    }
  }

  let duplicates = 0
  for (const [content, stored] of byContent) {
    if (stored.length > 1) {
      duplicates += stored.length - 1
      details.duplicated.push(`${content}: ${stored.length} copies (seq ${stored.map((m) => m.seq).join(', ')})`)
    }
  }

  let orderViolations = 0
  let skippedSeqs = 0
  for (const [conversationId, msgs] of run.history) {
    const seqs = new Map<number, StoredMessage>()
    for (const m of msgs) {
      if (seqs.has(m.seq)) {
        orderViolations++
        details.violations.push(`conversation ${conversationId}: seq ${m.seq} stored twice`)
      }
      seqs.set(m.seq, m)
    }
    const top = Math.max(0, ...seqs.keys())
    for (let s = 1; s <= top; s++) if (!seqs.has(s)) skippedSeqs++
  }
  let latePushes = 0
  for (const c of run.clients) {
    for (const r of c.reorders) {
      latePushes++
      details.latePushes.push(`${c.name}: conversation ${r.conversationId}: push of seq ${r.seq} after seq ${r.after}`)
    }
    for (const x of c.seqConflicts) {
      orderViolations++
      details.violations.push(`${c.name}: conversation ${x.conversationId}: seq ${x.seq} held for messages ${x.ids.join(' and ')}`)
    }
    for (const [conversationId, held] of c.held) {
      const stored = run.history.get(conversationId) ?? []
      const seqs = [...held.keys()]
      const lo = Math.min(...seqs)
      const hi = Math.max(...seqs)
      const missing = stored.filter((m) => m.seq >= lo && m.seq <= hi && !held.has(m.seq))
      if (missing.length > 0) {
        orderViolations += missing.length
        details.violations.push(`${c.name}: conversation ${conversationId}: gap of stored seq ${missing.map((m) => m.seq).join(', ')} after catch-up`)
      }
    }
  }

  let undelivered = 0
  let viaCatchUp = 0
  for (const c of run.clients) {
    const peer = c.peer!
    const heldIds = new Map<number, string>()
    for (const held of peer.held.values()) for (const h of held.values()) heldIds.set(h.id, h.via)
    for (const s of c.sends) {
      if (s.state !== 'acked') continue
      const via = heldIds.get(s.id!)
      if (via === undefined) {
        undelivered++
        const late = Math.max(0, ...(peer.held.get(s.conversationId!)?.keys() ?? [])) > s.seq!
        details.undelivered.push(`${s.messageId} (seq ${s.seq}) to ${peer.name}${late ? ', below the highest seq it holds: no push came and SYNC from that seq does not return it' : ''}`)
      } else if (via === 'sync') {
        viaCatchUp++
      }
    }
  }

  const count = (state: SendRecord['state']) => sends.filter((s) => s.state === state).length
  return {
    figures: {
      fault: run.fault,
      sends: sends.length,
      acked: count('acked'),
      failed: count('failed'),
      unknown: count('unknown'),
      ackedLost,
      duplicates,
      orderViolations,
      latePushes,
      undelivered,
      longestAckGapMs: longestGap(run.ackTimes, run.loadStart, run.loadStop),
      viaCatchUp,
      skippedSeqs,
    },
    details,
  }
}

const COLUMNS: Array<[keyof Figures, string]> = [
  ['fault', 'fault'], ['sends', 'sends'], ['acked', 'acked'], ['failed', 'failed'], ['unknown', 'unknown'],
  ['ackedLost', 'acked lost'], ['duplicates', 'duplicates'], ['orderViolations', 'order violations'],
  ['undelivered', 'undelivered after catch-up'], ['longestAckGapMs', 'longest ack gap (ms)'],
  ['viaCatchUp', 'via catch-up'], ['latePushes', 'late pushes'], ['skippedSeqs', 'skipped seq'],
]

/** The figures as a Markdown table (the same one docs/reliability.md shows). */
export function table (rows: Figures[]): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`
  return [
    line(COLUMNS.map(([, h]) => h)),
    line(COLUMNS.map(([k]) => (k === 'fault' ? '---' : '---:'))),
    ...rows.map((r) => line(COLUMNS.map(([k]) => r[k]))),
  ].join('\n')
}
