/**
 * The batched unread scripts without a Redis server: one pipeline for any
 * number of users, batches of bounded size, and a NOSCRIPT refusal re-sent
 * (with the script's source) for the refused batches only.
 */
import t from 'tap'
import type { Redis } from 'ioredis'
import { UnreadCache, unreadKey, type UnreadSource } from '../src/unread.js'

type Call = { cmd: string, args: unknown[] }

function fakeRedis (reply: (call: Call, pipelineNo: number) => [Error | null, unknown]) {
  const pipelines: Call[][] = []
  const redis = {
    pipeline () {
      const calls: Call[] = []
      const no = pipelines.push(calls) - 1
      const p = {
        evalsha: (...args: unknown[]) => { calls.push({ cmd: 'evalsha', args }); return p },
        eval: (...args: unknown[]) => { calls.push({ cmd: 'eval', args }); return p },
        del: (...args: unknown[]) => { calls.push({ cmd: 'del', args }); return p },
        exec: async () => calls.map((c) => reply(c, no)),
      }
      return p
    },
  }
  return { redis: redis as unknown as Redis, pipelines }
}

const source: UnreadSource = {
  countAll: async () => new Map(),
  countOne: async () => 0,
}

/** Per key of a script call: 3 for complete hashes, -1 for user 2 (no hash). */
function answer (call: Call): unknown[] {
  const n = Number(call.args[1])
  const keys = call.args.slice(2, 2 + n) as string[]
  return keys.map((k) => (k === unreadKey(2) ? -1 : 3))
}

t.test('one pipeline, batches of 500, missing hashes reported as undefined', async (t) => {
  const { redis, pipelines } = fakeRedis((call) => [null, answer(call)])
  const cache = new UnreadCache(redis, source)
  const users = Array.from({ length: 1200 }, (_, i) => i + 1)
  const out = await cache.incrementMany(users, 77)
  t.equal(pipelines.length, 1, 'one round trip')
  t.same(pipelines[0]!.map((c) => Number(c.args[1])), [500, 500, 200], 'bounded batches')
  t.ok(pipelines[0]!.every((c) => c.cmd === 'evalsha'))
  t.same(pipelines[0]![0]!.args.slice(-2), ['77', 1], 'conversation and amount')
  t.equal(out.size, 1200)
  t.equal(out.get(1), 3)
  t.equal(out.get(2), undefined, 'no hash: left for the rebuild')
  t.same(await cache.incrementMany([], 77), new Map(), 'nobody: no round trip')
  t.equal(pipelines.length, 1)
})

t.test('NOSCRIPT: only the refused batches are sent again, with the source', async (t) => {
  const { redis, pipelines } = fakeRedis((call, no) => {
    // The first pipeline: the second batch finds no script loaded.
    if (no === 0 && call.cmd === 'evalsha' && Number(call.args[1]) === 100) return [new Error('NOSCRIPT No matching script'), null]
    return [null, answer(call)]
  })
  const cache = new UnreadCache(redis, source)
  const users = Array.from({ length: 600 }, (_, i) => i + 10)
  const out = await cache.decrementMany(users, 5)
  t.equal(pipelines.length, 2)
  t.same(pipelines[1]!.map((c) => [c.cmd, Number(c.args[1])]), [['eval', 100]], 'only the refused batch, by source')
  t.match(String(pipelines[1]![0]!.args[0]), /HINCRBY/)
  t.equal(out.size, 600)
  t.ok([...out.values()].every((v) => v === 3))
})

t.test('other errors are thrown', async (t) => {
  const { redis } = fakeRedis(() => [new Error('OOM command not allowed'), null])
  const cache = new UnreadCache(redis, source)
  await t.rejects(cache.dropMany([1, 2], 9), /OOM/)
})

t.test('forgetMany deletes in batches in one round trip', async (t) => {
  const { redis, pipelines } = fakeRedis(() => [null, 1])
  const cache = new UnreadCache(redis, source)
  await cache.forgetMany(Array.from({ length: 501 }, (_, i) => i + 1))
  t.equal(pipelines.length, 1)
  t.same(pipelines[0]!.map((c) => c.args.length), [500, 1])
  t.equal(pipelines[0]![0]!.args[0], unreadKey(1))
})
