import { ChatError, Commands, createValidator, type Session, type Validator } from '@chat/contracts'
import { toChatError } from '@chat/runtime'
import { Type } from '@sinclair/typebox'
import type { ConnectionContext, Frame, WsApi } from '../../ws-api.js'
import {
  DEFAULT_PAGE_SIZE, EventsRequests, idOf, isEventsType, PublicEvents,
  type EventsData, type EventsRequest, type EventsRequestType,
} from './schemas.js'
import { contactsUnread, fail, historyItem, newMessage, ok, pushFor, updateContact, updateUnread, type EventsPush } from './render.js'
import { allContacts } from '../../contacts.js'

/**
 * Document 000, the `events` API: `{event, data}` both ways. Answers are
 * only OK and FAIL (matched to requests by order: a socket's requests are
 * answered one at a time, in the order sent); pushes are only NOTIFY_*.
 * Users are named by username; ids go out as decimal strings.
 */

const Envelope = createValidator(Type.Object({
  event: Type.String({ minLength: 1, maxLength: 64 }),
  data: Type.Optional(Type.Unknown()),
}))

const dataValidators = Object.fromEntries(
  Object.entries(EventsRequests).map(([event, schema]) => [event, createValidator(schema)])
) as Record<EventsRequestType, Validator<(typeof EventsRequests)[EventsRequestType]>>

/** Offsets beyond this are refused by message.history. */
const MAX_HISTORY_OFFSET = 1_000_000

/** Pushes waiting for their lookups on one socket before new ones are dropped (events are at-most-once anyway). */
const MAX_PENDING_PUSHES = 1000

/** What an `events` socket remembers (in ctx.local). */
interface SocketState {
  /** CHAT_WITH's user: their messages to this socket are marked read as they are pushed. */
  chatWith?: number
  /** Pushes run one after another, so they arrive in the order their events came. */
  pushes: Promise<void>
  pending: number
  /** The last NOTIFY_UPDATE_CONTACT contacts sent, to skip repeating an identical one. */
  lastContacts?: string
  /** A CREATE_CONTACT or DELETE_CONTACT of this socket in progress; its answer carries the new list. */
  contactsRequest?: Promise<void>
}

/** Validates `data`; the only unions are ids, whose generic message is unhelpful. */
function validate<E extends EventsRequestType> (event: E, data: unknown): EventsData<E> {
  try {
    return dataValidators[event](data) as EventsData<E>
  } catch (err) {
    const e = toChatError(err)
    const union = /^([\w.]+): Expected union value$/.exec(e.message)
    if (union) throw new ChatError('CHAT_BAD_REQUEST', `${union[1]}: must be a positive integer below 2^53 or its decimal string`)
    throw e
  }
}

function stateOf (ctx: ConnectionContext): SocketState {
  let state = ctx.local.events as SocketState | undefined
  if (!state) {
    state = { pushes: Promise.resolve(), pending: 0 }
    ctx.local.events = state
  }
  return state
}

/** The user's contacts with their unread counts, as LIST_CONTACTS_UNREAD and NOTIFY_UPDATE_CONTACT show them. */
async function contactsOf (ctx: ConnectionContext, actorId: number): Promise<Record<string, number>> {
  const [contacts, { conversations }] = await Promise.all([
    allContacts(ctx.services.commands, actorId),
    ctx.services.commands.call(Commands.message.unread, { actorId }),
  ])
  return contactsUnread(contacts, conversations)
}

/**
 * Changes the contact list, then answers OK followed by the new list. The
 * contacts.changed event of the change reaches this socket too, usually
 * before the answer: its push waits for the answer and is dropped when the
 * list it would show is the one just sent.
 */
async function changeContacts (ctx: ConnectionContext, actorId: number, change: () => Promise<unknown>): Promise<Frame[]> {
  const state = stateOf(ctx)
  const work = (async () => {
    await change()
    const contacts = await contactsOf(ctx, actorId)
    state.lastContacts = JSON.stringify(contacts)
    return [ok(), updateContact(contacts)]
  })()
  const settled = work.then(() => undefined, () => undefined)
  state.contactsRequest = settled
  try {
    return await work
  } finally {
    if (state.contactsRequest === settled) state.contactsRequest = undefined
  }
}

