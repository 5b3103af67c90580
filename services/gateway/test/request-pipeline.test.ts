// The order of one socket's requests: keyed requests overlap, one key's
// run one after another, requests without a key wait for everything before
// them, and answers leave in arrival order whatever finishes first.
import t from 'tap'
import { RequestPipeline, type Settled } from '../src/request-pipeline.js'

const tick = (ms = 1) => new Promise((resolve) => setTimeout(resolve, ms))

/** A request whose run is finished by hand, recording when it started. */
function manual (log: string[], name: string) {
  let finish!: (v: string) => void
  let fail!: (e: Error) => void
  const done = new Promise<string>((resolve, reject) => { finish = resolve; fail = reject })
  return {
    run: () => { log.push(`start ${name}`); return done },
    finish: () => finish(name),
    fail: (e: Error) => fail(e),
  }
}

function collect (answers: string[]) {
  return (o: Settled<string>) => { answers.push(o.ok ? o.value : `error ${(o.error as Error).message}`) }
}

t.test('keyed requests overlap; answers keep arrival order', async (t) => {
  const p = new RequestPipeline<string>(8)
  const log: string[] = []
  const answers: string[] = []
  const a = manual(log, 'a')
  const b = manual(log, 'b')
  void p.add(() => ({ key: 'x', run: a.run }), collect(answers))
  const last = p.add(() => ({ key: 'y', run: b.run }), collect(answers))
  await tick()
  t.same(log, ['start a', 'start b'], 'both started before either finished')
  t.equal(p.inFlight, 2)
  b.finish()
  await tick()
  t.same(answers, [], 'b finished first but waits for a\'s answer')
  a.finish()
  await last
  t.same(answers, ['a', 'b'])
  t.equal(p.inFlight, 0)
})

t.test('one key\'s requests run one after another, also after a failure', async (t) => {
  const p = new RequestPipeline<string>(8)
  const log: string[] = []
  const answers: string[] = []
  const a = manual(log, 'a')
  const b = manual(log, 'b')
  void p.add(() => ({ key: 'x', run: a.run }), collect(answers))
  const last = p.add(() => ({ key: 'x', run: b.run }), collect(answers))
  await tick()
  t.same(log, ['start a'], 'the second waits for the first')
  a.fail(new Error('boom'))
  await tick()
  t.same(log, ['start a', 'start b'])
  b.finish()
  await last
  t.same(answers, ['error boom', 'b'])
})

t.test('a request without a key waits for every earlier answer, and later ones wait for it', async (t) => {
  const changes: boolean[] = []
  const p: RequestPipeline<string> = new RequestPipeline<string>(8, () => { changes.push(p.busy) })
  const log: string[] = []
  const answers: string[] = []
  const a = manual(log, 'a')
  const barrier = manual(log, 'barrier')
  const c = manual(log, 'c')
  void p.add(() => ({ key: 'x', run: a.run }), collect(answers))
  void p.add(() => ({ run: barrier.run }), collect(answers))
  const last = p.add(() => ({ key: 'y', run: c.run }), collect(answers))
  await tick()
  t.same(log, ['start a'])
  t.equal(p.busy, true, 'busy: a request waits to start')
  a.finish()
  await tick()
  t.same(log, ['start a', 'start barrier'])
  barrier.finish()
  await tick()
  t.same(log, ['start a', 'start barrier', 'start c'])
  c.finish()
  await last
  t.same(answers, ['a', 'barrier', 'c'])
  t.equal(p.busy, false)
  t.ok(changes.includes(true) && changes.at(-1) === false, 'told the socket when to stop and start reading')
})

t.test('at most maxInFlight keyed requests run at once', async (t) => {
  const p = new RequestPipeline<string>(2)
  const log: string[] = []
  const answers: string[] = []
  const runs = ['a', 'b', 'c'].map((n) => manual(log, n))
  let last: Promise<void> = Promise.resolve()
  runs.forEach((r, i) => { last = p.add(() => ({ key: `k${i}`, run: r.run }), collect(answers)) })
  await tick()
  t.same(log, ['start a', 'start b'])
  t.equal(p.busy, true)
  runs[1]!.finish()
  await tick()
  t.same(log, ['start a', 'start b', 'start c'], 'the third starts when one ends')
  runs[0]!.finish()
  runs[2]!.finish()
  await last
  t.same(answers, ['a', 'b', 'c'])
})

t.test('a frame that does not decode is answered in its turn and holds nothing up', async (t) => {
  const p = new RequestPipeline<string>(8)
  const log: string[] = []
  const answers: string[] = []
  const a = manual(log, 'a')
  void p.add(() => ({ key: 'x', run: a.run }), collect(answers))
  void p.add(() => { throw new Error('bad frame') }, collect(answers))
  const b = manual(log, 'b')
  const last = p.add(() => ({ key: 'y', run: b.run }), collect(answers))
  await tick()
  t.same(log, ['start a', 'start b'])
  b.finish()
  a.finish()
  await last
  t.same(answers, ['a', 'error bad frame', 'b'])
})

t.test('a keyed request that waited past the stale limit is refused when its turn comes, not run', async (t) => {
  const p = new RequestPipeline<string>(8, undefined, { maxWaitMs: 30, error: () => new Error('busy') })
  const log: string[] = []
  const answers: string[] = []
  const a = manual(log, 'a')
  const b = manual(log, 'b')
  const c = manual(log, 'c')
  const d = manual(log, 'd')
  void p.add(() => ({ key: 'x', run: a.run }), collect(answers))
  void p.add(() => ({ key: 'x', run: b.run }), collect(answers))
  void p.add(() => ({ key: 'y', run: c.run }), collect(answers))
  await tick(50)
  a.finish()
  await tick()
  // A later send of the same conversation arrives now: it has not waited, so it runs.
  const last = p.add(() => ({ key: 'x', run: d.run }), collect(answers))
  await tick()
  t.same(log, ['start a', 'start c', 'start d'], 'b waited 50 ms behind a (limit 30): never started; d, fresh, did')
  c.finish()
  d.finish()
  await last
  t.same(answers, ['a', 'error busy', 'c', 'd'], 'b answered with the busy error, in its place')
  t.equal(p.inFlight, 0)
})

t.test('without a stale limit a request waits as long as its key is busy', async (t) => {
  const p = new RequestPipeline<string>(8)
  const log: string[] = []
  const answers: string[] = []
  const a = manual(log, 'a')
  const b = manual(log, 'b')
  void p.add(() => ({ key: 'x', run: a.run }), collect(answers))
  const last = p.add(() => ({ key: 'x', run: b.run }), collect(answers))
  await tick(50)
  a.finish()
  await tick()
  b.finish()
  await last
  t.same(log, ['start a', 'start b'])
  t.same(answers, ['a', 'b'])
})
