import t from 'tap'
import { ChatError, Commands, type Message, type RoomEvent, type Session } from '@chat/contracts'
import { createLogger } from '@chat/runtime'
import { roomsWsApi } from '../src/apis/rooms/ws-adapter.js'
import { decodeRoomsFrame, memberPush, messagePush, unixSeconds } from '../src/apis/rooms/ws-frames.js'
import type { ApiServices, ConnectionContext, Frame } from '../src/ws-api.js'
import type { UserDirectory } from '../src/user-directory.js'
import { scriptedCommands } from './fakes.js'

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

/** A socket with scripted command replies; records calls, frames and closes. */
function fakeSocket (reply: (subject: string, req: any) => unknown) {
  const { commands, calls } = scriptedCommands(reply)
  const sent: Frame[] = []
  const closes: number[] = []
  const users = {
    async byIds (ids: number[]) {
      return new Map(ids.filter((id) => id === PEER).map((id) => [id, { id, username: 'peer', nickname: 'Peer', avatar: '' }]))
    },
  } as unknown as UserDirectory
  const ctx: ConnectionContext & { session: Session | undefined } = {
    id: 'gw:1',
    session: undefined,
    services: { commands, users } as unknown as ApiServices,
    logger: createLogger('test', 'silent'),
    local: {},
    requireSession () {
      if (!ctx.session) throw new ChatError('CHAT_UNAUTHENTICATED')
      return ctx.session
    },
    async login (s) { ctx.session = s },
    logout () { ctx.session = undefined },
    updateSession () {},
    send (frame) { sent.push(frame) },
    close (code) {
      closes.push(code)
      roomsWsApi.closed?.(ctx)
    },
  }
  return { ctx, calls, sent, closes }
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
  t.same(decodeRoomsFrame({ token: TICKET }), { kind: 'token', token: TICKET })
  t.same(decodeRoomsFrame({ token: 5 }), { kind: 'token', token: 5 }, 'a malformed ticket is judged when handled')
  t.same(decodeRoomsFrame({ msg: 'hi', extra: 1 }), { kind: 'msg', msg: 'hi' })
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
  const s = fakeSocket(services())
  t.equal(await roomsWsApi.handle(s.ctx, { kind: 'token', token: TICKET }), undefined, 'entry is not answered')
  t.same(s.calls.map((c) => c.subject), [Commands.auth.redeemTicket, Commands.message.roomEnter])
  t.same(s.calls[1]!.req, { actorId: ME, roomId: ROOM, visitId: 'gw:1' })
  t.equal(s.ctx.session, session)
  t.same(await roomsWsApi.handle(s.ctx, { kind: 'msg', msg: 'hello' }), { status: true })
  t.same(s.calls[2]!.req, { actorId: ME, conversationId: ROOM, kind: 'text', content: 'hello', originConnectionId: 'gw:1' })

  // Pushes: only this room, only others, in order.
  roomsWsApi.renderRoom(s.ctx, { kind: 'message.new', roomId: ROOM, message: message({ senderId: ME }) })
  roomsWsApi.renderRoom(s.ctx, { kind: 'message.new', roomId: ROOM + 1, message: message({ conversationId: ROOM + 1 }) })
  roomsWsApi.renderRoom(s.ctx, { kind: 'member.joined', roomId: ROOM, userId: ME, username: 'me', nickname: 'Me', at: '2017-04-21T14:33:40.000Z' })
  roomsWsApi.renderRoom(s.ctx, { kind: 'message.new', roomId: ROOM, message: message() })
  roomsWsApi.renderRoom(s.ctx, { kind: 'member.left', roomId: ROOM, userId: PEER, username: 'peer', nickname: 'Peer', at: '2017-04-21T14:33:41.000Z' })
  roomsWsApi.renderRoom(s.ctx, { kind: 'typing', roomId: ROOM, fromUserId: PEER, typing: true })
  await settle()
  t.same(s.sent, [
    { type: 0, msg: 'hi', username: 'peer', nickname: 'Peer', time: 1492785220 },
    { type: 1, username: 'peer', nickname: 'Peer', action: 0, time: 1492785221 },
  ])

  roomsWsApi.closed?.(s.ctx)
  await settle()
  t.same(s.calls.at(-1), { subject: Commands.message.roomExit, req: { actorId: ME, roomId: ROOM, visitId: 'gw:1' } })
})

t.test('a refused ticket or entry answers {status: false} and closes with 1008', async (t) => {
  for (const [what, over] of [
    ['used ticket', { [Commands.auth.redeemTicket]: () => new ChatError('CHAT_TOKEN_INVALID') }],
    ['full room', { [Commands.message.roomEnter]: () => new ChatError('CHAT_ROOM_FULL') }],
  ] as const) {
    const s = fakeSocket(services(over))
    await roomsWsApi.handle(s.ctx, { kind: 'token', token: TICKET })
    t.same(s.sent, [{ status: false }], what)
    t.same(s.closes, [1008], what)
    t.equal(s.ctx.session, undefined, `${what}: not logged in`)
    t.notOk(s.calls.some((c) => c.subject === Commands.message.roomExit), `${what}: no visit to end`)
  }
  const bad = fakeSocket(services())
  await roomsWsApi.handle(bad.ctx, { kind: 'token', token: 'nonsense' })
  t.same(bad.calls, [], 'a malformed ticket costs no round trip')
  t.same(bad.closes, [1008])

  const timedOut = fakeSocket(services({ [Commands.message.roomEnter]: () => new ChatError('CHAT_TIMEOUT') }))
  await roomsWsApi.handle(timedOut.ctx, { kind: 'token', token: TICKET })
  await settle()
  t.ok(timedOut.calls.some((c) => c.subject === Commands.message.roomExit), 'an entry that timed out is ended in case it was recorded')
})

t.test('a socket closed while entering ends its visit; {msg} needs a room; the room going away closes 4004', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const s = fakeSocket(services({ [Commands.message.roomEnter]: () => gate.then(() => ({ joined: true })) }))
  await t.rejects(roomsWsApi.handle(s.ctx, { kind: 'msg', msg: 'early' }) as Promise<unknown>, { code: 'CHAT_UNAUTHENTICATED' })
  const entering = roomsWsApi.handle(s.ctx, { kind: 'token', token: TICKET })
  await settle()
  roomsWsApi.closed?.(s.ctx)
  release()
  await entering
  await settle()
  t.equal(s.calls.filter((c) => c.subject === Commands.message.roomExit).length, 1, 'exactly one exit')
  t.equal(s.ctx.session, undefined, 'not logged in after the socket closed')

  const g = fakeSocket(services())
  await roomsWsApi.handle(g.ctx, { kind: 'token', token: TICKET })
  roomsWsApi.renderRoom(g.ctx, { kind: 'room.deleted', roomId: ROOM })
  await settle()
  t.same(g.closes, [4004])
  await t.rejects(roomsWsApi.handle(g.ctx, { kind: 'msg', msg: 'anyone?' }) as Promise<unknown>, { code: 'CHAT_CONVERSATION_NOT_FOUND' })

  const h = fakeSocket(services({ [Commands.message.send]: () => new ChatError('CHAT_CONVERSATION_NOT_FOUND') }))
  await roomsWsApi.handle(h.ctx, { kind: 'token', token: TICKET })
  t.equal(await roomsWsApi.handle(h.ctx, { kind: 'msg', msg: 'x' }), undefined)
  t.same(h.sent, [{ status: false }], 'a send into a vanished room fails')
  t.same(h.closes, [4004], 'and closes the socket')
})
