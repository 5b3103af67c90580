import t from 'tap'
import { ChatError, Commands, type Message, type RoomEvent, type Session } from '@chat/contracts'
import { roomsWsApi } from '../src/apis/rooms/ws-adapter.js'
import { decodeRoomsFrame, memberPush, messagePush, unixSeconds } from '../src/apis/rooms/ws-frames.js'
import type { UserDirectory } from '../src/user-directory.js'
import { testConnection } from './fakes.js'

const ME = 1
const PEER = 2
const ROOM = 50
const TICKET = 'ab'.repeat(20)

const session: Session = {
  user: { id: ME, username: 'me', nickname: 'Me', avatar: '', email: '', createdAt: '2026-01-01T00:00:00.000Z' },
  token: 'jwt',
  sessionId: 's1',
  expiresAt: '2099-01-01T00:00:00.000Z',
}

function message (over: Partial<Message> = {}): Message {
  return { id: 100, conversationId: ROOM, seq: 1, senderId: PEER, kind: 'text', content: 'hi', createdAt: '2017-04-21T14:33:40.999Z', ...over }
}

const users = {
  async byIds (ids: number[]) {
    return new Map(ids.filter((id) => id === PEER).map((id) => [id, { id, username: 'peer', nickname: 'Peer', avatar: '' }]))
  },
} as unknown as UserDirectory

/** A real, not yet logged-in connection with scripted command replies; records calls, frames and closes. */
async function fakeSocket (reply: (subject: string, req: any) => unknown) {
  const c = await testConnection(roomsWsApi, { reply, users, session: null })
  return { ...c, closes: c.socket.closes }
}

