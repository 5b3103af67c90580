// Conversation summaries are written after the answer, coalesced per
// conversation: with SUMMARY_FLUSH_MS, a busy conversation's messages of one
// interval cost one write of each document; a reader on the replica
// (settled) has them written at once.
import t from 'tap'
import { createLogger } from '@chat/runtime'
import type { ConversationStore, LastMessage } from '../src/conversations.js'
import type { RedisLocks } from '../src/locks.js'
import type { MessageStore } from '../src/messages.js'
import type { LastMessageAmendments } from '../src/send/amendments.js'
import { SummaryWriter } from '../src/send/summaries.js'

const logger = createLogger('summaries-test', 'silent')

/** Records every write the writer makes. */
function fakeStores () {
  const writes: string[] = []
  const conversations = {
    byId: async (id: number) => ({ _id: id, firstMessage: { id: 1, seq: 1 } }),
    recordLast: async (id: number, last: LastMessage) => { writes.push(`last ${id} ${last.seq}`) },
    markRead: async (conv: { _id: number }, userId: number, seq: number) => { writes.push(`mark ${conv._id} ${userId} ${seq}`) },
    touchMembers: async (conv: { _id: number }, userIds: number[]) => { writes.push(`touch ${conv._id} ${userIds.join(',')}`) },
    touchRoomMembers: async (id: number, senderId: number) => { writes.push(`room ${id} ${senderId}`) },
  } as unknown as ConversationStore
  const locks = { withLock: async <T>(_key: string, fn: () => Promise<T>) => fn() } as unknown as RedisLocks
  return { writes, conversations, locks, messages: {} as MessageStore }
}

function summary (conversationId: number, seq: number, senderId = 1) {
  return {
    conversationId,
    memberIds: [1, 2],
    last: { id: 100 + seq, seq, senderId, kind: 'text' as const, content: `m${seq}`, createdAt: new Date(1_700_000_000_000 + seq) },
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('without an interval, each message is written as soon as the previous flush is done', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  const writer = new SummaryWriter(conversations, messages, locks, logger)
  for (const seq of [1, 2, 3]) {
    writer.add(summary(7, seq))
    await writer.settled()
  }
  t.same(writes.filter((w) => w.startsWith('last')), ['last 7 1', 'last 7 2', 'last 7 3'])
})

t.test('with an interval, a conversation\'s messages of one interval are one write of each document', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  const writer = new SummaryWriter(conversations, messages, locks, logger, { flushMs: 150 })
  for (const seq of [1, 2, 3, 4]) {
    writer.add(summary(7, seq, seq % 2 === 0 ? 2 : 1))
    await sleep(10)
  }
  writer.add(summary(8, 1))
  t.same(writes, [], 'nothing written before the interval ends')
  await sleep(250)
  t.same(writes.sort(), ['last 7 4', 'last 8 1', 'mark 7 1 3', 'mark 7 2 4', 'mark 8 1 1', 'touch 8 2'].sort(),
    'the newest last message, each sender\'s newest read mark, the others\' activity')
})

t.test('a reader on the replica has pending summaries written at once', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  const writer = new SummaryWriter(conversations, messages, locks, logger, { flushMs: 60_000 })
  writer.add(summary(7, 1))
  const started = Date.now()
  await writer.settled()
  t.ok(Date.now() - started < 1000, 'not after the interval')
  t.same(writes.filter((w) => w.startsWith('last')), ['last 7 1'])

  writer.add(summary(7, 2))
  await writer.drain()
  t.same(writes.filter((w) => w.startsWith('last')), ['last 7 1', 'last 7 2'], 'drain (shutdown) too')
})

t.test('what arrives during a flush is written by the next, no later than the interval after it arrived', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const slow = Object.create(conversations) as ConversationStore & { recordLast: ConversationStore['recordLast'] }
  slow.recordLast = async (id, last) => {
    if (last.seq === 1) await gate
    writes.push(`last ${id} ${last.seq}`)
  }
  const writer = new SummaryWriter(slow, messages, locks, logger, { flushMs: 50, everyMs: 0 })
  writer.add(summary(7, 1))
  await sleep(80) // the first flush has started and hangs
  writer.add(summary(7, 2))
  writer.add(summary(7, 3))
  await sleep(80)
  t.same(writes.filter((w) => w.startsWith('last')), [], 'the later ones wait for the running flush, past their interval')
  release()
  await sleep(20)
  t.same(writes.filter((w) => w.startsWith('last')), ['last 7 1', 'last 7 3'], 'then go at once, folded into one')
})

t.test('a flush writes a few conversations at a time, leaving the pool to the sends\' inserts', async (t) => {
  const { conversations, locks, messages } = fakeStores()
  let inFlight = 0
  let most = 0
  const slow = Object.create(conversations) as ConversationStore & { recordLast: ConversationStore['recordLast'] }
  slow.recordLast = async () => {
    most = Math.max(most, ++inFlight)
    await sleep(5)
    inFlight--
  }
  const writer = new SummaryWriter(slow, messages, locks, logger, { flushMs: 20 })
  for (let id = 1; id <= 20; id++) writer.add(summary(id, 1))
  await writer.drain()
  t.equal(most, 4)
})

