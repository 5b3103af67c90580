// The message service in-process over the real NATS, Redis and MongoDB-wire
// server, with stub auth (auth.users.get) and contact (contact.blocks.check)
// responders: checks the wiring of the new commands, that room events go out
// once on the room's subject and user events on users' subjects, and that
// requests are validated against the contract. Namespaced by a random NATS
// prefix, database and Redis key prefix, removed afterwards.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { ChatError, Commands, QueueGroups, type UserName } from '@chat/contracts'
import { startServiceUnderTest, type CapturedEvent } from '@chat/runtime/testing'
import { domainEventSettings, publicBase } from '@chat/runtime'
import { buildMessageService } from '../src/app.js'
import { loadMessageConfig } from '../src/config.js'

const known: UserName[] = [1, 2, 3].map((id) => ({ id, username: `u${id}`, nickname: `N${id}` }))
const blocked = new Set<string>()
let blockChecks = 0

const harness = await startServiceUnderTest(t, {
  name: 'message',
  queue: QueueGroups.message,
  configFor: loadMessageConfig,
  setup: (deps, config) => buildMessageService(deps, { maxLength: config.MESSAGE_MAX_LENGTH, fileMaxBytes: config.FILE_MAX_BYTES, publicUrl: publicBase(config.PUBLIC_URL), dedupeTtlSeconds: config.SEND_DEDUPE_TTL_SECONDS, sendQueueLimitMs: config.SEND_QUEUE_LIMIT_MS, sendMaxPending: config.SEND_MAX_PENDING, summaryFlushMs: config.SUMMARY_FLUSH_MS, summaryEveryMs: config.SUMMARY_EVERY_MS, domainEvents: domainEventSettings(config) }),
  stubs: {
    [Commands.auth.getNames]: async (req) => ({ users: known.filter((u) => (req.ids ?? []).includes(u.id)) }),
    [Commands.contact.checkBlocked]: async (req) => {
      blockChecks++
      return { blocked: blocked.has(`${req.blockerId}:${req.blockedId}`) }
    },
  },
})
const { nc, client } = harness
const published = harness.events as Array<CapturedEvent<{ kind: string }>>

async function code (p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return err instanceof ChatError ? err.code : String(err)
  }
}

/** Events published since `mark`, once they have had time to arrive. */
async function since (mark: number): Promise<typeof published> {
  await nc.flush()
  await sleep(100)
  return published.slice(mark)
}

t.test('rooms over NATS: subjects, events and validation', async (t) => {
  const base = client.subjects.base
  let mark = published.length
  const { room } = await client.call(Commands.message.roomCreate, { actorId: 1, name: 'Wired', capacity: 2 })
  t.same((await since(mark)).map((p) => p.subject), [`${base}.evt.user.1.membership.changed`])

  mark = published.length
  const joined = await client.call(Commands.message.roomJoin, { actorId: 2, roomId: room.id })
  t.equal(joined.joined, true)
  const joinEvents = await since(mark)
  t.same(joinEvents.map((p) => p.subject).sort(), [`${base}.evt.room.${room.id}.member.joined`, `${base}.evt.user.2.membership.changed`].sort())
  t.match(joinEvents.find((p) => p.event.kind === 'member.joined')?.event, { roomId: room.id, userId: 2, username: 'u2', nickname: 'N2' })
  t.equal(await code(client.call(Commands.message.roomJoin, { actorId: 3, roomId: room.id })), 'CHAT_ROOM_FULL')
  t.same(await client.call(Commands.message.roomMemberships, { actorId: 2 }), { roomIds: [room.id] })

  mark = published.length
  const checks = blockChecks
  const sent = await client.call(Commands.message.send, { actorId: 1, conversationId: room.id, kind: 'text', content: 'hi room' })
  const sendEvents = await since(mark)
  t.same(sendEvents.filter((p) => p.event.kind === 'message.new').map((p) => p.subject), [`${base}.evt.room.${room.id}.message.new`], 'once, on the room subject')
  t.equal(blockChecks, checks, 'rooms are not block-checked')

  mark = published.length
  await client.call(Commands.message.typing, { actorId: 2, conversationId: room.id, typing: true })
  await client.call(Commands.message.read, { actorId: 2, conversationId: room.id })
  const after = await since(mark)
  t.ok(after.some((p) => p.subject === `${base}.evt.room.${room.id}.typing`))
  t.ok(after.some((p) => p.subject === `${base}.evt.user.1.message.read`), 'the sender gets a receipt')

  const list = await client.call(Commands.message.listConversations, { actorId: 2 })
  t.match(list.conversations, [{ conversationId: room.id, kind: 'room', name: 'Wired', lastMessage: { id: sent.message.id } }])
  t.equal((await client.call(Commands.message.roomList, { actorId: 3, scope: 'public' })).rooms.length, 1)
  t.equal((await client.call(Commands.message.roomMembers, { actorId: 3, roomId: room.id })).members.length, 2)

  // The contract is enforced at the service too.
  t.equal(await code(client.call(Commands.message.roomCreate, { actorId: 1, name: '' })), 'CHAT_BAD_REQUEST')
  t.equal(await code(client.call(Commands.message.roomList, { actorId: 1, scope: 'everything' } as never)), 'CHAT_BAD_REQUEST')
  t.equal(await code(client.call(Commands.message.listConversations, { actorId: 1, cursor: { $gt: '' } } as never)), 'CHAT_BAD_REQUEST')

  mark = published.length
  t.equal(await code(client.call(Commands.message.roomDelete, { actorId: 2, roomId: room.id })), 'CHAT_FORBIDDEN')
  t.same(await client.call(Commands.message.roomDelete, { actorId: 1, roomId: room.id }), {})
  const gone = await since(mark)
  t.ok(gone.some((p) => p.subject === `${base}.evt.room.${room.id}.room.deleted`))
  t.same(gone.filter((p) => p.event.kind === 'membership.changed').map((p) => p.subject).sort(),
    [`${base}.evt.user.1.membership.changed`, `${base}.evt.user.2.membership.changed`])
})

t.test('direct messages ask contact whether the sender is blocked', async (t) => {
  const base = client.subjects.base
  const checks = blockChecks
  const first = await client.call(Commands.message.send, { actorId: 1, peerId: 2, kind: 'text', content: 'hello' })
  t.equal(blockChecks, checks + 1)
  blocked.add('2:1')
  t.equal(await code(client.call(Commands.message.send, { actorId: 1, peerId: 2, kind: 'text', content: 'again' })), 'CHAT_BLOCKED')
  blocked.delete('2:1')

  let mark = published.length
  const edited = await client.call(Commands.message.edit, { actorId: 1, messageId: first.message.id, content: 'hello!' })
  t.ok(edited.message.editedAt)
  t.same((await since(mark)).map((p) => p.subject).sort(), [`${base}.evt.user.1.message.edited`, `${base}.evt.user.2.message.edited`])

  mark = published.length
  t.same(await client.call(Commands.message.deleteConversation, { actorId: 2, peerId: 1 }), { conversationId: first.message.conversationId, peerId: 1 })
  const deleted = (await since(mark)).filter((p) => p.event.kind === 'conversation.deleted').map((p) => p.subject).sort()
  t.same(deleted, [`${base}.evt.user.1.conversation.deleted`, `${base}.evt.user.2.conversation.deleted`])
})