const services = (over: Record<string, (req: any) => unknown> = {}) => (subject: string, req: any) => {
  if (over[subject]) return over[subject]!(req)
  if (subject === Commands.auth.redeemTicket) return { session, roomId: ROOM }
  if (subject === Commands.message.roomEnter) return { joined: true }
  if (subject === Commands.message.roomExit) return { left: true }
  if (subject === Commands.message.send) return { message: message({ senderId: ME }), duplicate: false }
  throw new Error(`unexpected ${subject}`)
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

t.test('frames decode by their field', async (t) => {
  t.same(decodeRoomsFrame({ token: TICKET }), { type: 'token', payload: { token: TICKET } })
  t.same(decodeRoomsFrame({ token: 5 }), { type: 'token', payload: { token: 5 } }, 'a malformed ticket is judged when handled')
  t.same(decodeRoomsFrame({ msg: 'hi', extra: 1 }), { type: 'msg', payload: { msg: 'hi' } })
  for (const bad of [{ msg: 5 }, { msg: { $gt: '' } }, { msg: 'x', token: TICKET }, {}, [], null, 'msg', 3]) {
    t.throws(() => decodeRoomsFrame(bad), ChatError, JSON.stringify(bad))
  }
})

t.test('pushes', async (t) => {
  t.equal(unixSeconds('2017-04-21T14:33:40.999Z'), 1492785220)
  t.same(messagePush(message(), { username: 'peer', nickname: 'Peer' }), { type: 0, msg: 'hi', username: 'peer', nickname: 'Peer', time: 1492785220 })
  t.same(messagePush(message({ kind: 'image', content: '/files/7' }), undefined), { type: 0, msg: '/files/7', username: '', nickname: '', time: 1492785220 })
  const joined: RoomEvent = { kind: 'member.joined', roomId: ROOM, userId: PEER, username: 'peer', nickname: 'Peer', at: '2017-04-21T14:33:40.000Z' }
  t.same(memberPush(joined), { type: 1, username: 'peer', nickname: 'Peer', action: 1, time: 1492785220 })
  t.same(memberPush({ ...joined, kind: 'member.left' }), { type: 1, username: 'peer', nickname: 'Peer', action: 0, time: 1492785220 })
})

t.test('a ticket enters, then logs in; closing ends the visit', async (t) => {
  const s = await fakeSocket(services())
  t.same(await s.run({ token: TICKET }), [], 'entry is not answered')
  t.same(s.calls.map((c) => c.subject), [Commands.auth.redeemTicket, Commands.message.roomEnter])
  t.same(s.calls[1]!.req, { roomId: ROOM, visitId: 'gw:1', actorId: ME })
  t.equal(s.connection.session, session)
  t.same(await s.run({ msg: 'hello' }), [{ status: true }])
  t.same(s.calls[2]!.req, { conversationId: ROOM, kind: 'text', content: 'hello', originConnectionId: 'gw:1', actorId: ME })

  // Pushes: only this room, only others, in order.
  s.connection.deliver({ kind: 'message.new', roomId: ROOM, message: message({ senderId: ME }) })
  s.connection.deliver({ kind: 'message.new', roomId: ROOM + 1, message: message({ conversationId: ROOM + 1 }) })
  s.connection.deliver({ kind: 'member.joined', roomId: ROOM, userId: ME, username: 'me', nickname: 'Me', at: '2017-04-21T14:33:40.000Z' })
  s.connection.deliver({ kind: 'message.new', roomId: ROOM, message: message() })
  s.connection.deliver({ kind: 'member.left', roomId: ROOM, userId: PEER, username: 'peer', nickname: 'Peer', at: '2017-04-21T14:33:41.000Z' })
  s.connection.deliver({ kind: 'typing', roomId: ROOM, conversationId: ROOM, fromUserId: PEER, typing: true })
  await settle()
  t.same(s.sent.slice(1), [
    { type: 0, msg: 'hi', username: 'peer', nickname: 'Peer', time: 1492785220 },
    { type: 1, username: 'peer', nickname: 'Peer', action: 0, time: 1492785221 },
  ])

  s.socket.close(1000)
  await settle()
  t.same(s.calls.at(-1), { subject: Commands.message.roomExit, req: { roomId: ROOM, visitId: 'gw:1', actorId: ME } })
})

t.test('a refused ticket or entry answers {status: false} and closes with 1008', async (t) => {
  for (const [what, over] of [
    ['used ticket', { [Commands.auth.redeemTicket]: () => new ChatError('CHAT_TOKEN_INVALID') }],
    ['full room', { [Commands.message.roomEnter]: () => new ChatError('CHAT_ROOM_FULL') }],
  ] as const) {
    const s = await fakeSocket(services(over))
    await s.run({ token: TICKET })
    t.same(s.sent, [{ status: false }], what)
    t.same(s.closes, [1008], what)
    t.equal(s.connection.session, undefined, `${what}: not logged in`)
    t.notOk(s.calls.some((c) => c.subject === Commands.message.roomExit), `${what}: no visit to end`)
  }
  const bad = await fakeSocket(services())
  await bad.run({ token: 'nonsense' })
  t.same(bad.calls, [], 'a malformed ticket costs no round trip')
  t.same(bad.closes, [1008])

  const timedOut = await fakeSocket(services({ [Commands.message.roomEnter]: () => new ChatError('CHAT_TIMEOUT') }))
  await timedOut.run({ token: TICKET })
  await settle()
  t.ok(timedOut.calls.some((c) => c.subject === Commands.message.roomExit), 'an entry that timed out is ended in case it was recorded')
})

t.test('a first frame that is not a good {token} answers {status: false} and closes', async (t) => {
  for (const first of [{ msg: 'early' }, 'not json', { token: 5 }, { token: null }, { token: { $gt: '' } }, { token: '' }, { token: TICKET, msg: 'both' }, {}]) {
    const s = await fakeSocket(services())
    t.same(await s.run(first), [{ status: false }], JSON.stringify(first))
    t.same(s.closes, [1008], `${JSON.stringify(first)}: closed`)
  }
  const s = await fakeSocket(services())
  await s.run({ token: TICKET })
  t.same(await s.run({ msg: 5 }), [{ status: false }], 'in a room, a bad frame is only refused')
  t.same(s.closes, [])
})

t.test('a socket closed while entering ends its visit; {msg} needs a room; the room going away closes 4004', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const s = await fakeSocket(services({ [Commands.message.roomEnter]: () => gate.then(() => ({ joined: true })) }))
  s.socket.receive({ token: TICKET })
  await settle()
  s.socket.close(1000)
  release()
  await settle()
  t.equal(s.calls.filter((c) => c.subject === Commands.message.roomExit).length, 1, 'exactly one exit')
  t.equal(s.connection.session, undefined, 'not logged in after the socket closed')

  const g = await fakeSocket(services())
  await g.run({ token: TICKET })
  g.connection.deliver({ kind: 'room.deleted', roomId: ROOM })
  await settle()
  t.same(g.closes, [4004])

  const h = await fakeSocket(services({ [Commands.message.send]: () => new ChatError('CHAT_CONVERSATION_NOT_FOUND') }))
  await h.run({ token: TICKET })
  t.same(await h.run({ msg: 'x' }), [{ status: false }], 'a send into a vanished room fails')
  t.same(h.closes, [4004], 'and closes the socket')
})
