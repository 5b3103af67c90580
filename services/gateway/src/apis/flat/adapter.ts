import { ChatError, Commands, createValidator, type ConversationSummary, type ErrorCode, type Message, type Session, type Validator } from '@chat/contracts'
import { toChatError } from '@chat/runtime'
import type { ConnectionContext, Frame, WsApi } from '../../ws-api.js'
import { emptyRead, flatDialogs, flatMessages, renderFlatEvent, renderFlatRoomEvent, type FlatRendered, type FlatViewer } from './render.js'
import { FlatRequests, isFlatType, kindOf, PublicTypes, type FlatRequest, type FlatRequestOf, type FlatRequestType } from './schemas.js'

const validators = Object.fromEntries(
  Object.entries(FlatRequests).map(([type, schema]) => [type, createValidator(schema)])
) as Record<FlatRequestType, Validator<(typeof FlatRequests)[FlatRequestType]>>

/** Page sizes for the commands we page through (their maxima). */
const HISTORY_PAGE = 100
const TAKE_PAGE = 100
const LIST_PAGE = 100
/** Bounds on paging loops, so a misbehaving service cannot spin a socket forever. */
const MAX_PAGES = 10_000
/** Deletion marks kept per socket before the oldest are forgotten. */
const MAX_DELETION_MARKS = 1000
/** The longest unknown `type` echoed back in a failure. */
const MAX_ECHOED_TYPE = 64

/**
 * Per-socket state: the chain that keeps pushes in event order while some
 * wait for usernames, and the conversations this socket asked to delete
 * (their DELETE_ROOM push would repeat its answer).
 */
class FlatState {
  chain: Promise<void> = Promise.resolve()
  pending = 0
  readonly deleting = new Set<number>()

  markDeleting (id: number): void {
    if (this.deleting.size >= MAX_DELETION_MARKS) {
      const oldest = this.deleting.values().next().value
      if (oldest !== undefined) this.deleting.delete(oldest)
    }
    this.deleting.add(id)
  }
}

function stateOf (ctx: ConnectionContext): FlatState {
  let state = ctx.local.flat as FlatState | undefined
  if (!state) {
    state = new FlatState()
    ctx.local.flat = state
  }
  return state
}

function viewerOf (ctx: ConnectionContext): FlatViewer {
  const state = stateOf(ctx)
  return {
    connectionId: ctx.id,
    userId: ctx.session?.user.id ?? 0,
    ownDeletion: (id) => state.deleting.delete(id),
  }
}

function codeOf (err: unknown): ErrorCode {
  return toChatError(err).code
}

