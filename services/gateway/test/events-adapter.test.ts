import t from 'tap'
import { ChatError, Commands, type Message, type PublicUser, type Session, type UserEvent } from '@chat/contracts'
import { createLogger } from '@chat/runtime'
import { eventsApi } from '../src/apis/events/adapter.js'
import { contactsUnread, pushFor } from '../src/apis/events/render.js'
import type { ApiServices, ConnectionContext, Frame } from '../src/ws-api.js'
import type { UserDirectory } from '../src/user-directory.js'
import { scriptedCommands } from './fakes.js'

const ME = 1
const PEER = 2
const users: PublicUser[] = [
  { id: ME, username: 'me@example.com', nickname: '', avatar: '' },
  { id: PEER, username: 'eva@example.com', nickname: '', avatar: '' },
  { id: 3, username: 'zed@example.com', nickname: '', avatar: '' },
]

function message (over: Partial<Message> = {}): Message {
  return { id: 100, conversationId: 9, seq: 1, senderId: PEER, recipientId: ME, kind: 'text', content: 'hi', createdAt: '2026-11-21T22:19:22.123Z', ...over }
}

/** A socket with scripted command replies; records every call and frame. */
function fakeSocket (reply: (subject: string, req: any) => unknown = () => ({})) {
  const { commands, calls } = scriptedCommands(reply)
  const sent: Frame[] = []
  const directory = {
    async require (name: string) {
      const u = users.find((x) => x.username.toLowerCase() === name.toLowerCase())
      if (!u) throw new ChatError('CHAT_USER_NOT_FOUND')
      return u
    },
    async usernameOf (id: number) { return users.find((x) => x.id === id)?.username ?? '' },
  } as unknown as UserDirectory
  let session: Session | undefined = { user: { id: ME, username: 'me@example.com' } } as Session
  const ctx: ConnectionContext = {
    id: 'gw:1',
    get session () { return session },
    services: { commands, users: directory } as unknown as ApiServices,
    logger: createLogger('test', 'silent'),
    local: {},
    requireSession () {
      if (!session) throw new ChatError('CHAT_UNAUTHENTICATED')
      return session
    },
    async login (s) { session = s },
    logout () { session = undefined },
    updateSession () {},
    send (frame) { sent.push(frame) },
    close () {},
  }
  return { ctx, calls, sent, logout: () => { session = undefined } }
}

async function settle (ctx: ConnectionContext): Promise<void> {
  await (ctx.local.events as { pushes: Promise<void> } | undefined)?.pushes
}

t.test('decoding: the envelope, the event and its data', async (t) => {
  t.same(eventsApi.decode({ event: 'LOGIN', data: { user: 'a@b.c', password: 'x' } }), { event: 'LOGIN', data: { user: 'a@b.c', password: 'x' } })
  t.same(eventsApi.decode({ event: 'LIST_CONTACTS_UNREAD' }), { event: 'LIST_CONTACTS_UNREAD', data: {} }, 'data may be omitted')
  t.same(eventsApi.decode({ event: 'CHAT_DELETE', data: { id: '123' } }), { event: 'CHAT_DELETE', data: { id: '123' } }, 'ids as strings')
  t.same(eventsApi.decode({ event: 'CHAT_DELETE', data: { id: 123 } }), { event: 'CHAT_DELETE', data: { id: 123 } }, 'or numbers')
  t.throws(() => eventsApi.decode({ event: 'CHAT_DELETE', data: { id: '58d2384deba27c5fb1e7600e' } }), { code: 'CHAT_BAD_REQUEST', message: 'id: must be a positive integer below 2^53 or its decimal string' }, 'hex is not an id')
  t.throws(() => eventsApi.decode({ event: 'CHAT_DELETE', data: { id: 2 ** 60 } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'CHAT_DELETE', data: { id: '99999999999999999' } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'CHAT_DELETE', data: { id: 0 } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'NOPE' }), { code: 'CHAT_UNKNOWN_TYPE' })
  t.throws(() => eventsApi.decode({ event: 'OK', data: {} }), { code: 'CHAT_UNKNOWN_TYPE' }, 'answers are not requests')
  t.throws(() => eventsApi.decode({ event: 'NOTIFY_NEW_MSG', data: {} }), { code: 'CHAT_UNKNOWN_TYPE' })
  t.throws(() => eventsApi.decode({ event: 'toString' }), { code: 'CHAT_UNKNOWN_TYPE' }, 'no prototype keys')
  t.throws(() => eventsApi.decode({ data: {} }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode([1]), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'LOGIN', data: { user: { $gt: '' }, password: 'x' } }), { code: 'CHAT_BAD_REQUEST' }, 'operator injection')
  t.throws(() => eventsApi.decode({ event: 'CREATE_CONTACT', data: {} }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'CHAT_HISTORY', data: { user: 'a', page: 0 } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'CHAT_HISTORY', data: { user: 'a', pagesize: 101 } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'CHAT_SEND_MSG', data: { user: 'a', content: 5 } }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => eventsApi.decode({ event: 'LIST_CONTACTS_UNREAD', data: 'x' }), { code: 'CHAT_BAD_REQUEST' })
})

