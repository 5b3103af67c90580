import t from 'tap'
import { ChatError, Commands, ErrorCatalogue, type Message, type PublicUser, type Session, type UserEvent } from '@chat/contracts'
import { eventsApi } from '../src/apis/events/adapter.js'
import { contactsUnread, pushFor } from '../src/apis/events/render.js'
import type { UserDirectory } from '../src/user-directory.js'
import { sessionOf, testConnection } from './fakes.js'

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

const directory = {
  async require (name: string) {
    const u = users.find((x) => x.username.toLowerCase() === name.toLowerCase())
    if (!u) throw new ChatError('CHAT_USER_NOT_FOUND')
    return u
  },
  async usernameOf (id: number) { return users.find((x) => x.id === id)?.username ?? '' },
} as unknown as UserDirectory

const me: Session = { ...sessionOf(ME, 'me@example.com') }

/** A real connection with scripted command replies; records every call and frame. */
function fakeSocket (reply: (subject: string, req: any) => unknown = () => ({}), loggedIn = true) {
  return testConnection(eventsApi, { reply, users: directory, session: loggedIn ? me : null })
}

t.test('decoding: the envelope, the event and its data', async (t) => {
  t.same(eventsApi.decode({ event: 'LOGIN', data: { user: 'a@b.c', password: 'x' } }), { type: 'LOGIN', payload: { user: 'a@b.c', password: 'x' } })
  t.same(eventsApi.decode({ event: 'LIST_CONTACTS_UNREAD' }), { type: 'LIST_CONTACTS_UNREAD', payload: {} }, 'data may be omitted')
  t.same(eventsApi.decode({ event: 'CHAT_DELETE', data: { id: '123' } }), { type: 'CHAT_DELETE', payload: { id: '123' } }, 'ids as strings')
  t.same(eventsApi.decode({ event: 'CHAT_DELETE', data: { id: 123 } }), { type: 'CHAT_DELETE', payload: { id: 123 } }, 'or numbers')
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
  t.match(bad, { type: 'CHAT_RECEIVE_MSG', payload: { data: undefined, invalid: /id/ } })
  const ok = await fakeSocket()
  t.same(await ok.run({ event: 'CHAT_RECEIVE_MSG', data: { content: 'the document\'s shape' } }), [], 'not answered')
  t.same(ok.calls, [], 'nothing called')
  const failing = await fakeSocket(() => new ChatError('CHAT_MESSAGE_NOT_FOUND'))
  t.same(await failing.run({ event: 'CHAT_RECEIVE_MSG', data: { id: '100' } }), [], 'a refused receipt is silent')
  t.same(failing.calls, [{ subject: Commands.message.read, req: { messageId: 100, actorId: ME } }])
  const anonymous = await fakeSocket(() => ({}), false)
  t.same(await anonymous.run({ event: 'CHAT_RECEIVE_MSG', data: { id: '100' } }), [], 'before login too')
  t.same(anonymous.calls, [])
})

t.test('failures are FAIL {msg}; the document\'s "Already exists" where it shows it', async (t) => {
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_USERNAME_TAKEN')), { event: 'FAIL', data: { msg: 'Already exists' } })
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_CONTACT_EXISTS', 'Already a contact')), { event: 'FAIL', data: { msg: 'Already exists' } })
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_USER_NOT_FOUND')), { event: 'FAIL', data: { msg: 'No such user' } })
  t.same(eventsApi.failure(undefined, {}, new ChatError('CHAT_BAD_REQUEST', 'user: Expected string')), { event: 'FAIL', data: { msg: 'user: Expected string' } })
})

t.test('requests other than LOGON and LOGIN need a login', async (t) => {
  const { run, calls } = await fakeSocket(() => ({}), false)
  const unauthenticated = { event: 'FAIL', data: { msg: ErrorCatalogue.CHAT_UNAUTHENTICATED.message } }
  t.same(await run({ event: 'LIST_CONTACTS_UNREAD' }), [unauthenticated])
  t.same(await run({ event: 'CHAT_SEND_MSG', data: { user: 'eva@example.com', content: 'x' } }), [unauthenticated])
  t.same(calls, [])
})

