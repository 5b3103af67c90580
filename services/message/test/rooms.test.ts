/**
 * Rooms against the real MongoDB-wire server and Redis: authorization,
 * capacity under concurrent joins from two replicas, membership events, room
 * messages (one event, one Redis round trip for every member's unread
 * count) and history/read/sync/unread through room membership.
 */
import t from 'tap'
import type { MembershipChangedEvent, RoomEvent } from '@chat/contracts'
import { memberKey } from '../src/keys.js'
import { unreadKey } from '../src/unread.js'
import { RoomService } from '../src/room-service.js'
import { RoomVisits } from '../src/visits.js'
import { code, counts, createFixture, spyRedis } from './fixtures/world.js'

const fx = await createFixture('rooms')
t.teardown(() => fx.close())
const { world, main } = fx
const { chat, rooms } = main

function roomEventsSince (mark: number): RoomEvent[] {
  return world.roomEvents.slice(mark)
}

function membershipEvents (since: number): Array<Pick<MembershipChangedEvent, 'userId' | 'roomId' | 'member'>> {
  return world.events.slice(since).filter((e) => e.kind === 'membership.changed')
    .map((e) => ({ userId: e.userId, roomId: (e as MembershipChangedEvent).roomId, member: (e as MembershipChangedEvent).member }))
}

t.test('create, get and the owner as first member', async (t) => {
  const owner = fx.user()
  const other = fx.user()
  const mark = world.events.length
  const { room } = await rooms.create({ actorId: owner, name: 'Lobby', capacity: 10, geolocation: { latitude: 48.85, longitude: 2.35 } })
  t.match(room, { name: 'Lobby', ownerId: owner, capacity: 10, geolocation: { latitude: 48.85, longitude: 2.35 }, visibility: 'public', memberCount: 1 })
  t.ok(Number.isSafeInteger(room.id))
  t.same(membershipEvents(mark), [{ userId: owner, roomId: room.id, member: true }], 'the owner\'s gateways subscribe')
  t.same((await rooms.members({ actorId: owner, roomId: room.id })).members.map((m) => m.userId), [owner])
  t.same((await rooms.get({ actorId: other, roomId: room.id })).room, room, 'a public room is visible to anyone')

  const open = await rooms.create({ actorId: owner, name: 'Open' })
  t.equal(open.room.capacity, null)
  t.equal(open.room.geolocation, null)
  t.equal(await main.rooms.memberships({ actorId: owner }).then((r) => r.roomIds.includes(open.room.id)), true)

  const secret = await rooms.create({ actorId: owner, name: 'Secret', visibility: 'private' })
  t.equal(await code(rooms.get({ actorId: other, roomId: secret.room.id })), 'CHAT_NOT_MEMBER')
  t.equal(await code(rooms.members({ actorId: other, roomId: secret.room.id })), 'CHAT_NOT_MEMBER')
  t.equal((await rooms.get({ actorId: owner, roomId: secret.room.id })).room.visibility, 'private')

  t.equal(await code(rooms.get({ actorId: owner, roomId: 987654321 })), 'CHAT_CONVERSATION_NOT_FOUND')
  const direct = await chat.send({ actorId: owner, peerId: other, kind: 'text', content: 'hi' })
  t.equal(await code(rooms.get({ actorId: owner, roomId: direct.message.conversationId })), 'CHAT_CONVERSATION_NOT_FOUND', 'a direct conversation is not a room')
  t.equal(await code(rooms.join({ actorId: owner, roomId: direct.message.conversationId })), 'CHAT_CONVERSATION_NOT_FOUND')
})

