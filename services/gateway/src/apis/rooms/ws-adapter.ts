import { ChatError, Commands, type LiveEvent, type Message } from '@chat/contracts'
import { toChatError } from '@chat/runtime'
import type { Actor } from '../../actor.js'
import type { ConnectionContext, WsApi } from '../../ws-api.js'
import { CloseCodes } from '../../ws-connection.js'
import { decodeRoomsFrame, memberPush, messagePush, status, type RoomsRequest } from './ws-frames.js'

/**
 * Document 002's WebSocket, `/ws/room`: one socket is one visit to one
 * room. The first frame is `{token}`, a single-use ticket from
 * `GET /Room/:id`; entering makes the user a member, and when the socket
 * closes the visit ends (the service makes them leave again if the visit
 * made them a member). Answers are only `{status}`, matched by order.
 */

/** Room tickets are 40 hex characters; anything else is refused without a round trip. */
const TICKET = /^[0-9a-f]{40}$/

/** One visit: who, and where. */
interface Visit {
  actor: Actor
  roomId: number
}

/** What a `/ws/room` socket remembers. */
interface VisitState {
  /** Set once a ticket was redeemed; the socket never visits another room. */
  visit?: Visit
  /** A room, or a direct conversation (a Room id may be either, API.md). */
  kind?: 'direct' | 'room'
  /** The service recorded the visit: closing must end it. */
  entered: boolean
  /** The room was deleted: sends fail and the socket is closing. */
  gone: boolean
  /** The socket has closed (an entry still in flight must end its visit itself). */
  closed: boolean
}

type Ctx = ConnectionContext<VisitState>

/** Ends a visit; nobody awaits it, so a failure is only logged. */
function exit (ctx: Ctx, visit: Visit): void {
  visit.actor.call(Commands.message.roomExit, { roomId: visit.roomId, visitId: ctx.id })
    .catch((err: unknown) => {
      const e = toChatError(err)
      // A deleted room has no visits left to end.
      if (e.code === 'CHAT_CONVERSATION_NOT_FOUND') ctx.logger.debug({ roomId: visit.roomId }, 'room gone before the visit ended')
      else ctx.logger.warn({ err, roomId: visit.roomId, visitId: ctx.id }, 'ending a room visit failed; the user may stay a member')
    })
}

/**
 * `{token}`: redeem the ticket (any replica, once), enter its room, log the
 * socket in. Not answered on success (the document shows no answer); a bad
 * ticket or a refused entry answers `{status: false}` and closes (1008).
 */
async function enter (ctx: Ctx, token: unknown): Promise<undefined> {
  const state = ctx.state
  // One room per socket: a second ticket is refused and not spent.
  if (state.visit) throw new ChatError('CHAT_BAD_REQUEST', 'this socket is already in a room')
  let entering: Visit | undefined
  try {
    if (typeof token !== 'string' || !TICKET.test(token)) throw new ChatError('CHAT_TOKEN_INVALID', 'Unknown room token')
    const { session, roomId } = await ctx.services.commands.call(Commands.auth.redeemTicket, { ticket: token })
    entering = { actor: ctx.services.act(session), roomId }
    state.visit = entering
    const entered = await entering.actor.call(Commands.message.roomEnter, { roomId, visitId: ctx.id })
    state.kind = entered.kind
    state.entered = true
    if (state.closed) {
      // The client left while the entry was in flight.
      exit(ctx, entering)
      return undefined
    }
    // After entering, so the user's room list that login loads has this room.
    await ctx.login(session)
    return undefined
  } catch (err) {
    const e = toChatError(err)
    // An entry that timed out may still have been recorded: end it.
    if (entering && !state.entered && e.retryable) exit(ctx, entering)
    ctx.logger.debug({ code: e.code, connectionId: ctx.id }, 'room entry refused')
    ctx.send(status(false))
    ctx.close(CloseCodes.policy, e.code === 'CHAT_TOKEN_INVALID' ? 'bad room token' : 'room entry refused')
    return undefined
  }
}

/** `{msg}`: a text message to the room; `{status: true}` once stored. */
async function say (ctx: Ctx, msg: string, actor: Actor) {
  const state = ctx.state
  if (!state.entered || !state.visit) throw new ChatError('CHAT_UNAUTHENTICATED', 'send the room token first')
  if (state.gone) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
  const { roomId } = state.visit
  try {
    await actor.call(Commands.message.send, {
      conversationId: roomId,
      kind: 'text',
      content: msg,
      originConnectionId: ctx.id,
    })
  } catch (err) {
    if (toChatError(err).code === 'CHAT_CONVERSATION_NOT_FOUND') {
      // The room is gone (its deletion event may not have reached us yet).
      state.gone = true
      ctx.send(status(false))
      ctx.close(CloseCodes.roomGone, 'room deleted')
      return undefined
    }
    throw err
  }
  return status(true)
}

/** Another member's message as `type 0`; the sender's own sockets get no copy (the sending one has its {status: true}). */
function pushMessage (ctx: Ctx, message: Message, self: number): void {
  if (message.senderId === self) return
  ctx.push(async () => {
    let sender
    try {
      sender = (await ctx.services.users.byIds([message.senderId])).get(message.senderId)
    } catch (err) {
      ctx.logger.warn({ err, senderId: message.senderId }, 'sender lookup failed; pushing the message without names')
    }
    ctx.send(messagePush(message, sender))
  })
}

/** The conversation was deleted: sends fail from now on, and the socket closes after what is queued. */
function gone (ctx: Ctx): void {
  ctx.state.gone = true
  ctx.push(() => ctx.close(CloseCodes.roomGone, 'room deleted'))
}

export const roomsWsApi: WsApi<RoomsRequest, VisitState> = {
  name: 'rooms',

  createState: () => ({ entered: false, gone: false, closed: false }),

  decode: decodeRoomsFrame,

  handlers: {
    token: async (ctx: Ctx, p: { token: unknown }) => enter(ctx, p.token),
    msg: async (ctx: Ctx, p: { msg: string }, actor: Actor) => say(ctx, p.msg, actor),
  },

  publicTypes: new Set(['token']),

  failure () {
    return status(false)
  },

  // The first frame must be a good `{token}`: anything else before the
  // socket is in a room ends it, as a bad ticket does.
  afterFailure (ctx) {
    if (!ctx.state.entered) ctx.close(CloseCodes.policy, 'send the room token first')
  },

  // Only the visited conversation's events have frames in document 002:
  // its messages, members coming and going, and its end. Nothing else of
  // the user's events (other conversations, unread counts) shows.
  render (ctx, event: LiveEvent) {
    const state = ctx.state
    const self = ctx.actor?.userId
    if (!state.entered || !state.visit || self === undefined) return
    const visited = state.visit.roomId
    switch (event.kind) {
      case 'message.new':
        if (event.message.conversationId === visited) pushMessage(ctx, event.message, self)
        return
      case 'member.joined':
      case 'member.left':
        if (event.roomId === visited && event.userId !== self) ctx.push([memberPush(event)])
        return
      case 'room.deleted':
        if (event.roomId === visited) gone(ctx)
        return
      case 'conversation.deleted':
        if (event.conversationId === visited) gone(ctx)
        break
      default:
        // Edits, deletions, typing: the document has no frame for them.
        break
    }
  },

  // A revoked session closes the socket with 4001 without a frame first: the document has none.
  revoked () {
    return undefined
  },

  closed (ctx) {
    const state = ctx.state
    state.closed = true
    if (state.entered && state.visit) exit(ctx, state.visit)
  },
}