t.test('requests map onto commands', async (t) => {
  const { run, calls, connection } = await fakeSocket((subject) => {
    switch (subject) {
      case Commands.message.history: return { conversationId: 9, hasMore: false, messages: [message({ id: 7, senderId: ME, recipientId: PEER, content: 'a' }), message({ id: 8, content: 'b' })] }
      case Commands.message.send: return { message: message({ id: 12345678901, senderId: ME, recipientId: PEER }), duplicate: false }
      case Commands.message.read: return new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      case Commands.contact.list: return { contacts: [{ userId: PEER, username: 'eva@example.com' }, { userId: 3, username: 'zed@example.com' }], next: null }
      case Commands.message.unread: return { conversations: [{ conversationId: 9, peerId: PEER, count: 2 }, { conversationId: 11, count: 5 }] }
      default: return {}
    }
  })
  const fail = (code: keyof typeof ErrorCatalogue) => [{ event: 'FAIL', data: { msg: ErrorCatalogue[code].message } }]

  t.same(await run({ event: 'CHAT_HISTORY', data: { user: 'EVA@example.com', page: 3, pagesize: 2 } }), [{
    event: 'OK',
    data: {
      chat_history: [
        { content: 'a', time: '2026-11-21T22:19:22.123Z', user: 'me@example.com', id: '7' },
        { content: 'b', time: '2026-11-21T22:19:22.123Z', user: 'eva@example.com', id: '8' },
      ],
      current_page: 3,
    },
  }])
  t.same(calls.at(-1), { subject: Commands.message.history, req: { peerId: PEER, offset: 4, limit: 2, actorId: ME } }, 'page 3 skips the 4 newest')
  await run({ event: 'CHAT_HISTORY', data: { user: 'eva@example.com' } })
  t.same(calls.at(-1)?.req, { peerId: PEER, offset: 0, limit: 20, actorId: ME }, 'defaults: page 1 of 20')
  t.match(await run({ event: 'CHAT_HISTORY', data: { user: 'eva@example.com', page: 1_000_000, pagesize: 100 } }), [{ event: 'FAIL', data: { msg: /page/ } }])

  t.same(await run({ event: 'CHAT_SEND_MSG', data: { user: 'eva@example.com', content: 'yo', time: '2017-03-22T16:36:45.272345' } }), [{ event: 'OK', data: { id: '12345678901' } }])
  t.same(calls.at(-1)?.req, { peerId: PEER, kind: 'text', content: 'yo', clientTime: '2017-03-22T16:36:45.272345', originConnectionId: 'gw:1', actorId: ME })
  t.same(await run({ event: 'CHAT_SEND_MSG', data: { user: 'nobody@example.com', content: 'yo' } }), fail('CHAT_USER_NOT_FOUND'))

  t.same(await run({ event: 'CHAT_WITH', data: { user: 'eva@example.com' } }), [{ event: 'OK', data: {} }], 'no conversation yet: still OK')
  t.same(calls.at(-1), { subject: Commands.message.read, req: { peerId: PEER, actorId: ME } })
  t.equal(connection.state.chatWith, PEER)
  t.same(await run({ event: 'CHAT_WITH', data: { user: 'me@example.com' } }), fail('CHAT_SELF_TARGET'))

  t.same(await run({ event: 'LIST_CONTACTS_UNREAD' }), [{ event: 'OK', data: { contacts: { 'eva@example.com': 2, 'zed@example.com': 0 } } }])
  t.same(await run({ event: 'CREATE_CONTACT', data: { user: 'zed@example.com' } }), [
    { event: 'OK', data: {} },
    { event: 'NOTIFY_UPDATE_CONTACT', data: { contacts: { 'eva@example.com': 2, 'zed@example.com': 0 } } },
  ])
  t.ok(calls.some((c) => c.subject === Commands.contact.add && c.req.targetUsername === 'zed@example.com'))
  t.same(await run({ event: 'CHAT_DELETE', data: { id: '77' } }), [{ event: 'OK', data: {} }])
  t.same(calls.at(-1), { subject: Commands.message.delete, req: { messageId: 77, originConnectionId: 'gw:1', actorId: ME } })
})