t.test('join and leave: idempotence, private rooms, events', async (t) => {
  const owner = fx.user()
  const alice = fx.user()
  const bob = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Club' })
  const mark = world.events.length
  const rmark = world.roomEvents.length
  const joined = await rooms.join({ actorId: alice, roomId: room.id })
  t.equal(joined.joined, true)
  t.equal(joined.member.userId, alice)
  t.equal(joined.room.memberCount, 2)
  const again = await rooms.join({ actorId: alice, roomId: room.id })
  t.equal(again.joined, false, 'joining twice is fine')
  t.equal(again.member.joinedAt, joined.member.joinedAt)
  t.same(membershipEvents(mark), [{ userId: alice, roomId: room.id, member: true }], 'one membership event')
  const joinedEvents = roomEventsSince(rmark)
  t.equal(joinedEvents.length, 1)
  t.match(joinedEvents[0], { kind: 'member.joined', roomId: room.id, userId: alice, username: `user${alice}`, nickname: `Nick ${alice}` })

  t.equal(await code(rooms.leave({ actorId: bob, roomId: room.id })), 'CHAT_NOT_MEMBER')
  t.equal(await code(rooms.leave({ actorId: bob, roomId: 424242 })), 'CHAT_CONVERSATION_NOT_FOUND')
  const lmark = world.events.length
  const lrmark = world.roomEvents.length
  t.same(await rooms.leave({ actorId: alice, roomId: room.id }), {})
  t.same(membershipEvents(lmark), [{ userId: alice, roomId: room.id, member: false }])
  t.match(roomEventsSince(lrmark), [{ kind: 'member.left', roomId: room.id, userId: alice, username: `user${alice}` }])
  t.equal(await code(rooms.leave({ actorId: alice, roomId: room.id })), 'CHAT_NOT_MEMBER', 'leaving twice')
  t.equal((await rooms.get({ actorId: alice, roomId: room.id })).room.memberCount, 1)

  // The owner may leave; the room stays, and the owner may come back.
  await rooms.leave({ actorId: owner, roomId: room.id })
  t.equal((await rooms.get({ actorId: bob, roomId: room.id })).room.ownerId, owner)
  t.same((await rooms.members({ actorId: bob, roomId: room.id })).members, [])
  t.equal((await rooms.join({ actorId: owner, roomId: room.id })).joined, true)

  const secret = await rooms.create({ actorId: owner, name: 'Secret', visibility: 'private' })
  t.equal(await code(rooms.join({ actorId: bob, roomId: secret.room.id })), 'CHAT_FORBIDDEN', 'no invitations yet')
  t.equal((await rooms.join({ actorId: owner, roomId: secret.room.id })).joined, false, 'the owner already is a member')
  await rooms.leave({ actorId: owner, roomId: secret.room.id })
  t.equal((await rooms.join({ actorId: owner, roomId: secret.room.id })).joined, true, 'the owner may come back')
})

t.test('capacity holds under concurrent joins from two replicas', async (t) => {
  const other = await fx.replica()
  const owner = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Tiny', capacity: 5 })
  const joiners = Array.from({ length: 36 }, () => fx.user())
  const rmark = world.roomEvents.length
  const results = await Promise.all(joiners.map((actorId, i) => {
    const replica = i % 2 === 0 ? main : other
    return replica.rooms.join({ actorId, roomId: room.id }).then((r) => (r.joined ? 'joined' : 'again'), (err: { code?: string }) => err.code ?? String(err))
  }))
  t.equal(results.filter((r) => r === 'joined').length, 4, 'the owner holds one of the 5 seats')
  t.equal(results.filter((r) => r === 'CHAT_ROOM_FULL').length, 32, 'everyone else is refused')
  const members = (await rooms.members({ actorId: owner, roomId: room.id })).members
  t.equal(members.length, 5, 'exactly capacity members')
  t.equal(await main.ports.rooms.seats.countDocuments({ roomId: room.id }), 5, 'one seat each')
  const winners = new Set(joiners.filter((_, i) => results[i] === 'joined'))
  t.same(new Set(members.map((m) => m.userId)), new Set([owner, ...winners]))
  const losers = joiners.filter((u) => !winners.has(u))
  t.equal(await main.ports.conversations.members.countDocuments({ _id: { $in: losers.map((u) => memberKey(room.id, u)) } }), 0, 'nothing changed for the refused')
  t.equal(roomEventsSince(rmark).filter((e) => e.kind === 'member.joined').length, 4)
  // The displayed count is a recount per change; racing recounts may leave it
  // one change behind on a server without atomic updates, never above capacity.
  const shown = (await rooms.get({ actorId: owner, roomId: room.id })).room.memberCount
  t.ok(shown >= 1 && shown <= 5, `memberCount ${shown} within 1..5`)

  // A leave frees exactly one seat, again under contention.
  const leaver = [...winners][0] as number
  await other.rooms.leave({ actorId: leaver, roomId: room.id })
  t.equal((await rooms.get({ actorId: owner, roomId: room.id })).room.memberCount, 4, 'a quiet change recounts exactly')
  const second = await Promise.all(losers.slice(0, 12).map((actorId, i) => (i % 2 ? main : other).rooms.join({ actorId, roomId: room.id })
    .then(() => 'joined', (err: { code?: string }) => err.code ?? String(err))))
  t.equal(second.filter((r) => r === 'joined').length, 1, 'one freed seat, one joiner')
  t.equal((await rooms.members({ actorId: owner, roomId: room.id })).members.length, 5)
  t.equal(await main.ports.rooms.seats.countDocuments({ roomId: room.id }), 5)

  // The same user joining concurrently on both replicas is one membership and one seat.
  const roomy = await rooms.create({ actorId: owner, name: 'Roomy', capacity: 3 })
  const twin = fx.user()
  const twice = await Promise.all([main.rooms.join({ actorId: twin, roomId: roomy.room.id }), other.rooms.join({ actorId: twin, roomId: roomy.room.id })])
  t.same(twice.map((r) => r.joined).sort(), [false, true])
  t.equal(await main.ports.rooms.seats.countDocuments({ roomId: roomy.room.id }), 2)
})