/** Usernames of some users; unknown (or unreachable) ones are simply missing. */
async function namesOf (ctx: ConnectionContext, ids: number[]): Promise<Map<number, string>> {
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
 * Sends what an event rendered to. Frames that need usernames are built on
 * a per-socket chain, and anything rendered while that chain is busy waits
 * its turn, so a socket sees pushes in the order the events came.
 */
function deliver (ctx: ConnectionContext, rendered: FlatRendered): Frame[] {
  const state = stateOf(ctx)
  if (Array.isArray(rendered)) {
    if (rendered.length === 0 || state.pending === 0) return rendered
  }
  const produce = Array.isArray(rendered)
    ? async () => rendered
    : async () => rendered.build(await namesOf(ctx, rendered.userIds))
  state.pending++
  state.chain = state.chain
    .then(produce)
    .then((frames) => { for (const frame of frames) ctx.send(frame) })
    .catch(() => {
      // Nothing here throws in practice (lookups degrade to empty names);
      // if something did, later pushes must still go out, so the chain lives on.
    })
    .finally(() => { state.pending-- })
  return []
}

/**
 * A username inside a request must be the caller's own (any case; after a
 * rename, whatever the directory says is theirs), or nothing is done.
 */
async function requireOwnName (ctx: ConnectionContext, session: Session, username: string): Promise<void> {
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
async function userExists (ctx: ConnectionContext, login: string): Promise<boolean> {
  try {
    await ctx.services.users.require(login)
    return true
  } catch (err) {
    const code = codeOf(err)
    if (code === 'CHAT_USER_NOT_FOUND' || code === 'CHAT_BAD_REQUEST') return false
    throw err
  }
}

/** Messages as READ_MSG frames, with their senders' usernames. */
async function readFrames (ctx: ConnectionContext, roomId: number, messages: Message[]): Promise<Frame[]> {
  if (messages.length === 0) return [emptyRead(roomId)]
  const names = await ctx.services.users.byIds(messages.map((m) => m.senderId))
  return flatMessages(messages, new Map([...names].map(([id, u]) => [id, u.username])))
}

/** The whole history of a conversation, oldest first (history pages back from the newest). */
async function wholeHistory (ctx: ConnectionContext, actorId: number, conversationId: number): Promise<Message[]> {
  const pages: Message[][] = []
  let beforeId: number | undefined
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await ctx.services.commands.call(Commands.message.history, { actorId, conversationId, beforeId, limit: HISTORY_PAGE })
    pages.push(page.messages)
    const oldest = page.messages[0]
    if (!page.hasMore || !oldest) break
    beforeId = oldest.id
  }
  return pages.reverse().flat()
}

/** Everything the actor has not read in a conversation, oldest first; marks it read. */
async function takeAllUnread (ctx: ConnectionContext, actorId: number, conversationId: number): Promise<Message[]> {
  const taken: Message[] = []
  for (let i = 0; i < MAX_PAGES; i++) {
    const r = await ctx.services.commands.call(Commands.message.takeUnread, { actorId, conversationId, limit: TAKE_PAGE })
    taken.push(...r.messages)
    if (r.remaining === 0 || r.messages.length === 0) break
  }
  return taken
}

type Handler<T extends FlatRequestType> = (ctx: ConnectionContext, req: FlatRequestOf<T>) => Promise<Frame | Frame[]>

/**
 * Document 004: one handler per request type, each mapping onto the same
 * service commands as every other API.
 */
const handlers: { [T in FlatRequestType]: Handler<T> } = {
  async REQUEST_LOGIN (ctx, req) {
    let session: Session
    try {
      session = await ctx.services.commands.call(Commands.auth.login, { login: req.login, password: req.pass })
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

  async CREATE_ROOM (ctx, req) {
    const session = ctx.requireSession()
    await requireOwnName(ctx, session, req.username)
    const customer = await ctx.services.users.require(req.customer)
    const r = await ctx.services.commands.call(Commands.message.openConversation, { actorId: session.user.id, peerId: customer.id })
    return { type: 'CREATE_ROOM', id: r.conversationId, customer: customer.username }
  },

  async SND_MSG (ctx, req) {
    const session = ctx.requireSession()
    await requireOwnName(ctx, session, req.username)
    const { message } = await ctx.services.commands.call(Commands.message.send, {
      actorId: session.user.id,
      conversationId: req.room_id,
      kind: kindOf(req.msg_type),
      content: req.message,
      originConnectionId: ctx.id,
    })
    return { type: 'SND_MSG', status: 'OK', room_id: message.conversationId, message_id: message.id, date: message.createdAt }
  },

  async READ_MSG (ctx, req) {
    const actorId = ctx.requireSession().user.id
    const messages = req.read === 'ALL'
      ? await wholeHistory(ctx, actorId, req.room_id)
      : await takeAllUnread(ctx, actorId, req.room_id)
    return await readFrames(ctx, req.room_id, messages)
  },

  async SEARCH_USER (ctx, req) {
    const r = await ctx.services.commands.call(Commands.auth.searchUsers, { actorId: ctx.requireSession().user.id, query: req.user, limit: 50 })
    return { type: 'SEARCH_USER', user: r.users.map((u) => u.username) }
  },

  async DELETE_ROOM (ctx, req) {
    const actorId = ctx.requireSession().user.id
    const state = stateOf(ctx)
    // Marked before asking: the push may overtake the reply.
    state.markDeleting(req.id)
    try {
      try {
        await ctx.services.commands.call(Commands.message.roomDelete, { actorId, roomId: req.id })
      } catch (err) {
        if (codeOf(err) !== 'CHAT_CONVERSATION_NOT_FOUND') throw err
        // Not a room: a direct conversation, which either of its two members may delete.
        await ctx.services.commands.call(Commands.message.deleteConversation, { actorId, conversationId: req.id })
      }
    } catch (err) {
      state.deleting.delete(req.id)
      throw err
    }
    return { type: 'DELETE_ROOM', id: req.id }
  },

  async DELETE_MSG (ctx, req) {
    const r = await ctx.services.commands.call(Commands.message.delete, {
      actorId: ctx.requireSession().user.id, messageId: req.id, originConnectionId: ctx.id,
    })
    return { type: 'DELETE_MSG', id: r.messageId }
  },

  async EDIT_MSG (ctx, req) {
    const { message } = await ctx.services.commands.call(Commands.message.edit, {
      actorId: ctx.requireSession().user.id, messageId: req.id, content: req.new_msg, originConnectionId: ctx.id,
    })
    return { type: 'EDIT_MSG', id: message.id, new_msg: message.content }
  },

  async OLD_DIALOGS (ctx, req) {
    const session = ctx.requireSession()
    await requireOwnName(ctx, session, req.username)
    const all: ConversationSummary[] = []
    let cursor: string | undefined
    for (let i = 0; i < MAX_PAGES; i++) {
      const page = await ctx.services.commands.call(Commands.message.listConversations, { actorId: session.user.id, limit: LIST_PAGE, cursor })
      all.push(...page.conversations)
      if (page.next === null) break
      cursor = page.next
    }
    return flatDialogs(all)
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

export const flatApi: WsApi<FlatRequest> = {
  name: 'flat',

  decode (frame) {
    if (!frame || typeof frame !== 'object' || Array.isArray(frame)) throw new ChatError('CHAT_BAD_REQUEST', 'a frame is a JSON object with a "type"')
    const type = (frame as { type?: unknown }).type
    if (typeof type !== 'string') throw new ChatError('CHAT_BAD_REQUEST', 'type: must be a string')
    if (!isFlatType(type)) throw new ChatError('CHAT_UNKNOWN_TYPE', `unknown type ${JSON.stringify(type.slice(0, MAX_ECHOED_TYPE))}`)
    return { ...validators[type](frame), type } as FlatRequest
  },

  async handle (ctx, req) {
    if (!PublicTypes.has(req.type)) ctx.requireSession()
    const handler = handlers[req.type] as Handler<FlatRequestType>
    return await handler(ctx, req)
  },

  failure (req, frame, err) {
    // A well-formed sign-up that did not work has the document's own answer.
    if (req?.type === 'REQUEST_SIGNUP') return { type: 'RESPONSE_SIGNUP', status: 'SINGUP_FAIL', error: err.message, code: err.code }
    return { type: req?.type ?? failureType(frame), status: 'FAIL', error: err.message, code: err.code }
  },

  render: (ctx, event) => deliver(ctx, renderFlatEvent(viewerOf(ctx), event)),

  renderRoom: (ctx, event) => deliver(ctx, renderFlatRoomEvent(viewerOf(ctx), event)),

  revoked: () => undefined,
}