t.test('a direct conversation\'s summary is written at most once per interval; later changes wait, folded, for their turn', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  const writer = new SummaryWriter(conversations, messages, locks, logger, { everyMs: 200 })
  writer.add(summary(7, 1, 1))
  await sleep(20)
  t.same(writes, ['last 7 1', 'mark 7 1 1', 'touch 7 2'], 'the first message\'s at once: the last message, then the members')
  for (const [seq, sender] of [[2, 1], [3, 2], [4, 1]] as const) {
    writer.add(summary(7, seq, sender))
    await sleep(20)
  }
  t.equal(writes.length, 3, 'the next ones wait')
  await sleep(250)
  t.equal(writes[3], 'last 7 4', 'then the newest last message')
  t.same(writes.slice(4).sort(), ['mark 7 1 4', 'mark 7 2 3'], 'and each sender\'s newest mark, once (both sent: no touch)')

  writer.add(summary(7, 5, 2))
  await sleep(20)
  t.equal(writes.length, 6, 'waiting again')
  await writer.settled()
  t.same(writes.slice(6), ['last 7 5', 'mark 7 2 5', 'touch 7 1'], 'a reader on the replica has it written at once')
  writer.add(summary(7, 6, 2))
  await writer.drain()
  t.same(writes.slice(9), ['last 7 6', 'mark 7 2 6', 'touch 7 1'], 'and so has shutdown')
})

t.test('a waiting last message is written as edits and deletions left it', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  const changed = new Map<string, string | null>()
  const amendments = {
    edited: async (c: number, id: number, content: string) => { changed.set(`${c}:${id}`, content) },
    deleted: async (c: number, id: number) => { changed.set(`${c}:${id}`, null) },
    amend: async (c: number, last: LastMessage) => {
      const change = changed.get(`${c}:${last.id}`)
      if (change === undefined) return last
      return change === null ? null : { ...last, content: change }
    },
  } as unknown as LastMessageAmendments
  const contents: string[] = []
  const recording = Object.create(conversations) as ConversationStore & { recordLast: ConversationStore['recordLast'] }
  recording.recordLast = async (id, last) => {
    writes.push(`last ${id} ${last.seq}`)
    contents.push(last.content)
  }
  const writer = new SummaryWriter(recording, messages, locks, logger, { everyMs: 60_000, amendments })
  writer.add(summary(7, 1))
  writer.add(summary(8, 1))
  await writer.settled()
  writer.add(summary(7, 2))
  writer.add(summary(8, 2))
  await writer.messageChanged(7, 102, 'm2, edited')
  await writer.messageChanged(8, 102, null)
  await writer.drain()
  t.same(writes.filter((w) => w.startsWith('last')).sort(), ['last 7 1', 'last 7 2', 'last 8 1'], 'the deleted one is not written')
  t.ok(contents.includes('m2, edited'), 'the edited one with its new content')
  t.notOk(contents.includes('m2'), 'never the old content')
})

t.test('with no interval, every flush writes the whole summary', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  const writer = new SummaryWriter(conversations, messages, locks, logger, { everyMs: 0 })
  for (const seq of [1, 2]) {
    writer.add(summary(7, seq))
    await writer.settled()
  }
  t.same(writes, ['last 7 1', 'mark 7 1 1', 'touch 7 2', 'last 7 2', 'mark 7 1 2', 'touch 7 2'])
})

t.test('a room\'s members are written at most once per interval; later activity waits for its turn', async (t) => {
  const { writes, conversations, locks, messages } = fakeStores()
  const writer = new SummaryWriter(conversations, messages, locks, logger, { everyMs: 200 })
  const roomSummary = (seq: number, sender = 5) => ({ ...summary(40, seq, sender), memberIds: [], room: true })
  writer.add(roomSummary(1))
  await writer.settled()
  t.same(writes.filter((w) => !w.startsWith('last')), ['mark 40 5 1', 'room 40 5'], 'the sender\'s mark, then everyone else\'s activity')
  for (const [seq, sender] of [[2, 5], [3, 6], [4, 5]] as const) {
    writer.add(roomSummary(seq, sender))
    await sleep(20)
  }
  t.equal(writes.filter((w) => !w.startsWith('last')).length, 2, 'the next ones wait')
  await sleep(250)
  const later = writes.filter((w) => !w.startsWith('last')).slice(2)
  t.same(later.slice(0, 2).sort(), ['mark 40 5 4', 'mark 40 6 3'], 'then each sender\'s newest mark')
  t.same(later.slice(2), ['room 40 -1'], 'and one touch for every member')

  writer.add(roomSummary(5))
  await sleep(20)
  t.equal(writes.filter((w) => w.startsWith('room')).length, 2, 'waiting again')
  await writer.settled()
  t.equal(writes.filter((w) => w.startsWith('room')).length, 3, 'a reader on the replica has it written at once')
})