t.test('LOGON registers without logging in; LOGIN logs in and answers the token', async (t) => {
  const { run, calls, connection } = await fakeSocket((subject) => subject === Commands.auth.login ? { ...me, token: 'jwt' } : {}, false)
  t.same(await run({ event: 'LOGON', data: { user: 'me@example.com', password: 'pw' } }), [{ event: 'OK', data: {} }])
  t.equal(connection.actor, undefined)
  t.same(calls[0], { subject: Commands.auth.register, req: { username: 'me@example.com', password: 'pw' } })
  t.same(await run({ event: 'LOGIN', data: { user: 'me@example.com', password: 'pw' } }), [{ event: 'OK', data: { token: 'jwt' } }])
  t.equal(connection.actor?.userId, ME)
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
  const { connection, run, calls, sent, idle } = await fakeSocket((subject) => {
    if (subject === Commands.contact.list) return { contacts: [{ userId: PEER, username: 'eva@example.com' }], next: null }
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
  for (const e of events) connection.deliver(e)
  t.same(sent, [], 'sent later, after lookups')
  await idle()
  t.same(sent, [
    { event: 'NOTIFY_NEW_MSG', data: { msg: { id: '100', content: 'hi', time: '2026-11-21T22:19:22.123Z', from_email: 'eva@example.com' } } },
    { event: 'NOTIFY_UPDATE_UNREAD', data: { unread_msg_count: { 'eva@example.com': 1 } } },
    { event: 'NOTIFY_UPDATE_CONTACT', data: { contacts: { 'eva@example.com': 0 } } },
  ], 'in event order; an identical contact list is not repeated')
  t.notOk(calls.some((c) => c.subject === Commands.message.read), 'not the current chat: not marked')

  await run({ event: 'CHAT_WITH', data: { user: 'eva@example.com' } })
  sent.length = 0
  calls.length = 0
  connection.deliver({ kind: 'message.new', userId: ME, message: message({ id: 101 }) })
  connection.deliver({ kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 1 })
  connection.deliver({ kind: 'message.new', userId: ME, message: message({ id: 102, senderId: 3 }) })
  connection.deliver({ kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 0 })
  await idle()
  t.same(calls.filter((c) => c.subject === Commands.message.read).map((c) => c.req), [{ messageId: 101, actorId: ME }], 'only the current chat\'s message')
  t.same(sent.map((f) => f.event), ['NOTIFY_NEW_MSG', 'NOTIFY_NEW_MSG', 'NOTIFY_UPDATE_UNREAD'], 'the passing count of 1 is not shown')
  t.same(sent[2], { event: 'NOTIFY_UPDATE_UNREAD', data: { unread_msg_count: { 'eva@example.com': 0 } } })
})

t.test('a failing push is logged and does not stop the ones after it', async (t) => {
  let failContacts = true
  const { connection, sent, idle } = await fakeSocket((subject) => {
    if (subject === Commands.contact.list) {
      if (failContacts) { failContacts = false; return new ChatError('CHAT_TIMEOUT') }
      return { contacts: [], next: null }
    }
    if (subject === Commands.message.unread) return { conversations: [] }
    return {}
  })
  connection.deliver({ kind: 'contacts.changed', userId: ME, added: PEER })
  connection.deliver({ kind: 'unread.changed', userId: ME, conversationId: 9, peerId: PEER, count: 2 })
  await idle()
  t.same(sent.map((f) => f.event), ['NOTIFY_UPDATE_UNREAD'])
  connection.deliver({ kind: 'room.deleted', roomId: 5 })
  await idle()
  t.equal(sent.length, 1, 'no rooms in this document')
  t.equal(eventsApi.revoked(connection), undefined)
})
