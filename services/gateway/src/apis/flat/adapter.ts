import { ChatError, Commands, createValidator, type ErrorCode, type Message, type Session, type Validator } from '@chat/contracts'
import { toChatError } from '@chat/runtime'
import type { Actor } from '../../actor.js'
import { conversationPages, forEachPage, historyPages, ListCaps, unreadPages, type Page } from '../../lists.js'
import type { ConnectionContext, WsApi, WsHandler } from '../../ws-api.js'
import { emptyRead, flatDialogs, flatMessages, renderFlatEvent, type FlatRendered, type FlatViewer } from './render.js'
import { FlatRequests, isFlatType, kindOf, PublicTypes, type FlatRequest, type FlatRequestType } from './schemas.js'

const validators = Object.fromEntries(
  Object.entries(FlatRequests).map(([type, schema]) => [type, createValidator(schema)])
) as Record<FlatRequestType, Validator<(typeof FlatRequests)[FlatRequestType]>>

/** Page size of the lists read page by page (the services' maxima). */
const PAGE = 100
/** Deletion marks kept per socket before the oldest are forgotten. */
const MAX_DELETION_MARKS = 1000
/** The longest unknown `type` echoed back in a failure. */
const MAX_ECHOED_TYPE = 64

/**
 * Per-socket state: the conversations this socket asked to delete (their
 * DELETE_ROOM push would repeat its answer).
 */
class FlatState {
  readonly deleting = new Set<number>()

  markDeleting (id: number): void {
    if (this.deleting.size >= MAX_DELETION_MARKS) {
      const oldest = this.deleting.values().next().value
      if (oldest !== undefined) this.deleting.delete(oldest)
    }
    this.deleting.add(id)
  }
}

type Ctx = ConnectionContext<FlatState>

function viewerOf (ctx: Ctx): FlatViewer {
  return {
    connectionId: ctx.id,
    userId: ctx.actor?.userId ?? 0,
    ownDeletion: (id) => ctx.state.deleting.delete(id),
  }
}

function codeOf (err: unknown): ErrorCode {
  return toChatError(err).code
}

/** Usernames of some users; unknown (or unreachable) ones are simply missing. */
async function namesOf (ctx: Ctx, ids: number[]): Promise<Map<number, string>> {
  const names = new Map<number, string>()
  if (ids.length === 0) return names
  try {
    for (const [id, user] of await ctx.services.users.byIds(ids)) names.set(id, user.username)
  } catch {
    // A push must not be lost because a profile lookup failed: it goes out
    // with an empty `sender`/`customer` rather than not at all.
  }
  return names
}

/**
 * Sends what an event rendered to through the socket's push queue: frames
 * that need usernames wait for their lookups, and pushes behind them wait
 * their turn, so a socket sees pushes in the order the events came.
 */
function deliver (ctx: Ctx, rendered: FlatRendered): void {
  if (Array.isArray(rendered)) {
    if (rendered.length > 0) ctx.push(rendered)
    return
  }
  ctx.push(async () => {
    for (const frame of rendered.build(await namesOf(ctx, rendered.userIds))) ctx.send(frame)
  })
}

/**
 * A username inside a request must be the caller's own (any case; after a
 * rename, whatever the directory says is theirs), or nothing is done.
 */
async function requireOwnName (ctx: Ctx, session: Session, username: string): Promise<void> {
  if (username.toLowerCase() === session.user.username.toLowerCase()) return
  let id: number | undefined
  try {
    id = (await ctx.services.users.require(username)).id
  } catch (err) {
    const code = codeOf(err)
    if (code !== 'CHAT_USER_NOT_FOUND' && code !== 'CHAT_BAD_REQUEST') throw err
  }
  if (id !== session.user.id) throw new ChatError('CHAT_ID_MISMATCH', 'username: not the logged-in user')
}

/** Whether a login names an existing user (to tell LOGIN_WRONG_USER from LOGIN_WRONG_PASS). */
async function userExists (ctx: Ctx, login: string): Promise<boolean> {
  try {
    await ctx.services.users.require(login)
    return true
  } catch (err) {
    const code = codeOf(err)
    if (code === 'CHAT_USER_NOT_FOUND' || code === 'CHAT_BAD_REQUEST') return false
    throw err
  }
}