t.test('a malformed CHAT_RECEIVE_MSG still decodes: it is never answered', async (t) => {
  const bad = eventsApi.decode({ event: 'CHAT_RECEIVE_MSG', data: { content: 'the document\'s shape' } })
  t.match(bad, { event: 'CHAT_RECEIVE_MSG', data: undefined, invalid: /id/ })
  const { ctx, calls } = fakeSocket()
  t.equal(await eventsApi.handle(ctx, bad), undefined)
  t.same(calls, [], 'nothing called')
  const good = eventsApi.decode({ event: 'CHAT_RECEIVE_MSG', data: { id: '100' } })
  const failing = fakeSocket(() => new ChatError('CHAT_MESSAGE_NOT_FOUND'))
  t.equal(await eventsApi.handle(failing.ctx, good), undefined, 'a refused receipt is silent')
  t.same(failing.calls, [{ subject: Commands.message.read, req: { actorId: ME, messageId: 100 } }])
  failing.logout()
  t.equal(await eventsApi.handle(failing.ctx, good), undefined, 'before login too')
})

t.test('failures are FAIL {msg}; the document\'s "Already exists" where it shows it', async (t) => {
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_USERNAME_TAKEN')), { event: 'FAIL', data: { msg: 'Already exists' } })
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_CONTACT_EXISTS', 'Already a contact')), { event: 'FAIL', data: { msg: 'Already exists' } })
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_USER_NOT_FOUND')), { event: 'FAIL', data: { msg: 'No such user' } })
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_BAD_REQUEST', 'user: Expected string')), { event: 'FAIL', data: { msg: 'user: Expected string' } })
})

t.test('requests other than LOGON and LOGIN need a login', async (t) => {
  const { ctx, calls, logout } = fakeSocket()
  logout()
  await t.rejects(eventsApi.handle(ctx, eventsApi.decode({ event: 'LIST_CONTACTS_UNREAD' })), { code: 'CHAT_UNAUTHENTICATED' })
  await t.rejects(eventsApi.handle(ctx, eventsApi.decode({ event: 'CHAT_SEND_MSG', data: { user: 'eva@example.com', content: 'x' } })), { code: 'CHAT_UNAUTHENTICATED' })
  t.same(calls, [])
})

