// The Redis-fallback policy: the cache answers while it can, the truth when
// it throws, every fallback is counted under its cache's name, and warnings
// are written at most once per cache per interval, carrying how many were not.
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { CacheFallback } from '../src/cache-fallback.js'

interface Line { msg: string, cache: string, suppressed: number, err?: { message: string }, userId?: number }

/** A policy over a logger that keeps its lines, a registry of its own, and a clock the test moves. */
function setup () {
  const lines: Line[] = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Line)
      done()
    },
  })
  const registry = new Registry()
  const clock = { ms: 1_000_000 }
  const fallback = new CacheFallback({ logger: pino({ level: 'warn' }, sink), registry, warnIntervalMs: 10_000, now: () => clock.ms })
  /** The counter's value for one cache (0 when never counted). */
  async function count (cache: string): Promise<number> {
    const metric = await registry.getSingleMetric('chat_cache_fallbacks_total')?.get()
    return metric?.values.find((v) => v.labels.cache === cache)?.value ?? 0
  }
  return { lines, clock, fallback, count }
}

const down = async (): Promise<never> => { throw new Error('redis down') }

t.test('the cache answers while it can; the truth is not asked', async (t) => {
  const { fallback, lines, count } = setup()
  let truthReads = 0
  t.equal(await fallback.read('unread', async () => 'cached', async () => { truthReads++; return 'truth' }), 'cached')
  t.equal(truthReads, 0)
  t.equal(await count('unread'), 0)
  t.same(lines, [])
})

t.test('a cache that throws is answered by the truth, counted under its label, and logged', async (t) => {
  const { fallback, lines, count } = setup()
  t.equal(await fallback.read('sessions', down, async () => 'truth', { userId: 7 }), 'truth')
  t.equal(await count('sessions'), 1)
  t.equal(await count('unread'), 0, 'other caches are counted apart')
  t.equal(lines.length, 1)
  t.match(lines[0], { cache: 'sessions', suppressed: 0, userId: 7, err: { message: 'redis down' } })
})

t.test('a cache that throws synchronously falls back as well', async (t) => {
  const { fallback, count } = setup()
  const sync = (): Promise<string> => { throw new Error('no connection') }
  t.equal(await fallback.read('blocks', sync, async () => 'truth'), 'truth')
  t.equal(await count('blocks'), 1)
})

t.test('a failure of the truth propagates', async (t) => {
  const { fallback, count } = setup()
  await t.rejects(fallback.read('unread', down, async () => { throw new Error('mongo down') }), { message: 'mongo down' })
  t.equal(await count('unread'), 1, 'the fallback itself was still counted')
  // A working cache never calls the truth, so the truth's failure cannot show there.
  t.equal(await fallback.read('unread', async () => 1, async () => { throw new Error('mongo down') }), 1)
})

t.test('warnings: at most one per cache per interval, with the fallbacks left unlogged since the last', async (t) => {
  const { fallback, lines, clock, count } = setup()
  const truth = async () => 0
  for (let i = 0; i < 5; i++) await fallback.read('unread', down, truth)
  t.equal(lines.length, 1, 'one line for five fallbacks')
  await fallback.read('blocks', down, truth)
  t.equal(lines.length, 2, 'another cache warns on its own')
  t.match(lines[1], { cache: 'blocks', suppressed: 0 })

  clock.ms += 9_999
  await fallback.read('unread', down, truth)
  t.equal(lines.length, 2, 'still within the interval')

  clock.ms += 1
  await fallback.read('unread', down, truth)
  t.equal(lines.length, 3, 'the interval passed')
  t.match(lines[2], { cache: 'unread', suppressed: 5 }, 'four of the first burst and one later went unlogged')
  t.equal(await count('unread'), 7, 'every fallback is counted, logged or not')

  clock.ms += 60_000
  await fallback.read('unread', down, truth)
  t.match(lines[3], { cache: 'unread', suppressed: 0 }, 'the count starts again after each line')
})
