// Rooms on the `typed` API across two gateway replicas: membership,
// capacity under concurrent joins, fan-out, pushes, deletion.
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { loginAgain, registerUser, uniqueName, type TypedUser } from './helpers/typed.js'

t.test('rooms', async (t) => {
  const sys = await startSystem(t, { gateways: 2, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]

  const createRoom = async (owner: TypedUser, extra: Record<string, unknown> = {}) => {
    const res = await owner.client.request('CREATE_ROOM', { name: uniqueName('room'), ...extra })
    if (res.type !== 'ROOM_CREATED') throw new Error(JSON.stringify(res))
    return res.payload.room
  }

  t.test('create, list, join, members, leave; others are told who comes and goes', async (t) => {
    const owner = await registerUser(a.wsUrl(), 'owner')
    const guest = await registerUser(b.wsUrl(), 'guest')
    const ownerPhone = await loginAgain(b.wsUrl(), owner)
    t.teardown(() => Promise.all([owner.client.close(), guest.client.close(), ownerPhone.close()]))

    const room = await createRoom(owner, { capacity: 10, geolocation: { latitude: 52.52, longitude: 13.4 } })
    t.match(room, { ownerId: owner.userId, capacity: 10, geolocation: { latitude: 52.52, longitude: 13.4 }, visibility: 'public', memberCount: 1 })
    const priv = await createRoom(owner, { visibility: 'private' })

    const visible = await guest.client.request('LOAD_ROOMS', {})
    t.equal(visible.type, 'ROOMS_LOADED')
    const ids = visible.payload.rooms.map((r: any) => r.id)
    t.ok(ids.includes(room.id), 'public rooms are listed')
    t.notOk(ids.includes(priv.id), 'private ones are not')
    t.same((await guest.client.request('LOAD_ROOMS', { scope: 'mine' })).payload.rooms, [])

    const joined = await guest.client.request('JOIN_ROOM', { roomId: room.id })
    t.equal(joined.type, 'ROOM_JOINED')
    t.equal(joined.payload.joined, true)
    for (const c of [owner.client, ownerPhone]) {
      const push = await c.next('ROOM_MEMBER_JOINED')
      t.match(push.payload, { roomId: room.id, userId: guest.userId, username: guest.username })
    }
    await guest.client.noFrame('ROOM_MEMBER_JOINED', 300)
    t.equal((await guest.client.request('JOIN_ROOM', { roomId: room.id })).payload.joined, false, 'joining twice changes nothing')
    t.same((await guest.client.request('LOAD_ROOMS', { scope: 'mine' })).payload.rooms.map((r: any) => r.id), [room.id])

    const members = await guest.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id })
    t.equal(members.type, 'ROOM_MEMBERS_LOADED')
    t.same(members.payload.members.map((m: any) => m.userId), [owner.userId, guest.userId], 'in join order')
    t.ok(members.payload.members.every((m: any) => /Z$/.test(m.joinedAt)), 'with their join time')

    const privJoin = await guest.client.request('JOIN_ROOM', { roomId: priv.id })
    t.equal(privJoin.type, 'ROOM_JOIN_FAILURE')
    t.equal(privJoin.payload.code, 'CHAT_FORBIDDEN')
    const privMembers = await guest.client.request('LOAD_ROOM_MEMBERS', { roomId: priv.id })
    t.equal(privMembers.type, 'ROOM_MEMBERS_LOAD_FAILURE')

    t.equal((await guest.client.request('LEAVE_ROOM', { roomId: room.id })).type, 'ROOM_LEFT')
    t.match((await owner.client.next('ROOM_MEMBER_LEFT')).payload, { roomId: room.id, userId: guest.userId })
    const again = await guest.client.request('LEAVE_ROOM', { roomId: room.id })
    t.equal(again.payload.code, 'CHAT_NOT_MEMBER')
    const ghost = await guest.client.request('JOIN_ROOM', { roomId: 987654321 })
    t.equal(ghost.payload.code, 'CHAT_CONVERSATION_NOT_FOUND')
  })

  t.test('room messages reach every member socket on both replicas exactly once', async (t) => {
    const owner = await registerUser(a.wsUrl(), 'owner')
    const m1 = await registerUser(b.wsUrl(), 'm1')
    const m1b = await loginAgain(a.wsUrl(), m1)
    const m2 = await registerUser(a.wsUrl(), 'm2')
    const ownerPhone = await loginAgain(b.wsUrl(), owner)
    const outsider = await registerUser(b.wsUrl(), 'out')
    t.teardown(() => Promise.all([owner.client, m1.client, m1b, m2.client, ownerPhone, outsider.client].map((c) => c.close())))
    const room = await createRoom(owner)
    await m1.client.request('JOIN_ROOM', { roomId: room.id })
    await m2.client.request('JOIN_ROOM', { roomId: room.id })

    const sent = await owner.client.request('SEND_ROOM_MESSAGE', { messageId: 1, senderId: owner.userId, roomId: room.id, content: 'hello room' })
    t.equal(sent.type, 'MESSAGE_RECEIVED_SELF')
    for (const c of [m1.client, m1b, m2.client]) {
      const got = await c.next('MESSAGE_RECEIVED_OTHER')
      t.match(got.payload, { id: sent.payload.id, senderId: owner.userId, receiverId: null, roomId: room.id, conversationId: room.id, content: 'hello room' })
    }
    t.equal((await ownerPhone.next('MESSAGE_SENT')).payload.id, sent.payload.id)
    await Promise.all([
      ...[m1.client, m1b, m2.client, ownerPhone].map((c) => c.noFrame((f) => f.type === 'MESSAGE_RECEIVED_OTHER' || f.type === 'MESSAGE_SENT', 400)),
      owner.client.noFrame((f) => f.type === 'MESSAGE_RECEIVED_OTHER' || f.type === 'MESSAGE_SENT', 400),
      outsider.client.noFrame('MESSAGE_RECEIVED_OTHER', 400),
    ])
    for (const c of [m1.client, m2.client]) {
      t.match((await c.next('UNREAD_UPDATED')).payload, { conversationId: room.id, count: 1 }, 'each member has it unread')
    }
    const read = await m1.client.request('MARK_READ', { messageId: sent.payload.id })
    t.equal(read.payload.unread, 0)

    const history = await m2.client.request('LOAD_ROOM_MESSAGES', { roomId: room.id })
    t.same(history.payload.map((m: any) => m.content), ['hello room'])
    const notMember = await outsider.client.request('SEND_ROOM_MESSAGE', { messageId: 2, senderId: outsider.userId, roomId: room.id, content: 'let me in' })
    t.equal(notMember.type, 'MESSAGE_SEND_FAILURE')
    t.equal(notMember.payload.code, 'CHAT_NOT_MEMBER')
    const peek = await outsider.client.request('LOAD_ROOM_MESSAGES', { roomId: room.id })
    t.equal(peek.type, 'MESSAGES_LOAD_FAILURE', 'non-members cannot read, even in a public room')
    const spoof = await m2.client.request('SEND_ROOM_MESSAGE', { messageId: 3, senderId: owner.userId, roomId: room.id, content: 'x' })
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')

    // A member who joined after login on this socket still receives room events.
    await outsider.client.request('JOIN_ROOM', { roomId: room.id })
    await m2.client.request('SEND_ROOM_MESSAGE', { messageId: 4, senderId: m2.userId, roomId: room.id, content: 'welcome' })
    t.equal((await outsider.client.next('MESSAGE_RECEIVED_OTHER')).payload.content, 'welcome')
    await outsider.client.request('LEAVE_ROOM', { roomId: room.id })
    await m2.client.request('SEND_ROOM_MESSAGE', { messageId: 5, senderId: m2.userId, roomId: room.id, content: 'bye' })
    await outsider.client.noFrame((f) => f.type === 'MESSAGE_RECEIVED_OTHER' && f.payload.content === 'bye', 500)
  })

  t.test('capacity holds under concurrent joins from both replicas', async (t) => {
    const owner = await registerUser(a.wsUrl(), 'owner')
    t.teardown(() => owner.client.close())
    const room = await createRoom(owner, { capacity: 5 })
    const joiners = await Promise.all(Array.from({ length: 30 }, (_, i) => registerUser((i % 2 === 0 ? a : b).wsUrl(), `j${i}`)))
    t.teardown(() => Promise.all(joiners.map((j) => j.client.close())))
    const results = await Promise.all(joiners.map((j) => j.client.request('JOIN_ROOM', { roomId: room.id }, 20_000)))
    const ok = results.filter((r) => r.type === 'ROOM_JOINED')
    const full = results.filter((r) => r.type === 'ROOM_JOIN_FAILURE')
    t.equal(ok.length, 4, 'four seats besides the owner')
    t.equal(full.length, 26)
    t.ok(full.every((r) => r.payload.code === 'CHAT_ROOM_FULL'))
    const members = await owner.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id })
    t.equal(members.payload.members.length, 5, 'exactly the capacity')
    t.equal(members.payload.next, null, 'all of them in one page')
    const first = await owner.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id, limit: 3 })
    t.equal(first.payload.members.length, 3)
    const rest = await owner.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id, after: first.payload.next })
    t.same([...first.payload.members, ...rest.payload.members], members.payload.members, 'pages with limit and after')
    t.equal(rest.payload.next, null)
    const bad = await owner.client.request('LOAD_ROOM_MEMBERS', { roomId: room.id, after: { $gt: '' } })
    t.same([bad.type, bad.payload.code], ['ROOM_MEMBERS_LOAD_FAILURE', 'CHAT_BAD_REQUEST'])
    const refused = joiners.find((_, i) => results[i]!.type === 'ROOM_JOIN_FAILURE')!
    const peeked = joiners.filter((_, i) => results[i]!.type === 'ROOM_JOIN_FAILURE' && joiners[i]!.client.received.some((f) => f.type === 'ROOM_MEMBER_JOINED'))
    t.same(peeked.map((j) => j.username), [], 'a refused joiner was told nothing of the room')
    const send = await refused.client.request('SEND_ROOM_MESSAGE', { senderId: refused.userId, roomId: room.id, content: 'x' })
    t.equal(send.payload.code, 'CHAT_NOT_MEMBER', 'a refused joiner is not a member')
    const leaver = joiners.find((_, i) => results[i]!.type === 'ROOM_JOINED')!
    await leaver.client.request('LEAVE_ROOM', { roomId: room.id })
    t.equal((await refused.client.request('JOIN_ROOM', { roomId: room.id })).type, 'ROOM_JOINED', 'a freed seat can be taken')
  })

  t.test('members joining at once are each told of every join stored after theirs', async (t) => {
    const owner = await registerUser(a.wsUrl(), 'owner')
    t.teardown(() => owner.client.close())
    const room = await createRoom(owner)
    const joiners = await Promise.all(Array.from({ length: 40 }, (_, i) => registerUser((i % 2 === 0 ? a : b).wsUrl(), `n${i}`)))
    t.teardown(() => Promise.all(joiners.map((j) => j.client.close())))
    const results = await Promise.all(joiners.map((j) => j.client.request('JOIN_ROOM', { roomId: room.id }, 20_000)))
    t.ok(results.every((r) => r.type === 'ROOM_JOINED'), 'all joined')
    const joinedAt = results.map((r) => Date.parse(r.payload.joinedAt))
    // Each joiner's notices of the joins stored after theirs (a later moment: same-millisecond joins are left out).
    const missingNow = () => joiners.flatMap((x, i) => {
      const told = new Set(x.client.received.filter((f) => f.type === 'ROOM_MEMBER_JOINED').map((f) => f.payload.userId))
      return joiners.filter((y, k) => joinedAt[k]! > joinedAt[i]! && !told.has(y.userId)).map((y) => `${x.username} of ${y.username}`)
    })
    const deadline = Date.now() + 5000
    while (missingNow().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(missingNow(), [], 'no notice missed')
  })

  t.test('only the owner deletes a room; every member is told', async (t) => {
    const owner = await registerUser(a.wsUrl(), 'owner')
    const member = await registerUser(b.wsUrl(), 'member')
    const memberPhone = await loginAgain(a.wsUrl(), member)
    t.teardown(() => Promise.all([owner.client.close(), member.client.close(), memberPhone.close()]))
    const room = await createRoom(owner)
    await member.client.request('JOIN_ROOM', { roomId: room.id })
    const refused = await member.client.request('DELETE_ROOM', { roomId: room.id })
    t.equal(refused.type, 'ROOM_DELETE_FAILURE')
    t.equal(refused.payload.code, 'CHAT_FORBIDDEN')
    const done = await owner.client.request('DELETE_ROOM', { roomId: room.id })
    t.equal(done.type, 'ROOM_DELETED')
    for (const c of [member.client, memberPhone]) t.same((await c.next('ROOM_DELETED')).payload, { roomId: room.id })
    const after = await member.client.request('SEND_ROOM_MESSAGE', { senderId: member.userId, roomId: room.id, content: 'anyone?' })
    t.equal(after.type, 'MESSAGE_SEND_FAILURE')
    const list = await member.client.request('LOAD_ROOMS', { scope: 'visible' })
    t.notOk(list.payload.rooms.some((r: any) => r.id === room.id))
    const bad = await owner.client.request('CREATE_ROOM', { name: '', capacity: 0 })
    t.equal(bad.type, 'ROOM_CREATE_FAILURE')
    t.equal(bad.payload.code, 'CHAT_BAD_REQUEST')
    const badGeo = await owner.client.request('CREATE_ROOM', { name: 'x', geolocation: { latitude: 100, longitude: 0 } })
    t.equal(badGeo.payload.code, 'CHAT_BAD_REQUEST')
  })
})