t.test('requests map onto commands', async (t) => {
  const { ctx, calls } = fakeSocket((subject) => {
    switch (subject) {
      case Commands.message.history: return { conversationId: 9, hasMore: true, messages: [message({ id: 7, senderId: ME, recipientId: PEER, content: 'a' }), message({ id: 8, content: 'b' })] }
      case Commands.message.send: return { message: message({ id: 12345678901, senderId: ME, recipientId: PEER }), duplicate: false }
      case Commands.message.read: return new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      case Commands.contact.list: return { contacts: [{ userId: PEER, username: 'eva@example.com' }, { userId: 3, username: 'zed@example.com' }] }
      case Commands.message.unread: return { conversations: [{ conversationId: 9, peerId: PEER, count: 2 }, { conversationId: 11, count: 5 }] }
      default: return {}
    }
  })
  const run = (frame: unknown) => eventsApi.handle(ctx, eventsApi.decode(frame))

  t.same(await run({ event: 'CHAT_HISTORY', data: { user: 'EVA@example.com', page: 3, pagesize: 2 } }), {
    event: 'OK',
    data: {
      chat_history: [
        { content: 'a', time: '2026-11-21T22:19:22.123Z', user: 'me@example.com', id: '7' },
        { content: 'b', time: '2026-11-21T22:19:22.123Z', user: 'eva@example.com', id: '8' },
      ],
      current_page: 3,
    },
  })
  t.same(calls.at(-1), { subject: Commands.message.history, req: { actorId: ME, peerId: PEER, offset: 4, limit: 2 } }, 'page 3 skips the 4 newest')
  await run({ event: 'CHAT_HISTORY', data: { user: 'eva@example.com' } })
  t.same(calls.at(-1)?.req, { actorId: ME, peerId: PEER, offset: 0, limit: 20 }, 'defaults: page 1 of 20')
  await t.rejects(run({ event: 'CHAT_HISTORY', data: { user: 'eva@example.com', page: 1_000_000, pagesize: 100 } }), { code: 'CHAT_BAD_REQUEST' })

  t.same(await run({ event: 'CHAT_SEND_MSG', data: { user: 'eva@example.com', content: 'yo', time: '2017-03-22T16:36:45.272345' } }), { event: 'OK', data: { id: '12345678901' } })
  t.same(calls.at(-1)?.req, { actorId: ME, peerId: PEER, kind: 'text', content: 'yo', clientTime: '2017-03-22T16:36:45.272345', originConnectionId: 'gw:1' })
  await t.rejects(run({ event: 'CHAT_SEND_MSG', data: { user: 'nobody@example.com', content: 'yo' } }), { code: 'CHAT_USER_NOT_FOUND' })

  t.same(await run({ event: 'CHAT_WITH', data: { user: 'eva@example.com' } }), { event: 'OK', data: {} }, 'no conversation yet: still OK')
  t.same(calls.at(-1), { subject: Commands.message.read, req: { actorId: ME, peerId: PEER } })
  t.equal((ctx.local.events as { chatWith?: number }).chatWith, PEER)
  await t.rejects(run({ event: 'CHAT_WITH', data: { user: 'me@example.com' } }), { code: 'CHAT_SELF_TARGET' })

  t.same(await run({ event: 'LIST_CONTACTS_UNREAD' }), { event: 'OK', data: { contacts: { 'eva@example.com': 2, 'zed@example.com': 0 } } })
  t.same(await run({ event: 'CREATE_CONTACT', data: { user: 'zed@example.com' } }), [
    { event: 'OK', data: {} },
    { event: 'NOTIFY_UPDATE_CONTACT', data: { contacts: { 'eva@example.com': 2, 'zed@example.com': 0 } } },
  ])
  t.ok(calls.some((c) => c.subject === Commands.contact.add && c.req.targetUsername === 'zed@example.com'))
  t.same(await run({ event: 'CHAT_DELETE', data: { id: '77' } }), { event: 'OK', data: {} })
  t.same(calls.at(-1), { subject: Commands.message.delete, req: { actorId: ME, messageId: 77, originConnectionId: 'gw:1' } })
})

t.test('LOGON registers without logging in; LOGIN logs in and answers the token', async (t) => {
  const { ctx, calls, logout } = fakeSocket((subject) => subject === Commands.auth.login ? { user: { id: ME, username: 'me@example.com' }, token: 'jwt', sessionId: 's', expiresAt: '' } : {})
  logout()
  t.same(await eventsApi.handle(ctx, eventsApi.decode({ event: 'LOGON', data: { user: 'me@example.com', password: 'pw' } })), { event: 'OK', data: {} })
  t.equal(ctx.session, undefined)
  t.same(calls[0], { subject: Commands.auth.register, req: { username: 'me@example.com', password: 'pw' } })
  t.same(await eventsApi.handle(ctx, eventsApi.decode({ event: 'LOGIN', data: { user: 'me@example.com', password: 'pw' } })), { event: 'OK', data: { token: 'jwt' } })
  t.equal(ctx.session?.user.id, ME)
})