t.test('a seat left by a crashed join is taken back after the grace period', async (t) => {
  const quick = await fx.replica({ orphanGraceMs: 0 })
  const owner = fx.user()
  const { room } = await quick.rooms.create({ actorId: owner, name: 'Crashy', capacity: 2 })
  const ghost = fx.user()
  // A join that claimed seat 2 and died before its membership was stored.
  await quick.ports.rooms.seats.insertOne({ _id: `${room.id}:2`, roomId: room.id, slot: 2, userId: ghost, claim: 1, at: new Date(Date.now() - 1000) })
  const late = fx.user()
  t.equal(await code(main.rooms.join({ actorId: late, roomId: room.id })), 'CHAT_ROOM_FULL', 'within the grace period the seat still counts')
  t.equal((await quick.rooms.join({ actorId: late, roomId: room.id })).joined, true, 'after it, the orphan seat is reused')
  t.equal(await main.ports.rooms.seats.countDocuments({ roomId: room.id }), 2)
  t.equal(await code(quick.rooms.join({ actorId: fx.user(), roomId: room.id })), 'CHAT_ROOM_FULL', 'a member\'s seat is never taken')
})

t.test('room.list: mine, public, visible, newest first, paged', async (t) => {
  const me = fx.user()
  const them = fx.user()
  const mine1 = (await rooms.create({ actorId: me, name: 'm1' })).room
  const theirPublic = (await rooms.create({ actorId: them, name: 't1' })).room
  const myPrivate = (await rooms.create({ actorId: me, name: 'm2', visibility: 'private' })).room
  const theirPrivate = (await rooms.create({ actorId: them, name: 't2', visibility: 'private' })).room
  const joinedPublic = (await rooms.create({ actorId: them, name: 't3' })).room
  await rooms.join({ actorId: me, roomId: joinedPublic.id })

  const mine = await rooms.list({ actorId: me, scope: 'mine' })
  t.same(mine.rooms.map((r) => r.id), [joinedPublic.id, myPrivate.id, mine1.id])
  t.equal(mine.hasMore, false)

  const visible = (await rooms.list({ actorId: me, scope: 'visible', limit: 200 })).rooms.map((r) => r.id)
  for (const id of [mine1.id, theirPublic.id, myPrivate.id, joinedPublic.id]) t.ok(visible.includes(id))
  t.notOk(visible.includes(theirPrivate.id), 'others\' private rooms stay hidden')
  t.same(visible, [...visible].sort((a, b) => b - a), 'newest first')
  t.equal(new Set(visible).size, visible.length, 'a public room I joined is listed once')

  const pub = (await rooms.list({ actorId: me, scope: 'public', limit: 200 })).rooms.map((r) => r.id)
  t.notOk(pub.includes(myPrivate.id))
  t.ok(pub.includes(theirPublic.id))

  const p1 = await rooms.list({ actorId: me, scope: 'visible', limit: 2 })
  t.same(p1.rooms.map((r) => r.id), visible.slice(0, 2))
  t.equal(p1.hasMore, true)
  const p2 = await rooms.list({ actorId: me, scope: 'visible', limit: 2, beforeId: p1.rooms[1]!.id })
  t.same(p2.rooms.map((r) => r.id), visible.slice(2, 4))
  const m2 = await rooms.list({ actorId: me, scope: 'mine', limit: 1, beforeId: myPrivate.id })
  t.same(m2.rooms.map((r) => r.id), [mine1.id])
})

