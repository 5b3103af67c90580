/**
 * Room visits (message.room.enter / message.room.exit, the `rooms` API's
 * sockets) against the real MongoDB-wire server and Redis, over two service
 * replicas: entering joins, the last exit of the visits that joined leaves,
 * members of their own accord stay, capacity and private rooms hold.
 */
import t from 'tap'
import type { RoomEvent } from '@chat/contracts'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('visits')
t.teardown(() => fx.close())
const { world, main } = fx
const other = await fx.replica()

const memberIds = async (roomId: number, actorId: number) =>
  (await main.rooms.members({ actorId, roomId })).members.map((m) => m.userId)

const memberEvents = (since: number, roomId: number) => world.roomEvents.slice(since)
  .filter((e): e is Extract<RoomEvent, { kind: 'member.joined' | 'member.left' }> => (e.kind === 'member.joined' || e.kind === 'member.left') && e.roomId === roomId)
  .map((e) => `${e.kind}:${e.userId}`)

t.test('entering joins; the last exit leaves; events on the way', async (t) => {
  const owner = fx.user()
  const guest = fx.user()
  const { room } = await main.rooms.create({ actorId: owner, name: 'Lobby' })
  const mark = world.roomEvents.length

  const first = await main.rooms.enter({ actorId: guest, roomId: room.id, visitId: 'gw-a:1' })
  t.equal(first.joined, true)
  const second = await other.rooms.enter({ actorId: guest, roomId: room.id, visitId: 'gw-b:7' })
  t.equal(second.joined, false, 'a second socket, on another gateway, finds a member')
  t.same(await memberIds(room.id, owner), [owner, guest])

  t.same(await other.rooms.exit({ actorId: guest, roomId: room.id, visitId: 'gw-a:1' }), { left: false }, 'one visit is left')
  t.same(await memberIds(room.id, owner), [owner, guest])
  t.same(await main.rooms.exit({ actorId: guest, roomId: room.id, visitId: 'gw-b:7' }), { left: true })
  t.same(await memberIds(room.id, owner), [owner])
  t.same(memberEvents(mark, room.id), [`member.joined:${guest}`, `member.left:${guest}`])

  t.same(await main.rooms.exit({ actorId: guest, roomId: room.id, visitId: 'gw-b:7' }), { left: false }, 'ending a visit twice changes nothing')
  t.same(await main.rooms.exit({ actorId: guest, roomId: room.id, visitId: 'gw-z:1' }), { left: false }, 'an unknown visit changes nothing')
})

t.test('members of their own accord stay members', async (t) => {
  const owner = fx.user()
  const member = fx.user()
  const { room } = await main.rooms.create({ actorId: owner, name: 'Club' })
  await main.rooms.join({ actorId: member, roomId: room.id })

  t.equal((await main.rooms.enter({ actorId: member, roomId: room.id, visitId: 'gw-a:2' })).joined, false)
  t.same(await main.rooms.exit({ actorId: member, roomId: room.id, visitId: 'gw-a:2' }), { left: false })
  t.equal((await main.rooms.enter({ actorId: owner, roomId: room.id, visitId: 'gw-a:3' })).joined, false)
  t.same(await main.rooms.exit({ actorId: owner, roomId: room.id, visitId: 'gw-a:3' }), { left: false })
  t.same(await memberIds(room.id, owner), [owner, member])
})

t.test('a visit that made a member, then a leave through another API', async (t) => {
  const owner = fx.user()
  const guest = fx.user()
  const { room } = await main.rooms.create({ actorId: owner, name: 'Hall' })
  await main.rooms.enter({ actorId: guest, roomId: room.id, visitId: 'gw-a:4' })
  await main.rooms.leave({ actorId: guest, roomId: room.id })
  t.same(await main.rooms.exit({ actorId: guest, roomId: room.id, visitId: 'gw-a:4' }), { left: false }, 'already left: no error')
})

t.test('a full room and a private room refuse entry and keep no visit', async (t) => {
  const owner = fx.user()
  const guest = fx.user()
  const late = fx.user()
  const full = await main.rooms.create({ actorId: owner, name: 'Tiny', capacity: 2 })
  await main.rooms.enter({ actorId: guest, roomId: full.room.id, visitId: 'gw-a:5' })
  t.equal(await code(other.rooms.enter({ actorId: late, roomId: full.room.id, visitId: 'gw-b:5' })), 'CHAT_ROOM_FULL')
  t.same(await memberIds(full.room.id, owner), [owner, guest])
  t.same(await main.rooms.exit({ actorId: late, roomId: full.room.id, visitId: 'gw-b:5' }), { left: false }, 'the refused visit left nothing behind')
  // The guest's exit frees the seat for the late one.
  t.same(await main.rooms.exit({ actorId: guest, roomId: full.room.id, visitId: 'gw-a:5' }), { left: true })
  t.equal((await other.rooms.enter({ actorId: late, roomId: full.room.id, visitId: 'gw-b:6' })).joined, true)

  const secret = await main.rooms.create({ actorId: owner, name: 'Secret', visibility: 'private' })
  t.equal(await code(main.rooms.enter({ actorId: guest, roomId: secret.room.id, visitId: 'gw-a:6' })), 'CHAT_FORBIDDEN')
  t.equal(await code(main.rooms.enter({ actorId: guest, roomId: 987654321, visitId: 'gw-a:7' })), 'CHAT_CONVERSATION_NOT_FOUND')
})

t.test('concurrent enters and exits on two replicas settle on the visits left', async (t) => {
  const owner = fx.user()
  const guest = fx.user()
  const { room } = await main.rooms.create({ actorId: owner, name: 'Busy' })
  const visits = Array.from({ length: 6 }, (_, i) => `gw-${i % 2}:${100 + i}`)
  const replicas = [main, other]
  await Promise.all(visits.map((visitId, i) => replicas[i % 2]!.rooms.enter({ actorId: guest, roomId: room.id, visitId })))
  t.same(await memberIds(room.id, owner), [owner, guest])
  // All but one end at once: still a member.
  const results = await Promise.all(visits.slice(1).map((visitId, i) => replicas[i % 2]!.rooms.exit({ actorId: guest, roomId: room.id, visitId })))
  t.same(results.filter((r) => r.left), [])
  t.same(await memberIds(room.id, owner), [owner, guest])
  t.same(await other.rooms.exit({ actorId: guest, roomId: room.id, visitId: visits[0]! }), { left: true })
  t.same(await memberIds(room.id, owner), [owner])
})

t.test('a direct conversation is entered by its two members only, never joined', async (t) => {
  const a = fx.user()
  const b = fx.user()
  const stranger = fx.user()
  const { message } = await main.chat.send({ actorId: a, peerId: b, kind: 'text', content: 'hi' })
  const id = message.conversationId
  t.same(await main.rooms.enter({ actorId: b, roomId: id, visitId: 'gw-a:20' }), { conversationId: id, kind: 'direct', joined: false })
  t.same(await main.rooms.exit({ actorId: b, roomId: id, visitId: 'gw-a:20' }), { left: false })
  t.equal(await code(main.rooms.enter({ actorId: stranger, roomId: id, visitId: 'gw-a:21' })), 'CHAT_NOT_MEMBER')
  // Still a conversation of exactly those two.
  t.same((await main.chat.history({ actorId: b, conversationId: id })).messages.map((m) => m.content), ['hi'])
  t.equal(await code(main.chat.history({ actorId: stranger, conversationId: id })), 'CHAT_NOT_MEMBER')
})