/**
 * READ_MSG's answer: the messages of a list, page by page as they are read
 * (oldest first, with their senders' usernames), or EMPTY when there are
 * none. Sent in the push queue's turn, so no live message interleaves.
 */
async function streamRead (ctx: Ctx, roomId: number, pages: (cursor: never, limit: number) => Promise<Page<Message, unknown>>, cap: number): Promise<undefined> {
  return await ctx.exclusive(async () => {
    let sent = 0
    await forEachPage(pages as (cursor: unknown, limit: number) => Promise<Page<Message, unknown>>, { cap, pageSize: PAGE }, async (messages) => {
      const names = await namesOf(ctx, [...new Set(messages.map((m) => m.senderId))])
      for (const frame of flatMessages(messages, names)) ctx.send(frame)
      sent += messages.length
    })
    if (sent === 0) ctx.send(emptyRead(roomId))
    return undefined
  })
}

type Handler<T extends FlatRequestType> = WsHandler<FlatState, FlatRequest, T>
type PublicHandler<T extends FlatRequestType> = WsHandler<FlatState, FlatRequest, T, Actor | undefined>
type PublicType = 'REQUEST_LOGIN' | 'REQUEST_SIGNUP'

/**
 * Document 004: one handler per request type, each mapping onto the same
 * service commands as every other API.
 */
const handlers: { [T in Exclude<FlatRequestType, PublicType>]: Handler<T> } & { [T in PublicType]: PublicHandler<T> } = {
  async REQUEST_LOGIN (ctx, req) {
    let session: Session
    try {
      session = await ctx.services.commands.call(Commands.auth.login, { login: req.login, password: req.pass, clientAddress: ctx.clientAddress })
    } catch (err) {
      const code = codeOf(err)
      // Values auth refuses outright (empty, too long) cannot be anyone's credentials either.
      if (code !== 'CHAT_BAD_CREDENTIALS' && code !== 'CHAT_BAD_REQUEST') throw err
      return { type: 'RESPONSE_LOGIN', status: await userExists(ctx, req.login) ? 'LOGIN_WRONG_PASS' : 'LOGIN_WRONG_USER' }
    }
    await ctx.login(session)
    return { type: 'RESPONSE_LOGIN', status: 'LOGIN_OK' }
  },

  async REQUEST_SIGNUP (ctx, req) {
    let session: Session
    try {
      session = await ctx.services.commands.call(Commands.auth.register, { username: req.login, password: req.pass })
    } catch (err) {
      if (codeOf(err) === 'CHAT_USERNAME_TAKEN') return { type: 'RESPONSE_SIGNUP', status: 'SIGNUP_USER_EXIST' }
      throw err // answered SINGUP_FAIL by failure()
    }
    // Signing up logs the socket in, so a client that goes straight on works
    // (and one that sends REQUEST_LOGIN next simply logs in again).
    await ctx.login(session)
    return { type: 'RESPONSE_SIGNUP', status: 'SINGUP_OK' }
  },

  async CREATE_ROOM (ctx, req, actor) {
    await requireOwnName(ctx, actor.session, req.username)
    const customer = await ctx.services.users.require(req.customer)
    const r = await actor.call(Commands.message.openConversation, { peerId: customer.id })
    return { type: 'CREATE_ROOM', id: r.conversationId, customer: customer.username }
  },

  async SND_MSG (ctx, req, actor) {
    await requireOwnName(ctx, actor.session, req.username)
    const { message } = await actor.call(Commands.message.send, {
      conversationId: req.room_id,
      kind: kindOf(req.msg_type),
      content: req.message,
      originConnectionId: ctx.id,
    })
    return { type: 'SND_MSG', status: 'OK', room_id: message.conversationId, message_id: message.id, date: message.createdAt }
  },

  async READ_MSG (ctx, req, actor) {
    return req.read === 'ALL'
      ? await streamRead(ctx, req.room_id, historyPages(actor, req.room_id), ListCaps.history)
      : await streamRead(ctx, req.room_id, unreadPages(actor, req.room_id), ListCaps.unread)
  },

  async SEARCH_USER (_ctx, req, actor) {
    const r = await actor.call(Commands.auth.searchUsers, { query: req.user, limit: 50 })
    return { type: 'SEARCH_USER', user: r.users.map((u) => u.username) }
  },

  async DELETE_ROOM (ctx, req, actor) {
    const state = ctx.state
    // Marked before asking: the push may overtake the reply.
    state.markDeleting(req.id)
    try {
      try {
        await actor.call(Commands.message.roomDelete, { roomId: req.id })
      } catch (err) {
        if (codeOf(err) !== 'CHAT_CONVERSATION_NOT_FOUND') throw err
        // Not a room: a direct conversation. DELETE_ROOM is the owner's, and
        // the owner of a direct conversation is the member who opened it.
        await actor.call(Commands.message.deleteConversation, { conversationId: req.id, openerOnly: true })
      }
    } catch (err) {
      state.deleting.delete(req.id)
      throw err
    }
    return { type: 'DELETE_ROOM', id: req.id }
  },

  async DELETE_MSG (ctx, req, actor) {
    const r = await actor.call(Commands.message.delete, { messageId: req.id, originConnectionId: ctx.id })
    return { type: 'DELETE_MSG', id: r.messageId }
  },

  async EDIT_MSG (ctx, req, actor) {
    const { message } = await actor.call(Commands.message.edit, { messageId: req.id, content: req.new_msg, originConnectionId: ctx.id })
    return { type: 'EDIT_MSG', id: message.id, new_msg: message.content }
  },

  async OLD_DIALOGS (ctx, req, actor) {
    await requireOwnName(ctx, actor.session, req.username)
    // One frame of parallel arrays (the document's shape), built from names only, up to ListCaps.conversations.
    const dialogs: Parameters<typeof flatDialogs>[0] = []
    await forEachPage(conversationPages(actor), { cap: ListCaps.conversations, pageSize: PAGE }, (page) => {
      for (const c of page) dialogs.push({ name: c.name, conversationId: c.conversationId, firstMessageId: c.firstMessageId })
    })
    return flatDialogs(dialogs)
  },
}