type Handler<E extends EventsRequestType> = (ctx: ConnectionContext, data: EventsData<E>, session: Session) => Promise<Frame | Frame[]>
type Answered = Exclude<EventsRequestType, 'CHAT_RECEIVE_MSG'>

const handlers: { [E in Answered]: Handler<E> } = {
  async LOGON (ctx, d) {
    // Registers only: the client logs in with LOGIN, as the document shows.
    await ctx.services.commands.call(Commands.auth.register, { username: d.user, password: d.password })
    return ok()
  },

  async LOGIN (ctx, d) {
    const session = await ctx.services.commands.call(Commands.auth.login, { login: d.user, password: d.password })
    await ctx.login(session)
    const state = stateOf(ctx)
    state.chatWith = undefined
    state.lastContacts = undefined
    return ok({ token: session.token })
  },

  async LIST_CONTACTS_UNREAD (ctx, _d, session) {
    return ok({ contacts: await contactsOf(ctx, session.user.id) })
  },

  async CREATE_CONTACT (ctx, d, session) {
    return changeContacts(ctx, session.user.id, () =>
      ctx.services.commands.call(Commands.contact.add, { actorId: session.user.id, targetUsername: d.user }))
  },

  async DELETE_CONTACT (ctx, d, session) {
    return changeContacts(ctx, session.user.id, () =>
      ctx.services.commands.call(Commands.contact.remove, { actorId: session.user.id, targetUsername: d.user }))
  },

  async CHAT_WITH (ctx, d, session) {
    const peer = await ctx.services.users.require(d.user)
    if (peer.id === session.user.id) throw new ChatError('CHAT_SELF_TARGET')
    const state = stateOf(ctx)
    // Current from now on, so a message arriving during the read below is marked too.
    state.chatWith = peer.id
    try {
      await ctx.services.commands.call(Commands.message.read, { actorId: session.user.id, peerId: peer.id })
    } catch (err) {
      // Never talked yet: nothing to mark, and the chat is still open.
      if (toChatError(err).code !== 'CHAT_CONVERSATION_NOT_FOUND') throw err
    }
    return ok()
  },

  async CHAT_HISTORY (ctx, d, session) {
    const peer = await ctx.services.users.require(d.user)
    const page = d.page ?? 1
    const size = d.pagesize ?? DEFAULT_PAGE_SIZE
    const offset = (page - 1) * size
    if (offset > MAX_HISTORY_OFFSET) throw new ChatError('CHAT_BAD_REQUEST', `page: at most ${MAX_HISTORY_OFFSET} messages back`)
    const { messages } = await ctx.services.commands.call(Commands.message.history, {
      actorId: session.user.id, peerId: peer.id, offset, limit: size,
    })
    // A direct conversation has two senders: the two of them.
    const names = new Map([[session.user.id, session.user.username], [peer.id, peer.username]])
    return ok({ chat_history: messages.map((m) => historyItem(m, names)), current_page: page })
  },

  async CHAT_SEND_MSG (ctx, d, session) {
    const peer = await ctx.services.users.require(d.user)
    const { message } = await ctx.services.commands.call(Commands.message.send, {
      actorId: session.user.id,
      peerId: peer.id,
      kind: 'text',
      content: d.content,
      clientTime: d.time,
      originConnectionId: ctx.id,
    })
    return ok({ id: String(message.id) })
  },

  async CHAT_DELETE (ctx, d, session) {
    await ctx.services.commands.call(Commands.message.delete, {
      actorId: session.user.id, messageId: idOf(d.id), originConnectionId: ctx.id,
    })
    return ok()
  },
}