t.test('room messages: stored once, published once, every member counted in one round trip', async (t) => {
  const owner = fx.user()
  const members = Array.from({ length: 6 }, () => fx.user())
  const outsider = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Chatty' })
  for (const u of members) await rooms.join({ actorId: u, roomId: room.id })
  // Every member has a complete unread hash, as they would after logging in.
  for (const u of [owner, ...members]) await chat.unreadCounts({ actorId: u })
  // The joins' summaries written first: their locks are no part of the send.
  await main.ports.summaries.settled()

  const checks = world.blockChecks
  const spy = spyRedis(main.redis)
  const mark = world.events.length
  const rmark = world.roomEvents.length
  const sent = await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'hello room', originConnectionId: 'gw:1' })
  const calls = spy.calls()
  spy.restore()
  t.equal(sent.message.conversationId, room.id)
  t.equal(sent.message.recipientId, undefined, 'no recipient in a room')
  t.equal(world.blockChecks, checks, 'no block check for rooms')
  t.equal(calls.pipeline, 2, 'the deletion mark, then one pipeline for all members\' counts')
  // Per message (admission, numbering, the roster read and filled once), never per member.
  t.ok((calls.evalsha ?? 0) + (calls.eval ?? 0) <= 6, 'no per-member script call')
  t.ok((calls.hmget ?? 0) <= 2, 'the room\'s kind and the sender\'s own peek besides')

  const published = roomEventsSince(rmark)
  t.same(published, [{
    kind: 'message.new',
    roomId: room.id,
    message: sent.message,
    originConnectionId: 'gw:1',
    unread: Object.fromEntries(members.map((u) => [String(u), 1])),
  }], 'one event on the room subject, carrying every other member\'s new count')
  const userEvents = world.events.slice(mark)
  t.same(userEvents, [], 'no event per member')

  await chat.send({ actorId: members[0]!, conversationId: room.id, kind: 'text', content: 'hi all' })
  t.same(counts(await chat.unreadCounts({ actorId: members[1]! })), { [room.id]: 2 })
  t.same(counts(await chat.unreadCounts({ actorId: owner })), { [room.id]: 1 })
  t.same(counts(await chat.unreadCounts({ actorId: members[0]! })), {}, 'sending read everything before')
  // Redis loses it all: the rebuild from MongoDB agrees.
  await Promise.all([owner, ...members].map((u) => main.redis.del(unreadKey(u))))
  t.same(counts(await chat.unreadCounts({ actorId: members[1]! })), { [room.id]: 2 })
  t.same(counts(await chat.unreadCounts({ actorId: owner })), { [room.id]: 1 })

  // A member whose hash is missing is skipped by the increment and rebuilt on use.
  await main.redis.del(unreadKey(members[2]!))
  await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'third' })
  t.same(counts(await chat.unreadCounts({ actorId: members[2]! })), { [room.id]: 3 })

  t.equal(await code(chat.send({ actorId: outsider, conversationId: room.id, kind: 'text', content: 'let me in' })), 'CHAT_NOT_MEMBER')

  // History, sync and read through membership.
  const h = await chat.history({ actorId: members[3]!, conversationId: room.id })
  t.same(h.messages.map((m) => m.content), ['hello room', 'hi all', 'third'])
  t.equal(await code(chat.history({ actorId: outsider, conversationId: room.id })), 'CHAT_NOT_MEMBER')
  const s = await chat.sync({ actorId: members[3]!, cursors: [{ conversationId: room.id, afterSeq: 1 }] })
  t.same(s.conversations[0]!.messages.map((m) => m.content), ['hi all', 'third'])
  t.same(await chat.read({ actorId: members[3]!, conversationId: room.id }), { conversationId: room.id, unread: 0 })
  t.same(counts(await chat.unreadCounts({ actorId: members[3]! })), {})

  // A latecomer starts with nothing unread but sees the history.
  const late = fx.user()
  await rooms.join({ actorId: late, roomId: room.id })
  t.same(counts(await chat.unreadCounts({ actorId: late })), {})
  t.equal((await chat.history({ actorId: late, conversationId: room.id })).messages.length, 3)
  await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'welcome' })
  t.same(counts(await chat.unreadCounts({ actorId: late })), { [room.id]: 1 })

  // Leaving forgets the room's count and membership.
  const lmark = world.events.length
  await rooms.leave({ actorId: late, roomId: room.id })
  t.same(counts(await chat.unreadCounts({ actorId: late })), {})
  t.match(world.events.slice(lmark).filter((e) => e.kind === 'unread.changed'), [{ userId: late, conversationId: room.id, count: 0 }])
  t.equal(await code(chat.history({ actorId: late, conversationId: room.id })), 'CHAT_NOT_MEMBER')
  // A read racing the leave does not make the user a member again.
  await main.ports.conversations.markRead((await main.ports.conversations.byId(room.id))!, late, 99)
  t.equal(await main.ports.conversations.member(room.id, late), null)
})

