// The acting user of every command leaving the gateway is the session's,
// whatever a client puts in its request. Every request type of every API is
// sent with the fields that name users (actorId, userId, senderId, ownerId,
// …) set to someone else, once with the documented self-naming fields kept
// honest and once with every one of them forged; no command may carry the
// other user's id, and every actorId must be the session's.
import t from 'tap'

/** What the checks need of a test. */
interface Checker { fail: (message: string) => unknown, ok: (value: unknown, message: string) => unknown }
import Fastify from 'fastify'
import cookie from '@fastify/cookie'
import { Commands, type Message } from '@chat/contracts'
import { typedApi } from '../src/apis/typed/adapter.js'
import { TypedRequests } from '../src/apis/typed/schemas.js'
import { eventsApi } from '../src/apis/events/adapter.js'
import { EventsRequests } from '../src/apis/events/schemas.js'
import { flatApi } from '../src/apis/flat/adapter.js'
import { FlatRequests } from '../src/apis/flat/schemas.js'
import { roomsWsApi } from '../src/apis/rooms/ws-adapter.js'
import { roomsHttpApi } from '../src/apis/rooms/routes.js'
import { chatsHttpApi } from '../src/apis/chats/routes.js'
import { actAs, publicCommands } from '../src/actor.js'
import { installErrorHandler } from '../src/http-errors.js'
import { strictValidatorCompiler } from '../src/http-validation.js'
import { SessionCookie } from '../src/http-auth.js'
import { UserDirectory } from '../src/user-directory.js'
import type { ApiServices, WsApi, WsRequest } from '../src/ws-api.js'
import { scriptedCommands, sessionOf, testConnection } from './fakes.js'

const ME = 1
const PEER = 2
const VICTIM = 666
const ROOM = 50
const NOW = '2026-11-21T22:19:22.123Z'

/** Every field name a client might use to name a user, forged. */
const FORGED = {
  actorId: VICTIM,
  userId: VICTIM,
  senderId: VICTIM,
  ownerId: VICTIM,
  requesterUserId: VICTIM,
  creatorId: VICTIM,
  user_id: VICTIM,
  sender_id: VICTIM,
  owner_id: VICTIM,
}

function message (over: Partial<Message> = {}): Message {
  return { id: 100, conversationId: 9, seq: 1, senderId: ME, recipientId: PEER, kind: 'text', content: 'hi', createdAt: NOW, ...over }
}

const room = { id: ROOM, name: 'hall', ownerId: ME, capacity: null, geolocation: null, visibility: 'public', memberCount: 1, createdAt: NOW }

/** Plausible replies, so each handler goes on to every command it makes. */
function reply (subject: string, req: any): unknown {
  switch (subject) {
    case Commands.auth.register:
    case Commands.auth.login: return sessionOf(ME)
    case Commands.auth.getNames: {
      const ids: number[] = [...(req.ids ?? []), ...(req.usernames ?? []).map((u: string) => Number(u.replace(/^user/, '')))]
      return { users: ids.filter((id) => Number.isSafeInteger(id) && id > 0).map((id) => ({ id, username: `user${id}`, nickname: '' })) }
    }
    case Commands.auth.updateProfile: return { user: sessionOf(ME).user }
    case Commands.auth.searchUsers: return { users: [], hasMore: false }
    case Commands.auth.issueTicket: return { ticket: 'ab'.repeat(20), expiresAt: NOW }
    case Commands.auth.redeemTicket: return { session: sessionOf(ME), roomId: ROOM }
    case Commands.contact.list: return { contacts: [], next: null }
    case Commands.contact.add: return { contact: { userId: PEER, username: 'user2', nickname: '', avatar: '', online: false, addedAt: NOW } }
    case Commands.contact.listBlocked: return { userIds: [] }
    case Commands.message.send: return { message: message(), duplicate: false }
    case Commands.message.history: return { conversationId: 9, messages: [message()], hasMore: false }
    case Commands.message.read: return { conversationId: 9, unread: 0 }
    case Commands.message.clear: return { conversationId: 9 }
    case Commands.message.sync: return { conversations: [{ conversationId: 9, messages: [message()], hasMore: false }] }
    case Commands.message.unread: return { conversations: [] }
    case Commands.message.takeUnread: return { messages: [message()], remaining: 0 }
    case Commands.message.edit: return { message: message() }
    case Commands.message.delete: return { messageId: 100, conversationId: 9 }
    case Commands.message.deleteConversation: return { conversationId: 9, peerId: PEER }
    case Commands.message.listConversations: return { conversations: [], next: null }
    case Commands.message.openConversation: return { conversationId: 9, created: true }
    case Commands.message.roomCreate:
    case Commands.message.roomGet: return { room }
    case Commands.message.roomList: return { rooms: [room], hasMore: false }
    case Commands.message.roomJoin: return { room, member: { userId: ME, joinedAt: NOW }, joined: true }
    case Commands.message.roomMembers: return { roomId: ROOM, members: [], next: null }
    case Commands.message.roomEnter: return { joined: true, kind: 'room' }
    case Commands.message.roomExit: return { left: true }
    case Commands.message.fileCreate: return { fileId: 7, chunkSize: 1024 }
    case Commands.message.fileCommit: return { file: { id: 7 } }
    default: return {}
  }
}

