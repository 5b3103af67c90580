import { ChatError, Commands, createValidator, type Validator } from '@chat/contracts'
import { toChatError } from '@chat/runtime'
import { Type } from '@sinclair/typebox'
import type { Actor } from '../../actor.js'
import type { ConnectionContext, Frame, WsApi, WsHandler } from '../../ws-api.js'
import {
  DEFAULT_PAGE_SIZE, EventsRequests, idOf, isEventsType, PublicEvents,
  type EventsData, type EventsRequest, type EventsRequestType,
} from './schemas.js'
import { contactsUnread, fail, historyItem, newMessage, ok, pushFor, updateContact, updateUnread, type EventsPush } from './render.js'
import { allContacts, historyAt } from '../../lists.js'

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

/** What an `events` socket remembers. */
interface SocketState {
  /** CHAT_WITH's user: their messages to this socket are marked read as they are pushed. */
  chatWith?: number
  /** The last NOTIFY_UPDATE_CONTACT contacts sent, to skip repeating an identical one. */
  lastContacts?: string
  /** A CREATE_CONTACT or DELETE_CONTACT of this socket in progress; its answer carries the new list. */
  contactsRequest?: Promise<void>
}

type Ctx = ConnectionContext<SocketState>

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

/** The user's contacts with their unread counts, as LIST_CONTACTS_UNREAD and NOTIFY_UPDATE_CONTACT show them. */
async function contactsOf (actor: Actor): Promise<Record<string, number>> {
  const [contacts, { conversations }] = await Promise.all([
    allContacts(actor),
    actor.call(Commands.message.unread, {}),
  ])
  return contactsUnread(contacts, conversations)
}

/**
 * Changes the contact list, then answers OK followed by the new list. The
 * contacts.changed event of the change reaches this socket too, usually
 * before the answer: its push waits for the answer and is dropped when the
 * list it would show is the one just sent.
 */
