// Prints a run's result as plain-text tables.
import { fmt } from './util.mjs'

/** Right-aligned columns; the first row is the header. */
export function table (rows, indent = '  ') {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)))
  const line = (r) => indent + r.map((v, c) => String(v).padStart(widths[c])).join('  ')
  return [line(rows[0]), indent + widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

const lat = (d) => d.n === 0 ? ['-', '-', '-', '-'] : [fmt(d.p50), fmt(d.p90), fmt(d.p99), fmt(d.max)]
const counts = (o) => Object.keys(o ?? {}).length === 0 ? '-' : Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ')

/** CPU (% of one core) per process for each row: {label, cpu}. */
export function cpuTable (rows) {
  const names = []
  for (const r of rows) for (const k of Object.keys(r.cpu ?? {})) if (!names.includes(k)) names.push(k)
  // generator first, machine last, the rest as found
  const order = ['generator', ...names.filter((n) => !['generator', 'machine', 'other', 'otherTop'].includes(n)), 'other', 'machine']
  const short = (n) => n.replace('gateway', 'gw').replace('-server', '').replace('message', 'msg')
  const busy = rows.filter((r) => r.cpu?.other > 20).map((r) => `${r.label}: ${r.cpu.otherTop}`)
  return table([
    ['', ...order.map(short)],
    ...rows.map((r) => [r.label, ...order.map((n) => fmt(r.cpu?.[n], 0))]),
  ]) + (busy.length ? `\n  other programs using the most: ${busy.join('; ')}` : '')
}

function header (r) {
  const c = r.config
  return [
    `chat bench ${r.scenario} ${r.runId} (${r.startedAt})`,
    `  machine: ${r.machine.cores} cores (${r.machine.model}), node ${r.machine.node}; before the run: load average ${r.machine.loadAverageAtStart}, ${r.machine.busyBeforeStart}% of a core busy` +
      (r.machine.busyBeforeStart > 30 ? ' (SOMETHING ELSE IS RUNNING: the figures are low)' : ''),
    `  backend: ${r.backend}; ${c.target === 'baseline' ? '2 replicas of the plain design (BENCH_TARGET=baseline)' : `${c.gateways} gateways, ${c.messageReplicas} message replica(s)`}${c.mongoMaxPool ? `, MongoDB pool ${c.mongoMaxPool} per process` : ''}` + (r.notes.prefill ? `; prefilled ${r.notes.prefill.messages} messages in ${r.notes.prefill.conversations} conversations (${r.notes.prefill.perSecond}/s)` : ''),
  ]
}

function printDirect (r) {
  const { config: c, result } = r
  const out = header(r)
  out.push(`  direct: ${c.pairs} pairs (sender on gateway#1, recipient on gateway#2), ${c.size}-byte messages${c.clientIds ? '' : ' without messageId'}, ${c.seconds} s per rate, grace ${c.graceMs} ms, knee: delivery p99 < ${c.kneeP99Ms} ms and delivered ≥ 95% of offered`)
  if (r.notes.warmup) out.push(`  warm-up ${r.notes.warmup.rate}/s: delivered ${r.notes.warmup.delivered}, failed ${r.notes.warmup.failed}, delivery p99 ${r.notes.warmup.deliveryMs.p99} ms`)
  const steps = [...result.steps, ...result.overload]
  out.push('', '  rates (msg/s) and latencies (ms, from each message\'s scheduled send time):')
  out.push(table([
    ['offered', 'sent', 'acked', 'delivered', 'ack p50', 'p90', 'p99', 'max', 'dlv p50', 'p90', 'p99', 'max', 'failed', 'unanswered', 'lost', 'dup', 'order', 'send lag p99', 'knee'],
    ...steps.map((x) => [
      x.label === 'rate' ? x.rate : `${x.rate} (${x.label})`, fmt(x.sendRate), fmt(x.ackRate), fmt(x.deliveryRate),
      ...lat(x.ackMs), ...lat(x.deliveryMs), x.failed, x.unanswered, x.lost, x.duplicated, x.outOfOrder, fmt(x.sendLagMs.p99),
      x.underKnee ? 'ok' : 'past',
    ]),
  ]))
  const withFailures = steps.filter((x) => x.failed || x.afterGrace.answers || x.afterGrace.deliveries || x.deliveredDespiteFailure)
  for (const x of withFailures) {
    out.push(`  at ${x.rate}/s: failures ${counts(x.failures)}; after the grace period ${x.afterGrace.answers} answers and ${x.afterGrace.deliveries} deliveries came, ${x.afterGrace.unansweredAfterDrain} requests never answered, ${x.afterGrace.undeliveredAfterDrain} acked never delivered; ${x.deliveredDespiteFailure} delivered although their send failed`)
  }
  for (const x of result.overload) out.push(`  ${x.label} (${x.rate}/s): goodput ${x.goodput} msg/s delivered within ${c.kneeP99Ms} ms, ${x.deliveryRate}/s delivered at all`)
  out.push('', '  CPU, % of one core, over each rate\'s sending window:')
  out.push(cpuTable(steps.map((x) => ({ label: x.label === 'rate' ? `${x.rate}/s` : `${x.rate}/s ${x.label}`, cpu: x.cpu }))))
  if (result.prefillCheck) out.push(`  prefilled conversation check: ${JSON.stringify(result.prefillCheck)}`)
  out.push('', `  knee: ${result.knee === null ? `none (no rate had delivery p99 < ${c.kneeP99Ms} ms with ≥ 95% delivered)` : `${result.knee} msg/s`}` +
    (r.notes.skippedRates ? ` (rates not run: ${r.notes.skippedRates.join(', ')})` : ''))
  return out
}

function printRoom (r) {
  const { config: c, result } = r
  const out = header(r)
  const j = result.join
  out.push(`  room: ${c.members} members (half on each gateway), sender on gateway#1, ${c.size}-byte messages, ${c.seconds} s per rate`)
  out.push(`  join: ${j.members} members, ${j.concurrency} at a time, in ${j.seconds} s (${j.joinsPerSecond}/s); JOIN_ROOM p50 ${j.latencyMs.p50} p90 ${j.latencyMs.p90} p99 ${j.latencyMs.p99} max ${j.latencyMs.max} ms; failures ${counts(j.failures)}; ${j.memberJoinedNotices} of ${j.memberJoinedExpected} ROOM_MEMBER_JOINED notices, the last ${j.noticesSettledAfterMs} ms after the last join`)
  out.push('', '  rates (messages/s), deliveries (to member sockets) and latencies (ms, from the scheduled send time):')
  out.push(table([
    ['msg/s', 'sent', 'acked', 'failed', 'unanswered', 'deliveries/s', 'expected', 'delivered', 'ack p50', 'p99', 'dlv p50', 'p90', 'p99', 'max', 'missing', 'dup'],
    ...result.steps.map((x) => [x.rate, x.messages, x.acked, x.failed, x.unanswered, fmt(x.deliveriesPerSecond), x.expectedDeliveries, x.delivered, fmt(x.ackMs.p50), fmt(x.ackMs.p99), ...lat(x.deliveryMs), x.missing, x.duplicated]),
  ]))
  for (const x of result.steps.filter((s) => s.failed || s.unanswered)) {
    out.push(`  at ${x.rate}/s: failures ${counts(x.failures)}; ${x.afterGrace?.answers ?? 0} answers came after the grace period, ${x.afterGrace?.unansweredAfterDrain ?? 0} never`)
  }
  out.push('', '  CPU, % of one core, over each rate\'s sending window:')
  out.push(cpuTable(result.steps.map((x) => ({ label: `${x.rate}/s`, cpu: x.cpu }))))
  return out
}

function printReconnect (r) {
  const { config: c, result } = r
  const out = header(r)
  out.push(`  reconnect: ${c.users} users (half on each gateway) drop their sockets at once, wait ${c.pauseMs} ms, reconnect at once with ?token= and send LOAD_UNREAD`)
  out.push('', '  ms from the first reconnect attempt:')
  out.push(table([
    ['round', 'back', 'all back', 'open p50', 'p90', 'p99', 'max', 'answer p50', 'p90', 'p99', 'max', 'failures'],
    ...result.rounds.map((x) => [x.round, `${x.loggedIn}/${x.users}`, fmt(x.allBackMs), ...lat(x.openMs), ...lat(x.firstAnswerMs), counts(x.failures)]),
  ]))
  out.push('', '  CPU, % of one core, from the first attempt until all were back:')
  out.push(cpuTable(result.rounds.map((x) => ({ label: `round ${x.round}`, cpu: x.cpu }))))
  return out
}

export function print (r) {
  const out = r.result === null
    ? header(r)
    : { direct: printDirect, room: printRoom, reconnect: printReconnect }[r.scenario](r)
  if (r.notes.register) out.push(`  REGISTER p50 ${r.notes.register.p50} p99 ${r.notes.register.p99} ms (n=${r.notes.register.n})`)
  out.push('  processes: ' + r.processes.map((p) => `${p.name} ${p.exit ? (p.exit.code ?? p.exit.signal) : 'running'}${p.stopMs !== undefined ? ` (stopped in ${p.stopMs} ms)` : ''}`).join(', '))
  for (const p of r.processes) {
    if (Object.keys(p.output).length > 0) out.push(`  output ${p.name}: ${JSON.stringify(p.output)}\n    ${p.samples.join('\n    ')}`)
  }
  out.push(`  cleanup: ${r.cleanup}`)
  out.push(r.ok ? 'OK' : `FAILED: ${r.problems.join('; ')}`)
  console.log(out.join('\n'))
}