/** No command carries the victim's id anywhere, and every actorId is the session's. */
function checkCommands (t: Checker, calls: Array<{ subject: string, req: any }>, what: string): void {
  for (const { subject, req } of calls) {
    if (subject === Commands.auth.getNames || subject === Commands.auth.getUsers) continue
    if ('actorId' in req && req.actorId !== ME) t.fail(`${what}: ${subject} acts as ${req.actorId}`)
    if (JSON.stringify(req).includes(String(VICTIM))) t.fail(`${what}: ${subject} carries ${VICTIM}: ${JSON.stringify(req)}`)
  }
}

async function sweep<Req extends WsRequest, State> (
  t: Checker, api: WsApi<Req, State>, types: string[], frameOf: (type: string, forged: Record<string, unknown>, honest: boolean) => unknown
): Promise<void> {
  let commands = 0
  for (const type of types) {
    for (const honest of [true, false]) {
      const loggedIn = !['REGISTER', 'LOGIN', 'LOGIN_BY_TOKEN', 'LOGON', 'REQUEST_LOGIN', 'REQUEST_SIGNUP', 'token'].includes(type)
      const { run, calls } = await testConnection(api, { reply, session: loggedIn ? sessionOf(ME) : null })
      await run(frameOf(type, FORGED, honest))
      checkCommands(t, calls, `${api.name} ${type} (${honest ? 'self-naming fields honest' : 'all forged'})`)
      commands += calls.length
    }
  }
  t.ok(commands > types.length, `${api.name}: ${commands} commands checked`)
}

t.test('typed: every request type', async (t) => {
  const honest = { userId: ME, senderId: ME, requesterUserId: ME }
  const payloads: Record<string, Record<string, unknown>> = {
    REGISTER: { username: 'ann', password: 'pw' },
    LOGIN: { username: 'ann', password: 'pw' },
    LOGIN_BY_TOKEN: { token: 'x' },
    LOGOUT: {},
    UPDATE_PROFILE: { email: 'a@b.c' },
    LOAD_CONTACTS: {},
    ADD_CONTACT: { targetId: PEER },
    DELETE_CONTACT: { targetId: PEER },
    SEND_MESSAGE: { receiverId: PEER, content: 'x', messageId: 'c1' },
    SEND_FILE: { receiverId: PEER, fileName: 'a.txt', fileContent: ['aGk='] },
    SEND_IMAGE: { receiverId: PEER, imageName: 'a.png', imageContent: ['aGk='] },
    LOAD_MESSAGES: { targetId: PEER },
    MARK_READ: { messageId: 100 },
    CLEAR_MESSAGES: { targetUserId: PEER },
    SYNC: { cursors: [{ conversationId: 9, lastSeq: 0 }] },
    LOAD_UNREAD: {},
    CREATE_ROOM: { name: 'hall' },
    LOAD_ROOMS: {},
    JOIN_ROOM: { roomId: ROOM },
    LEAVE_ROOM: { roomId: ROOM },
    DELETE_ROOM: { roomId: ROOM },
    LOAD_ROOM_MEMBERS: { roomId: ROOM },
    SEND_ROOM_MESSAGE: { roomId: ROOM, content: 'x' },
    LOAD_ROOM_MESSAGES: { roomId: ROOM },
    EDIT_MESSAGE: { messageId: 100, content: 'y' },
    DELETE_MESSAGE: { messageId: 100 },
    DELETE_CONVERSATION: { targetUserId: PEER },
    TYPING: { targetId: PEER, typing: true },
    BLOCK_USER: { targetId: PEER },
    UNBLOCK_USER: { targetId: PEER },
    LOAD_BLOCKED: {},
    SEARCH_USERS: { query: 'a' },
    OPEN_CONVERSATION: { targetId: PEER },
    TAKE_UNREAD: { conversationId: 9 },
    LOAD_CONVERSATIONS: {},
  }
  t.same(Object.keys(payloads).sort(), Object.keys(TypedRequests).sort(), 'every request type is covered')
  await sweep(t, typedApi, Object.keys(payloads), (type, forged, honestFields) => ({
    type,
    id: 1,
    payload: { ...forged, ...payloads[type], ...(honestFields ? honest : {}) },
  }))
})