t.test('room read receipts go to the distinct senders of what was read', async (t) => {
  const owner = fx.user()
  const a = fx.user()
  const b = fx.user()
  const reader = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Receipts' })
  for (const u of [a, b, reader]) await rooms.join({ actorId: u, roomId: room.id })
  await chat.send({ actorId: a, conversationId: room.id, kind: 'text', content: 'a1' })
  await chat.send({ actorId: b, conversationId: room.id, kind: 'text', content: 'b1' })
  const a2 = await chat.send({ actorId: a, conversationId: room.id, kind: 'text', content: 'a2' })
  await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'o1' })

  const mark = world.events.length
  await chat.read({ actorId: reader, messageId: a2.message.id })
  const receipts = world.events.slice(mark).filter((e) => e.kind === 'message.read')
  t.same(receipts.map((e) => e.userId).sort(), [a, b].sort(), 'a and b, not the owner (message after the mark)')
  t.ok(receipts.every((e) => e.kind === 'message.read' && e.readerId === reader && e.seq === a2.message.seq && e.messageId === a2.message.id))

  const mark2 = world.events.length
  await chat.read({ actorId: reader, messageId: a2.message.id })
  t.equal(world.events.slice(mark2).filter((e) => e.kind === 'message.read').length, 0, 'a read that moves nothing sends nothing')
  await chat.read({ actorId: reader, conversationId: room.id })
  const last = world.events.slice(mark2).filter((e) => e.kind === 'message.read')
  t.match(last, [{ userId: owner, readerId: reader, seq: 4 }])
})

t.test('typing in a room and in no room', async (t) => {
  const owner = fx.user()
  const outsider = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Typing' })
  const rmark = world.roomEvents.length
  t.same(await chat.typing({ actorId: owner, conversationId: room.id, typing: true }), {})
  t.same(roomEventsSince(rmark), [{ kind: 'typing', conversationId: room.id, fromUserId: owner, typing: true, roomId: room.id }])
  t.equal(await code(chat.typing({ actorId: outsider, conversationId: room.id, typing: true })), 'CHAT_NOT_MEMBER')
  t.equal(await code(chat.typing({ actorId: outsider, conversationId: 31337, typing: true })), 'CHAT_CONVERSATION_NOT_FOUND')
})

t.test('edit and delete in a room', async (t) => {
  const owner = fx.user()
  const a = fx.user()
  const b = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Edits' })
  for (const u of [a, b]) await rooms.join({ actorId: u, roomId: room.id })
  for (const u of [owner, a, b]) await chat.unreadCounts({ actorId: u })
  const m1 = await chat.send({ actorId: a, conversationId: room.id, kind: 'text', content: 'tpyo' })
  await chat.read({ actorId: owner, conversationId: room.id })

  t.equal(await code(chat.edit({ actorId: b, messageId: m1.message.id, content: 'hijack' })), 'CHAT_FORBIDDEN')
  const rmark = world.roomEvents.length
  const edited = await chat.edit({ actorId: a, messageId: m1.message.id, content: 'typo', originConnectionId: 'gw:9' })
  t.equal(edited.message.content, 'typo')
  t.ok(edited.message.editedAt)
  t.same(roomEventsSince(rmark), [{ kind: 'message.edited', roomId: room.id, message: edited.message, originConnectionId: 'gw:9' }])

  t.equal(await code(chat.deleteMessage({ actorId: b, messageId: m1.message.id })), 'CHAT_FORBIDDEN')
  const dmark = world.events.length
  const drmark = world.roomEvents.length
  t.same(await chat.deleteMessage({ actorId: a, messageId: m1.message.id }), { conversationId: room.id, messageId: m1.message.id })
  t.same(roomEventsSince(drmark), [{ kind: 'message.deleted', conversationId: room.id, messageId: m1.message.id, roomId: room.id }])
  t.match(world.events.slice(dmark).filter((e) => e.kind === 'unread.changed'), [{ userId: b, conversationId: room.id, count: 0 }],
    'only b had it unread (the owner read it, a sent it)')
  t.same(counts(await chat.unreadCounts({ actorId: b })), {})
  t.same((await chat.history({ actorId: b, conversationId: room.id })).messages, [])
})