t.test('which events an events socket shows', async (t) => {
  t.match(pushFor(ME, { kind: 'message.new', userId: ME, message: message() }), { kind: 'new-message' })
  t.equal(pushFor(ME, { kind: 'message.new', userId: ME, message: message({ senderId: ME, recipientId: PEER }) }), undefined, 'not one\'s own')
  t.equal(pushFor(ME, { kind: 'message.new', userId: ME, message: message({ recipientId: undefined }) }), undefined, 'not rooms')
  t.same(pushFor(ME, { kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 3 }), { kind: 'unread', peerId: PEER, count: 3 })
  t.equal(pushFor(ME, { kind: 'unread.changed', userId: ME, conversationId: 9, count: 3 }), undefined, 'rooms have no peer')
  t.same(pushFor(ME, { kind: 'contacts.changed', userId: ME, added: PEER }), { kind: 'contacts' })
  t.equal(pushFor(ME, { kind: 'presence.changed', userId: ME, contactId: PEER, online: true }), undefined)
  t.same(contactsUnread([{ userId: 3, username: 'z' }, { userId: 2, username: 'e' }], [{ peerId: 2, count: 4 }, { count: 9 }]), { z: 0, e: 4 })
})

t.test('pushes keep their order, and the current chat\'s messages arrive read', async (t) => {
  const { ctx, calls, sent } = fakeSocket((subject) => {
    if (subject === Commands.contact.list) return { contacts: [{ userId: PEER, username: 'eva@example.com' }] }
    if (subject === Commands.message.unread) return { conversations: [] }
    if (subject === Commands.message.read) return { conversationId: 9, unread: 0 }
    return {}
  })
  const events: UserEvent[] = [
    { kind: 'message.new', userId: ME, message: message({ id: 100 }) },
    { kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 1 },
    { kind: 'contacts.changed', userId: ME, added: PEER },
    { kind: 'contacts.changed', userId: ME, added: PEER },
  ]
  for (const e of events) t.same(eventsApi.render(ctx, e), [], 'sent later, after lookups')
  await settle(ctx)
  t.same(sent, [
    { event: 'NOTIFY_NEW_MSG', data: { msg: { id: '100', content: 'hi', time: '2026-11-21T22:19:22.123Z', from_email: 'eva@example.com' } } },
    { event: 'NOTIFY_UPDATE_UNREAD', data: { unread_msg_count: { 'eva@example.com': 1 } } },
    { event: 'NOTIFY_UPDATE_CONTACT', data: { contacts: { 'eva@example.com': 0 } } },
  ], 'in event order; an identical contact list is not repeated')
  t.notOk(calls.some((c) => c.subject === Commands.message.read), 'not the current chat: not marked')

  sent.length = 0
  await eventsApi.handle(ctx, eventsApi.decode({ event: 'CHAT_WITH', data: { user: 'eva@example.com' } }))
  calls.length = 0
  eventsApi.render(ctx, { kind: 'message.new', userId: ME, message: message({ id: 101 }) })
  eventsApi.render(ctx, { kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 1 })
  eventsApi.render(ctx, { kind: 'message.new', userId: ME, message: message({ id: 102, senderId: 3 }) })
  eventsApi.render(ctx, { kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 0 })
  await settle(ctx)
  t.same(calls.filter((c) => c.subject === Commands.message.read).map((c) => c.req), [{ actorId: ME, messageId: 101 }], 'only the current chat\'s message')
  t.same(sent.map((f) => f.event), ['NOTIFY_NEW_MSG', 'NOTIFY_NEW_MSG', 'NOTIFY_UPDATE_UNREAD'], 'the passing count of 1 is not shown')
  t.same(sent[2], { event: 'NOTIFY_UPDATE_UNREAD', data: { unread_msg_count: { 'eva@example.com': 0 } } })
})

t.test('a failing push is logged and does not stop the ones after it', async (t) => {
  let failContacts = true
  const { ctx, sent } = fakeSocket((subject) => {
    if (subject === Commands.contact.list) {
      if (failContacts) { failContacts = false; return new ChatError('CHAT_TIMEOUT') }
      return { contacts: [] }
    }
    if (subject === Commands.message.unread) return { conversations: [] }
    return {}
  })
  eventsApi.render(ctx, { kind: 'contacts.changed', userId: ME, added: PEER })
  eventsApi.render(ctx, { kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 2 })
  await settle(ctx)
  t.same(sent.map((f) => f.event), ['NOTIFY_UPDATE_UNREAD'])
  t.same(eventsApi.renderRoom(ctx, { kind: 'room.deleted', roomId: 5 }), [])
  t.equal(eventsApi.revoked(ctx), undefined)
})