/** CHAT_RECEIVE_MSG: the client's receipt of a pushed message. Never answered, whatever happens. */
async function receive (ctx: ConnectionContext, req: Extract<EventsRequest, { event: 'CHAT_RECEIVE_MSG' }>): Promise<undefined> {
  const session = ctx.session
  if (!session || !req.data) {
    ctx.logger.debug({ connectionId: ctx.id, reason: session ? req.invalid : 'not logged in' }, 'CHAT_RECEIVE_MSG ignored')
    return undefined
  }
  try {
    await ctx.services.commands.call(Commands.message.read, { actorId: session.user.id, messageId: idOf(req.data.id) })
  } catch (err) {
    const e = toChatError(err)
    if (e.code === 'CHAT_INTERNAL' || e.retryable) ctx.logger.warn({ err, connectionId: ctx.id }, 'CHAT_RECEIVE_MSG failed')
    else ctx.logger.debug({ code: e.code, connectionId: ctx.id }, 'CHAT_RECEIVE_MSG refused')
  }
  return undefined
}

/** Sends one push, after the lookups it needs. */
async function deliver (ctx: ConnectionContext, userId: number, push: EventsPush): Promise<void> {
  // The socket logged in as someone else meanwhile: not theirs.
  if (ctx.session?.user.id !== userId) return
  const state = stateOf(ctx)
  const { commands, users } = ctx.services
  switch (push.kind) {
    case 'new-message': {
      const current = state.chatWith === push.senderId
      const [name] = await Promise.all([
        users.usernameOf(push.senderId),
        // The current chat's messages arrive already read.
        current
          ? commands.call(Commands.message.read, { actorId: userId, messageId: push.message.id }).catch((err: unknown) => {
            ctx.logger.warn({ err, messageId: push.message.id }, 'marking a message of the current chat read failed')
          })
          : undefined,
      ])
      ctx.send(newMessage(push.message, name))
      return
    }
    case 'unread': {
      // A new message of the current chat is being marked read here; the count that read produces follows.
      if (push.count > 0 && state.chatWith === push.peerId) return
      const name = await users.usernameOf(push.peerId)
      if (name !== '') ctx.send(updateUnread(name, push.count))
      return
    }
    case 'contacts': {
      // This socket's own change: its answer shows the list first.
      while (state.contactsRequest) await state.contactsRequest
      const contacts = await contactsOf(ctx, userId)
      const key = JSON.stringify(contacts)
      if (key === state.lastContacts) return
      state.lastContacts = key
      ctx.send(updateContact(contacts))
    }
  }
}

export const eventsApi: WsApi<EventsRequest> = {
  name: 'events',

  decode (frame) {
    const envelope = Envelope(frame)
    const event = envelope.event
    if (!isEventsType(event)) throw new ChatError('CHAT_UNKNOWN_TYPE', `unknown event ${JSON.stringify(event)}`)
    // `data` may be omitted when empty (null counts as omitted).
    const data = envelope.data ?? {}
    if (event === 'CHAT_RECEIVE_MSG') {
      try {
        return { event, data: validate(event, data) }
      } catch (err) {
        return { event, data: undefined, invalid: toChatError(err).message }
      }
    }
    return { event, data: validate(event, data) } as EventsRequest
  },

  async handle (ctx, req) {
    if (req.event === 'CHAT_RECEIVE_MSG') return receive(ctx, req)
    const session = PublicEvents.has(req.event) ? (ctx.session as Session) : ctx.requireSession()
    const handler = handlers[req.event] as Handler<Answered>
    return handler(ctx, req.data, session)
  },

  failure: (_req, _frame, err) => fail(err),

  render (ctx, event) {
    const userId = ctx.session?.user.id
    if (userId === undefined) return []
    const push = pushFor(userId, event)
    if (!push) return []
    const state = stateOf(ctx)
    if (state.pending >= MAX_PENDING_PUSHES) {
      ctx.logger.warn({ connectionId: ctx.id, kind: event.kind }, 'push dropped: too many pending on this socket')
      return []
    }
    state.pending++
    state.pushes = state.pushes
      .then(() => deliver(ctx, userId, push))
      .catch((err: unknown) => { ctx.logger.warn({ err, connectionId: ctx.id, kind: event.kind }, 'push failed') })
      .finally(() => { state.pending-- })
    return []
  },

  // The document has no rooms.
  renderRoom: () => [],

  // The document has no frame for it: the socket is closed with 4001.
  revoked: () => undefined,
}