t.test('room.delete: owner only; members, seats, messages and counts go', async (t) => {
  const owner = fx.user()
  const a = fx.user()
  const b = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Doomed', capacity: 4 })
  for (const u of [a, b]) await rooms.join({ actorId: u, roomId: room.id })
  await chat.unreadCounts({ actorId: b })
  await chat.send({ actorId: a, conversationId: room.id, kind: 'text', content: 'last words' })
  t.same(counts(await chat.unreadCounts({ actorId: b })), { [room.id]: 1 })

  t.equal(await code(rooms.delete({ actorId: a, roomId: room.id })), 'CHAT_FORBIDDEN')
  t.equal(await code(rooms.delete({ actorId: fx.user(), roomId: room.id })), 'CHAT_FORBIDDEN')
  const mark = world.events.length
  const rmark = world.roomEvents.length
  t.same(await rooms.delete({ actorId: owner, roomId: room.id }), {})
  t.same(roomEventsSince(rmark), [{ kind: 'room.deleted', roomId: room.id }])
  t.same(membershipEvents(mark).sort((x, y) => x.userId - y.userId),
    [owner, a, b].sort((x, y) => x - y).map((userId) => ({ userId, roomId: room.id, member: false })))
  // Everyone who had it unread (the owner's and b's counts were built when they joined) is told it is gone.
  t.same(world.events.slice(mark).filter((e) => e.kind === 'unread.changed').map((e) => e.userId).sort((x, y) => x - y),
    [owner, b].sort((x, y) => x - y))
  t.ok(world.events.slice(mark).filter((e) => e.kind === 'unread.changed').every((e) => e.kind === 'unread.changed' && e.count === 0))
  t.same(counts(await chat.unreadCounts({ actorId: b })), {})

  t.equal(await code(rooms.get({ actorId: owner, roomId: room.id })), 'CHAT_CONVERSATION_NOT_FOUND')
  t.equal(await code(rooms.delete({ actorId: owner, roomId: room.id })), 'CHAT_CONVERSATION_NOT_FOUND')
  t.equal(await code(chat.send({ actorId: a, conversationId: room.id, kind: 'text', content: 'anyone?' })), 'CHAT_CONVERSATION_NOT_FOUND')
  t.equal(await main.ports.conversations.members.countDocuments({ conversationId: room.id }), 0)
  t.equal(await main.ports.rooms.seats.countDocuments({ roomId: room.id }), 0)
  t.equal(await main.ports.messages.messages.countDocuments({ conversationId: room.id }), 0)
  t.notOk((await rooms.memberships({ actorId: a })).roomIds.includes(room.id))
})

t.test('send with joinRoom: joins first, after the content is checked', async (t) => {
  const owner = fx.user()
  const guest = fx.user()
  const late = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Walk-in', capacity: 2 })
  const ids = async () => (await rooms.members({ actorId: owner, roomId: room.id })).members.map((m) => m.userId)

  t.equal(await code(chat.send({ actorId: guest, conversationId: room.id, kind: 'text', content: 'no' })), 'CHAT_NOT_MEMBER', 'without it, members only')
  t.equal(await code(chat.send({ actorId: guest, conversationId: room.id, kind: 'text', content: '', joinRoom: true })), 'CHAT_BAD_REQUEST')
  t.equal(await code(chat.send({ actorId: guest, conversationId: room.id, kind: 'location', content: 'not json', joinRoom: true })), 'CHAT_BAD_REQUEST')
  t.same(await ids(), [owner], 'a refused message made nobody a member')

  const sent = await chat.send({ actorId: guest, conversationId: room.id, kind: 'text', content: 'hello', joinRoom: true })
  t.equal(sent.message.conversationId, room.id)
  t.same(await ids(), [owner, guest])
  await chat.send({ actorId: guest, conversationId: room.id, kind: 'text', content: 'again', joinRoom: true })
  t.same(await ids(), [owner, guest], 'joining is idempotent')
  t.equal(await code(chat.send({ actorId: late, conversationId: room.id, kind: 'text', content: 'me too', joinRoom: true })), 'CHAT_ROOM_FULL')
  t.same((await chat.history({ actorId: owner, conversationId: room.id })).messages.map((m) => m.content), ['hello', 'again'])

  const secret = await rooms.create({ actorId: owner, name: 'Secret', visibility: 'private' })
  t.equal(await code(chat.send({ actorId: guest, conversationId: secret.room.id, kind: 'text', content: 'hi', joinRoom: true })), 'CHAT_FORBIDDEN')
})

