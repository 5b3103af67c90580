import t from 'tap'
import { Commands, type Message } from '@chat/contracts'
import { actAs } from '../src/actor.js'
import { historyAt } from '../src/lists.js'
import { scriptedCommands, sessionOf } from './fakes.js'

/** A conversation of `total` messages (seq 1 is the oldest) whose history replies hold at most `fit` messages. */
function history (total: number, fit: number) {
  const message = (seq: number): Message => ({
    id: 1000 + seq, conversationId: 7, seq, senderId: 1, content: `m${seq}`, kind: 'text', createdAt: new Date(seq * 1000).toISOString(),
  } as unknown as Message)
  return scriptedCommands((subject, req) => {
    if (subject !== Commands.message.history) throw new Error(subject)
    // The window after skipping `offset` newest, oldest first, as the service answers.
    const newest = total - req.offset
    const oldest = Math.max(1, newest - req.limit + 1)
    const window = []
    for (let seq = oldest; seq <= newest; seq++) window.push(message(seq))
    // Over the byte budget the service keeps a page's newest messages.
    const kept = window.slice(-fit)
    return { conversationId: 7, messages: kept, hasMore: oldest > 1 || kept.length < window.length }
  })
}

const seqs = (r: { messages: Message[] }) => r.messages.map((m) => m.seq)

t.test('historyAt fills a page the service had to cut short', async (t) => {
  const { commands, calls } = history(50, 3)
  const actor = actAs(commands, sessionOf(1))
  const page = await historyAt(actor, { peerId: 2 }, 10, 8)
  t.same(seqs(page), [33, 34, 35, 36, 37, 38, 39, 40], 'the whole page, oldest first, nothing skipped')
  t.same(calls.map((c) => [c.req.offset, c.req.limit]), [[10, 8], [13, 5], [16, 2]])
  t.ok(calls.every((c) => c.req.actorId === 1 && c.req.peerId === 2), 'as the actor, for the same target')
  t.same(seqs(await historyAt(actor, { conversationId: 7 }, 18, 8)), [25, 26, 27, 28, 29, 30, 31, 32], 'the next page follows on')
})

t.test('historyAt stops at the start of the history', async (t) => {
  const { commands, calls } = history(5, 2)
  const actor = actAs(commands, sessionOf(1))
  t.same(seqs(await historyAt(actor, { conversationId: 7 }, 0, 20)), [1, 2, 3, 4, 5])
  t.equal(calls.length, 3)
  const past = await historyAt(actor, { conversationId: 7 }, 10, 20)
  t.same(past.messages, [], 'beyond the oldest message: empty, in one request')
})

t.test('historyAt asks once when the reply is whole', async (t) => {
  const { commands, calls } = history(500, 100)
  t.same(seqs(await historyAt(actAs(commands, sessionOf(1)), { peerId: 2 }, 0, 100)).length, 100)
  t.equal(calls.length, 1)
})