/** The `type` a failure answers with: the request's own, or ERROR when it had none. */
function failureType (frame: unknown): string {
  if (frame && typeof frame === 'object' && !Array.isArray(frame)) {
    const type = (frame as { type?: unknown }).type
    if (typeof type === 'string' && type.length > 0) return type.slice(0, MAX_ECHOED_TYPE)
  }
  return 'ERROR'
}

export const flatApi: WsApi<FlatRequest, FlatState> = {
  name: 'flat',

  createState: () => new FlatState(),

  decode (frame) {
    if (!frame || typeof frame !== 'object' || Array.isArray(frame)) throw new ChatError('CHAT_BAD_REQUEST', 'a frame is a JSON object with a "type"')
    const type = (frame as { type?: unknown }).type
    if (typeof type !== 'string') throw new ChatError('CHAT_BAD_REQUEST', 'type: must be a string')
    if (!isFlatType(type)) throw new ChatError('CHAT_UNKNOWN_TYPE', `unknown type ${JSON.stringify(type.slice(0, MAX_ECHOED_TYPE))}`)
    return { type, payload: validators[type](frame) } as FlatRequest
  },

  handlers,

  publicTypes: PublicTypes,

  pipelineKey: (req) => req.type === 'SND_MSG' ? `conversation:${req.payload.room_id}` : undefined,

  failure (req, frame, err) {
    // A well-formed sign-up that did not work has the document's own answer.
    if (req?.type === 'REQUEST_SIGNUP') return { type: 'RESPONSE_SIGNUP', status: 'SINGUP_FAIL', error: err.message, code: err.code }
    return { type: req?.type ?? failureType(frame), status: 'FAIL', error: err.message, code: err.code }
  },

  render: (ctx, event) => deliver(ctx, renderFlatEvent(viewerOf(ctx), event)),

  revoked: () => undefined,
}