t.test('room.members pages in joining order, and stops where a reply would overflow', async (t) => {
  const owner = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Crowd' })
  const joiners = Array.from({ length: 6 }, () => fx.user())
  for (const userId of joiners) await rooms.join({ actorId: userId, roomId: room.id })
  const everyone = [owner, ...joiners]

  const all = await rooms.members({ actorId: owner, roomId: room.id })
  t.same(all.members.map((m) => m.userId), everyone)
  t.equal(all.next, null, 'one page holds them all')

  const seen: number[] = []
  let after: string | undefined
  let pages = 0
  do {
    const page: Awaited<ReturnType<typeof rooms.members>> = await rooms.members({ actorId: joiners[0]!, roomId: room.id, limit: 3, ...(after ? { after } : {}) })
    seen.push(...page.members.map((m) => m.userId))
    after = page.next ?? undefined
    pages++
  } while (after !== undefined && pages < 10)
  t.same(seen, everyone, 'pages of 3: every member once, in order')
  t.equal(pages, 3)

  // A member who leaves and comes back goes to the end of the order.
  await rooms.leave({ actorId: joiners[1]!, roomId: room.id })
  await rooms.join({ actorId: joiners[1]!, roomId: room.id })
  const first = await rooms.members({ actorId: owner, roomId: room.id, limit: 2 })
  const rest = await rooms.members({ actorId: owner, roomId: room.id, after: first.next! })
  t.same([...first.members, ...rest.members].map((m) => m.userId), [owner, joiners[0], ...joiners.slice(2), joiners[1]])

  t.equal(await code(rooms.members({ actorId: owner, roomId: room.id, after: 'nonsense' })), 'CHAT_BAD_REQUEST')
  t.equal(await code(rooms.members({ actorId: owner, roomId: room.id, after: '{"$gt":""}' })), 'CHAT_BAD_REQUEST')

  // A tiny reply budget: each page is cut to what fits, and `next` goes on from there.
  const tight = new RoomService(main.ports, new RoomVisits(main.redis), { replyBudgetBytes: 120 })
  const cut = await tight.members({ actorId: owner, roomId: room.id })
  t.ok(cut.members.length >= 1 && cut.members.length < everyone.length, `cut to ${cut.members.length}`)
  t.not(cut.next, null, 'and says there is more')
  const after2 = await rooms.members({ actorId: owner, roomId: room.id, after: cut.next! })
  t.equal(cut.members.length + after2.members.length, everyone.length)
})

t.test('a busy room\'s summaries are written after the answers, coalesced, and end right', async (t) => {
  const owner = fx.user()
  const members = [fx.user(), fx.user(), fx.user()]
  const { room } = await rooms.create({ actorId: owner, name: 'Busy' })
  for (const u of members) await rooms.join({ actorId: u, roomId: room.id })
  await main.ports.summaries.drain()
  const { conversations } = main.ports
  const touches: number[] = []
  const original = conversations.touchRoomMembers.bind(conversations)
  conversations.touchRoomMembers = async (...args) => { touches.push(args[0]); await original(...args) }
  t.teardown(() => { conversations.touchRoomMembers = original })

  const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => chat.send({ actorId: members[i % 3]!, conversationId: room.id, kind: 'text', content: `busy ${i}` })))
  await main.ports.summaries.drain()
  t.ok(touches.length < 20, `the members were touched ${touches.length} times for 20 messages`)
  const newest = sent.reduce((a, b) => (a.message.seq > b.message.seq ? a : b))
  const conv = await conversations.byId(room.id)
  t.equal(conv?.lastMessage?.seq, newest.message.seq, 'the last message is the newest')
  for (const [k, u] of members.entries()) {
    const mine = Math.max(...sent.filter((_, i) => i % 3 === k).map((s) => s.message.seq))
    const doc = await main.db.collection('members').findOne({ _id: memberKey(room.id, u) as never })
    t.ok((doc?.lastReadSeq as number) >= mine, 'each sender\'s read mark covers their last message')
  }
  const ownerDoc = await main.db.collection('members').findOne({ _id: memberKey(room.id, owner) as never })
  t.ok((ownerDoc?.lastActivityAt as Date).getTime() >= new Date(newest.message.createdAt).getTime() - 1, 'a silent member\'s activity moved with the room')
})

