// The pure parts of blocking: which watchers may see a presence change, and
// that a batch costs two queries however many watchers it has.
import t from 'tap'
import { blockDocId, presenceAudience, visibleWatches, type BlockPair } from '../src/blocks.js'
import type { Watch } from '../src/store.js'

t.test('blockDocId is blocker:blocked', async (t) => {
  t.equal(blockDocId(1, 2), '1:2')
  t.not(blockDocId(1, 2), blockDocId(2, 1), 'directed')
  t.not(blockDocId(1, 23), blockDocId(12, 3), 'unambiguous')
})

t.test('visibleWatches drops watchers the watched user blocked, and only those', async (t) => {
  const watches: Watch[] = [
    { userId: 2, contactId: 1 }, // 2 watches 1
    { userId: 3, contactId: 1 },
    { userId: 2, contactId: 4 },
    { userId: 1, contactId: 2 }, // 1 watches 2: 1's block of 2 does not hide 2 from 1
  ]
  const blocks: BlockPair[] = [{ blockerId: 1, blockedId: 2 }, { blockerId: 5, blockedId: 3 }]
  t.same(visibleWatches(watches, blocks), [
    { userId: 3, contactId: 1 },
    { userId: 2, contactId: 4 },
    { userId: 1, contactId: 2 },
  ])
  t.same(visibleWatches(watches, []), watches, 'no blocks: everyone')
  t.not(visibleWatches(watches, []), watches, 'a copy')
  t.same(visibleWatches([], blocks), [])
})

t.test('presenceAudience: one watcher query and one block query per batch', async (t) => {
  const calls: string[] = []
  const watches: Watch[] = []
  for (const contactId of [1, 2, 3]) for (let w = 10; w < 40; w++) watches.push({ userId: w, contactId })
  const contacts = {
    async watchersOf (ids: readonly number[]) {
      calls.push(`watchers ${ids.join(',')}`)
      return watches.filter((w) => ids.includes(w.contactId))
    },
  }
  const blocks = {
    async blocksBy (ids: readonly number[]) {
      calls.push(`blocks ${ids.join(',')}`)
      return [{ blockerId: 1, blockedId: 10 }, { blockerId: 3, blockedId: 11 }, { blockerId: 3, blockedId: 12 }]
    },
  }
  const audience = await presenceAudience(contacts, blocks, [1, 2, 3])
  t.same(calls.sort(), ['blocks 1,2,3', 'watchers 1,2,3'], 'two queries for 90 watchers')
  t.equal(audience.length, 90 - 3)
  t.notOk(audience.some((w) => w.contactId === 1 && w.userId === 10))
  t.ok(audience.some((w) => w.contactId === 2 && w.userId === 10), '1 blocked 10, 2 did not')
  t.notOk(audience.some((w) => w.contactId === 3 && (w.userId === 11 || w.userId === 12)))

  calls.length = 0
  t.same(await presenceAudience(contacts, blocks, []), [])
  t.same(calls, [], 'no users, no queries')
})