async function changeContacts (ctx: Ctx, actor: Actor, change: () => Promise<unknown>): Promise<Frame[]> {
  const state = ctx.state
  const work = (async () => {
    await change()
    const contacts = await contactsOf(actor)
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

type Handler<E extends EventsRequestType> = WsHandler<SocketState, EventsRequest, E>
type PublicHandler<E extends EventsRequestType> = WsHandler<SocketState, EventsRequest, E, Actor | undefined>
type PublicEvent = 'LOGON' | 'LOGIN' | 'CHAT_RECEIVE_MSG'

const handlers: { [E in Exclude<EventsRequestType, PublicEvent>]: Handler<E> } & { [E in PublicEvent]: PublicHandler<E> } = {
  async LOGON (ctx, d) {
    // Registers only: the client logs in with LOGIN, as the document shows.
    await ctx.services.commands.call(Commands.auth.register, { username: d.user, password: d.password })
    return ok()
  },

  async LOGIN (ctx, d) {
    const session = await ctx.services.commands.call(Commands.auth.login, { login: d.user, password: d.password, clientAddress: ctx.clientAddress })
    await ctx.login(session)
    ctx.state.chatWith = undefined
    ctx.state.lastContacts = undefined
    return ok({ token: session.token })
  },

  async LIST_CONTACTS_UNREAD (_ctx, _d, actor) {
    return ok({ contacts: await contactsOf(actor) })
  },

  async CREATE_CONTACT (ctx, d, actor) {
    return changeContacts(ctx, actor, () => actor.call(Commands.contact.add, { targetUsername: d.user }))
  },

  async DELETE_CONTACT (ctx, d, actor) {
    return changeContacts(ctx, actor, () => actor.call(Commands.contact.remove, { targetUsername: d.user }))
  },

  async CHAT_WITH (ctx, d, actor) {
    const peer = await ctx.services.users.require(d.user)
    if (peer.id === actor.userId) throw new ChatError('CHAT_SELF_TARGET')
    // Current from now on, so a message arriving during the read below is marked too.
    ctx.state.chatWith = peer.id
    try {
      await actor.call(Commands.message.read, { peerId: peer.id })
    } catch (err) {
      // Never talked yet: nothing to mark, and the chat is still open.
      if (toChatError(err).code !== 'CHAT_CONVERSATION_NOT_FOUND') throw err
    }
    return ok()
  },

  async CHAT_HISTORY (ctx, d, actor) {
    const peer = await ctx.services.users.require(d.user)
    const page = d.page ?? 1
    const size = d.pagesize ?? DEFAULT_PAGE_SIZE
    const offset = (page - 1) * size
    if (offset > MAX_HISTORY_OFFSET) throw new ChatError('CHAT_BAD_REQUEST', `page: at most ${MAX_HISTORY_OFFSET} messages back`)
    const { messages } = await historyAt(actor, { peerId: peer.id }, offset, size)
    // A direct conversation has two senders: the two of them.
    const names = new Map([[actor.userId, actor.session.user.username], [peer.id, peer.username]])
    return ok({ chat_history: messages.map((m) => historyItem(m, names)), current_page: page })
  },

  async CHAT_SEND_MSG (ctx, d, actor) {
    const peer = await ctx.services.users.require(d.user)
    const { message } = await actor.call(Commands.message.send, {
      peerId: peer.id,
      kind: 'text',
      content: d.content,
      clientTime: d.time,
      originConnectionId: ctx.id,
    })
    return ok({ id: String(message.id) })
  },

  async CHAT_DELETE (ctx, d, actor) {
    await actor.call(Commands.message.delete, { messageId: idOf(d.id), originConnectionId: ctx.id })
    return ok()
  },

  /** The client's receipt of a pushed message. Never answered, whatever happens. */
  async CHAT_RECEIVE_MSG (ctx, p, actor) {
    if (!actor || !p.data) {
      ctx.logger.debug({ connectionId: ctx.id, reason: actor ? p.invalid : 'not logged in' }, 'CHAT_RECEIVE_MSG ignored')
      return undefined
    }
    try {
      await actor.call(Commands.message.read, { messageId: idOf(p.data.id) })
    } catch (err) {
      const e = toChatError(err)
      if (e.code === 'CHAT_INTERNAL' || e.retryable) ctx.logger.warn({ err, connectionId: ctx.id }, 'CHAT_RECEIVE_MSG failed')
      else ctx.logger.debug({ code: e.code, connectionId: ctx.id }, 'CHAT_RECEIVE_MSG refused')
    }
    return undefined
  },
}

/** Sends one push, after the lookups it needs. */
async function deliver (ctx: Ctx, userId: number, push: EventsPush): Promise<void> {
  // The socket logged in as someone else meanwhile: not theirs.
  const actor = ctx.actor
  if (actor?.userId !== userId) return
  const state = ctx.state
  const { users } = ctx.services
  switch (push.kind) {
    case 'new-message': {
      const current = state.chatWith === push.senderId
      const [name] = await Promise.all([
        users.usernameOf(push.senderId),
        // The current chat's messages arrive already read.
        current
          ? actor.call(Commands.message.read, { messageId: push.message.id }).catch((err: unknown) => {
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
      const contacts = await contactsOf(actor)
      const key = JSON.stringify(contacts)
      if (key === state.lastContacts) return
      state.lastContacts = key
      ctx.send(updateContact(contacts))
    }
  }
}

export const eventsApi: WsApi<EventsRequest, SocketState> = {
  name: 'events',

  createState: () => ({}),

  pipelineKey: (req) => req.type === 'CHAT_SEND_MSG' ? `user:${req.payload.user}` : undefined,

  decode (frame) {
    const envelope = Envelope(frame)
    const event = envelope.event
    if (!isEventsType(event)) throw new ChatError('CHAT_UNKNOWN_TYPE', `unknown event ${JSON.stringify(event)}`)
    // `data` may be omitted when empty (null counts as omitted).
    const data = envelope.data ?? {}
    if (event === 'CHAT_RECEIVE_MSG') {
      try {
        return { type: event, payload: { data: validate(event, data) } }
      } catch (err) {
        return { type: event, payload: { data: undefined, invalid: toChatError(err).message } }
      }
    }
    return { type: event, payload: validate(event, data) } as EventsRequest
  },

  handlers,

  publicTypes: PublicEvents,

  failure: (_req, _frame, err) => fail(err),

  render (ctx, event) {
    const userId = ctx.actor?.userId
    if (userId === undefined) return
    const push = pushFor(userId, event)
    if (push) ctx.push(() => deliver(ctx, userId, push))
  },

  // The document has no frame for it: the socket is closed with 4001.
  revoked: () => undefined,
}