t.test('typed: LOAD_CONVERSATIONS and TAKE_UNREAD with a forged actorId act as the session', async (t) => {
  const { run, calls } = await testConnection(typedApi, { reply })
  await run({ type: 'LOAD_CONVERSATIONS', payload: { actorId: VICTIM } })
  await run({ type: 'TAKE_UNREAD', payload: { actorId: VICTIM, conversationId: 9 } })
  await run({ type: 'CREATE_ROOM', payload: { actorId: VICTIM, name: 'x' } })
  await run({ type: 'SEARCH_USERS', payload: { actorId: VICTIM, query: 'x' } })
  t.same(calls.map((c) => [c.subject, c.req.actorId]), [
    [Commands.message.listConversations, ME],
    [Commands.message.takeUnread, ME],
    [Commands.message.roomCreate, ME],
    [Commands.auth.searchUsers, ME],
  ])
})

t.test('events: every request type', async (t) => {
  const data: Record<string, Record<string, unknown>> = {
    LOGON: { user: 'ann@example.com', password: 'pw' },
    LOGIN: { user: 'ann@example.com', password: 'pw' },
    LIST_CONTACTS_UNREAD: {},
    CREATE_CONTACT: { user: 'user2' },
    DELETE_CONTACT: { user: 'user2' },
    CHAT_WITH: { user: 'user2' },
    CHAT_HISTORY: { user: 'user2' },
    CHAT_SEND_MSG: { user: 'user2', content: 'x' },
    CHAT_RECEIVE_MSG: { id: '100' },
    CHAT_DELETE: { id: '100' },
  }
  t.same(Object.keys(data).sort(), Object.keys(EventsRequests).sort(), 'every request type is covered')
  await sweep(t, eventsApi, Object.keys(data), (event, forged) => ({ event, data: { ...forged, ...data[event] } }))
})

t.test('flat: every request type', async (t) => {
  const fields: Record<string, Record<string, unknown>> = {
    REQUEST_LOGIN: { login: 'ann', pass: 'pw' },
    REQUEST_SIGNUP: { login: 'ann', pass: 'pw' },
    CREATE_ROOM: { customer: 'user2' },
    SND_MSG: { room_id: 9, message: 'x', msg_type: 'TEXT' },
    READ_MSG: { read: 'ALL', room_id: 9 },
    SEARCH_USER: { user: 'a' },
    DELETE_ROOM: { id: 9 },
    DELETE_MSG: { id: 100 },
    EDIT_MSG: { id: 100, new_msg: 'y' },
    OLD_DIALOGS: {},
  }
  t.same(Object.keys(fields).sort(), Object.keys(FlatRequests).sort(), 'every request type is covered')
  await sweep(t, flatApi, [...Object.keys(fields), 'READ_MSG_RESENT'], (type, forged, honest) => {
    // flat names the sender by username in some requests.
    const own = { username: honest ? `user${ME}` : `user${VICTIM}` }
    if (type === 'READ_MSG_RESENT') return { ...forged, type: 'READ_MSG', read: 'RESENT', room_id: 9, ...own }
    return { ...forged, ...fields[type], ...own, type }
  })
})

