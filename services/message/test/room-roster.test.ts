/**
 * Rooms' member ids cached in Redis (src/room-roster.ts), against the real
 * Redis and MongoDB-wire server: a room's sends read the members once, not
 * per message; joins, leaves and deletions are seen at once; a read from
 * before a change is never stored after it; Redis failing means MongoDB
 * answers.
 */
import t from 'tap'
import { CacheFallback, createLogger, Registry } from '@chat/runtime'
import { RoomRoster } from '../src/room-roster.js'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('roster')
t.teardown(() => fx.close())
const { main, user } = fx
const { chat, rooms } = main
const logger = createLogger('roster-test', 'silent')

/** A roster over the fixture's Redis whose MongoDB reads are counted (and can be held). */
function countedRoster () {
  const reads: number[] = []
  let gate: Promise<void> | undefined
  const source = async (roomId: number) => {
    reads.push(roomId)
    const ids = await main.ports.conversations.memberIdsOf({ _id: roomId, kind: 'room', memberIds: [] })
    if (gate) await gate
    return ids
  }
  const roster = new RoomRoster(main.redis, source, new CacheFallback({ logger, registry: new Registry() }))
  return { roster, reads, hold (until: Promise<void>) { gate = until } }
}

t.test('a room\'s members are read from MongoDB once, then from Redis', async (t) => {
  const [owner, a] = [user(), user()]
  const room = (await rooms.create({ actorId: owner, name: 'cached' })).room
  await rooms.join({ actorId: a, roomId: room.id })
  const { roster, reads } = countedRoster()
  t.same((await roster.memberIds(room.id)).sort(), [owner, a].sort())
  for (let i = 0; i < 5; i++) t.same((await roster.memberIds(room.id)).sort(), [owner, a].sort())
  t.ok(await roster.has(room.id, a))
  t.notOk(await roster.has(room.id, user()))
  t.equal(reads.length, 1, 'one MongoDB read')
  t.same(await roster.memberIds(room.id + 1_000_000), [], 'no such room: no members')
})

t.test('joins and leaves are seen by the next send, on any replica', async (t) => {
  const replica = await fx.replica()
  const [owner, a, b] = [user(), user(), user()]
  const room = (await rooms.create({ actorId: owner, name: 'churn' })).room
  await rooms.join({ actorId: a, roomId: room.id })
  await chat.send({ actorId: a, conversationId: room.id, kind: 'text', content: 'cached now' })

  await replica.rooms.leave({ actorId: a, roomId: room.id })
  t.equal(await code(chat.send({ actorId: a, conversationId: room.id, kind: 'text', content: 'gone' })), 'CHAT_NOT_MEMBER', 'left on another replica')
  t.notOk((await main.ports.roster.memberIds(room.id)).includes(a))

  t.equal(await code(chat.send({ actorId: b, conversationId: room.id, kind: 'text', content: 'not yet' })), 'CHAT_NOT_MEMBER')
  await replica.rooms.join({ actorId: b, roomId: room.id })
  const sent = await chat.send({ actorId: b, conversationId: room.id, kind: 'text', content: 'joined' })
  t.equal(sent.duplicate, false, 'joined on another replica: may send at once')
  t.ok((await main.ports.roster.memberIds(room.id)).includes(b))

  await rooms.delete({ actorId: owner, roomId: room.id })
  t.equal(await code(chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'deleted' })), 'CHAT_CONVERSATION_NOT_FOUND')
})

t.test('a read from before a change is not stored after it', async (t) => {
  const [owner, a] = [user(), user()]
  const room = (await rooms.create({ actorId: owner, name: 'race' })).room
  const { roster, hold } = countedRoster()
  let release!: () => void
  hold(new Promise<void>((resolve) => { release = resolve }))
  const stale = roster.memberIds(room.id) // reads [owner], then waits with its lease
  await new Promise((resolve) => setTimeout(resolve, 50))
  await rooms.join({ actorId: a, roomId: room.id }) // MongoDB, then the roster's keys deleted
  release()
  t.same(await stale, [owner], 'the slow reader answers what it read')
  hold(Promise.resolve())
  t.same((await roster.memberIds(room.id)).sort(), [owner, a].sort(), 'but did not store it')
})

t.test('Redis failing: MongoDB answers', async (t) => {
  const [owner, a] = [user(), user()]
  const room = (await rooms.create({ actorId: owner, name: 'no redis' })).room
  await rooms.join({ actorId: a, roomId: room.id })
  const reads: number[] = []
  const broken = { evalsha: async () => { throw new Error('redis down') }, eval: async () => { throw new Error('redis down') } }
  const roster = new RoomRoster(broken as never, async (roomId) => {
    reads.push(roomId)
    return main.ports.conversations.memberIdsOf({ _id: roomId, kind: 'room', memberIds: [] })
  }, new CacheFallback({ logger, registry: new Registry() }))
  t.same((await roster.memberIds(room.id)).sort(), [owner, a].sort())
  t.ok(await roster.has(room.id, a))
  t.ok(reads.length >= 2, 'from MongoDB each time')
})