t.test('joining reads no history: the room\'s counter comes from Redis', async (t) => {
  const owner = fx.user()
  const late = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Chatty' })
  for (let i = 0; i < 3; i++) await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: `before ${i}` })
  const { messages } = main.ports
  let scans = 0
  const original = messages.latestSeq.bind(messages)
  messages.latestSeq = async (id) => { scans++; return await original(id) }
  t.teardown(() => { messages.latestSeq = original })
  const joined = await rooms.join({ actorId: late, roomId: room.id })
  t.equal(scans, 0, 'no scan of the room\'s messages')
  t.equal(joined.joined, true)
  t.same(counts(await chat.unreadCounts({ actorId: late })), {}, 'what was said before counts as read')
  await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'after' })
  t.same(counts(await chat.unreadCounts({ actorId: late })), { [room.id]: 1 }, 'what is said after is unread')
})

t.test('memberships of logins arriving together: each user gets their own rooms', async (t) => {
  const [u1, u2, u3] = [fx.user(), fx.user(), fx.user()]
  const { room: r1 } = await rooms.create({ actorId: u1, name: 'One' })
  const { room: r2 } = await rooms.create({ actorId: u2, name: 'Two' })
  await rooms.join({ actorId: u1, roomId: r2.id })
  const lists = await Promise.all([u1, u2, u3, u1].map((actorId) => rooms.memberships({ actorId })))
  t.same(lists.map((l) => l.roomIds), [[r2.id, r1.id].sort((a, b) => b - a), [r2.id], [], [r2.id, r1.id].sort((a, b) => b - a)])
})

t.test('joins arriving together share member counts, and the count ends exact', async (t) => {
  const owner = fx.user()
  const joiners = Array.from({ length: 12 }, () => fx.user())
  const { room } = await rooms.create({ actorId: owner, name: 'Crowd' })
  const store = main.ports.rooms
  let counts = 0
  const original = store.refreshMemberCount.bind(store)
  store.refreshMemberCount = async (id) => { counts++; return await original(id) }
  t.teardown(() => { store.refreshMemberCount = original })
  const replies = await Promise.all(joiners.map((actorId) => rooms.join({ actorId, roomId: room.id })))
  t.ok(counts < joiners.length, `${counts} counts for ${joiners.length} joins`)
  t.equal(Math.max(...replies.map((r) => r.room.memberCount)), 13, 'the last count saw every join')
  t.ok(replies.every((r) => r.room.memberCount >= 2), 'each join sees at least itself')
  t.equal((await rooms.get({ actorId: owner, roomId: room.id })).room.memberCount, 13)
})

t.test('a room send with a client id reads no history; its retries are answered with the first', async (t) => {
  const owner = fx.user()
  const { room } = await rooms.create({ actorId: owner, name: 'Retries' })
  const { messages } = main.ports
  let scans = 0
  const original = messages.byDedupeKey.bind(messages)
  messages.byDedupeKey = async (key) => { scans++; return await original(key) }
  t.teardown(() => { messages.byDedupeKey = original })
  const first = await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'once', clientMessageId: 'r-1' })
  t.equal(first.duplicate, false)
  t.equal(scans, 0, 'no search of the messages for a first send')
  const again = await chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'once', clientMessageId: 'r-1' })
  t.same([again.duplicate, again.message.id], [true, first.message.id])
  const racing = await Promise.all(Array.from({ length: 5 }, () => chat.send({ actorId: owner, conversationId: room.id, kind: 'text', content: 'race', clientMessageId: 'r-2' })))
  t.equal(new Set(racing.map((r) => r.message.id)).size, 1, 'concurrent retries: one message')
  const page = await chat.history({ actorId: owner, conversationId: room.id })
  t.same(page.messages.map((m) => m.content), ['once', 'race'])
})