t.test('rooms (/ws/room): both frames', async (t) => {
  await sweep(t, roomsWsApi, ['token', 'msg'], (type, forged) => type === 'token'
    ? { ...forged, token: 'ab'.repeat(20) }
    : { ...forged, msg: 'hi' })
  // A message after entering acts as the ticket's user.
  const { run, calls } = await testConnection(roomsWsApi, { reply, session: null })
  await run({ token: 'ab'.repeat(20), actorId: VICTIM })
  await run({ msg: 'hi', actorId: VICTIM, userId: VICTIM })
  t.same(calls.filter((c) => 'actorId' in c.req).map((c) => [c.subject, c.req.actorId]), [
    [Commands.message.roomEnter, ME],
    [Commands.message.send, ME],
  ])
})

t.test('HTTP APIs: every route', async (t) => {
  const { commands, calls } = scriptedCommands(reply)
  const services: ApiServices = {
    commands: publicCommands(commands),
    act: (session) => actAs(commands, session),
    authenticate: async () => sessionOf(ME),
    files: {} as ApiServices['files'],
    users: new UserDirectory(commands),
  }
  const auth = Object.assign(async () => sessionOf(ME), { tokenOf: () => 'jwt' })
  const app = Fastify()
  installErrorHandler(app)
  await app.register(cookie)
  app.setValidatorCompiler(strictValidatorCompiler)
  const opts = { services, auth, cookie: new SessionCookie({ name: 'chat_session' }) }
  await app.register(roomsHttpApi, opts)
  await app.register(chatsHttpApi, opts)
  t.teardown(() => app.close())

  const q = new URLSearchParams(Object.entries(FORGED).map(([k, v]): [string, string] => [k, String(v)])).toString()
  const requests: Array<[string, string, Record<string, unknown>?]> = [
    ['POST', '/User', { username: 'ann', password: 'pw' }],
    ['GET', '/User/user2'],
    ['POST', '/Login', { username: 'ann', password: 'pw' }],
    ['POST', '/Logout'],
    ['GET', '/Room'],
    ['POST', '/Room', { name: 'hall' }],
    ['DELETE', `/Room/${ROOM}`],
    ['GET', `/Room/${ROOM}`],
    ['POST', '/chat_rooms', { title: 'hall' }],
    ['POST', `/chat_rooms/${ROOM}/message`, { message: 'x', type: 'text' }],
    ['GET', '/chat_rooms/message/unread'],
    ['POST', `/chat_rooms/${ROOM}/message/read`],
    ['GET', '/chat_rooms'],
    ['GET', `/chat_rooms/${ROOM}/users`],
  ]
  for (const prefix of ['/chats', '/chats_v2']) {
    requests.push(
      ['POST', prefix, { receiver_id: PEER, message: 'x', type: 'text' }],
      ['GET', `${prefix}/unread`],
      ['GET', prefix],
      ['GET', `${prefix}/users/${ME}/${PEER}`],
      ['GET', `${prefix}/users/${VICTIM}/${PEER}`],
      ['GET', `${prefix}/9`],
      ['GET', `${prefix}/${ME}/${PEER}`],
      ['GET', `${prefix}/${VICTIM}/${PEER}`],
      ['DELETE', `${prefix}/9`]
    )
  }
  requests.push(['POST', '/chats/read', { chat_id: 9 }])
  for (const [method, url, body] of requests) {
    const before = calls.length
    for (const payload of body ? [body, { ...FORGED, ...body }] : [undefined]) {
      await app.inject({ method: method as 'GET', url: `${url}?${q}`, ...(payload ? { payload } : {}) })
    }
    checkCommands(t, calls.slice(before), `${method} ${url}`)
  }
  t.ok(calls.filter((c) => 'actorId' in c.req).length >= requests.length - 4, `${calls.length} commands checked`)
})

t.test('the pre-login client refuses commands that act as a user', async (t) => {
  const { commands, calls } = scriptedCommands(reply)
  const open = publicCommands(commands)
  t.throws(() => (open as any).call(Commands.message.send, { actorId: VICTIM, peerId: PEER, kind: 'text', content: 'x' }), { code: 'CHAT_INTERNAL' })
  t.same(calls, [])
  const actor = actAs(commands, sessionOf(ME))
  await actor.call(Commands.message.send, { ...({ actorId: VICTIM } as object), peerId: PEER, kind: 'text', content: 'x' })
  t.equal(calls[0]?.req.actorId, ME, 'a smuggled actorId is overwritten')
})
