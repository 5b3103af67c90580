import { ChatError, Commands, createValidator, type MessageKind, type Validator } from '@chat/contracts'
import { Type } from '@sinclair/typebox'
import { contentTypeFor, decodeBase64Parts } from '../../files.js'
import type { Actor } from '../../actor.js'
import type { ConnectionContext, Frame, WsApi, WsHandler } from '../../ws-api.js'
import { requireSelf } from '../common.js'
import { FailureTypes, PublicTypes, TypedRequests, type TypedRequest, type TypedRequestType } from './schemas.js'
import { renderTypedEvent, sessionPayload, typedChange, typedMessage, typedRoom } from './render.js'
import { allContacts } from '../../lists.js'

const Envelope = createValidator(Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64 }),
  payload: Type.Optional(Type.Unknown()),
  id: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Integer()])),
}))

const payloadValidators = Object.fromEntries(
  Object.entries(TypedRequests).map(([type, schema]) => [type, createValidator(schema)])
) as Record<TypedRequestType, Validator<(typeof TypedRequests)[TypedRequestType]>>

function isTypedType (type: string): type is TypedRequestType {
  return Object.hasOwn(TypedRequests, type)
}

/** The request id of a frame, if it has a usable one, for echoing in any answer. */
function idOf (frame: unknown): string | number | undefined {
  if (frame && typeof frame === 'object' && 'id' in frame) {
    const id = (frame as { id: unknown }).id
    if ((typeof id === 'string' && id.length <= 128) || Number.isSafeInteger(id)) return id as string | number
  }
  return undefined
}

function answer (req: TypedRequest, type: string, payload: unknown, extra?: Record<string, unknown>): Frame {
  return { type, payload, ...(req.id === undefined ? {} : { id: req.id }), ...extra }
}

/** The typed API keeps no per-socket state. */
type State = undefined
type Ctx = ConnectionContext<State>
type Handler<T extends TypedRequestType> = WsHandler<State, TypedRequest, T>
type PublicHandler<T extends TypedRequestType> = WsHandler<State, TypedRequest, T, Actor | undefined>
type PublicType = 'REGISTER' | 'LOGIN' | 'LOGIN_BY_TOKEN'

/**
 * Document 003, the canonical protocol: `{type, payload, id?}` both ways.
 * Each handler maps one request onto one service command.
 */
const handlers: { [T in Exclude<TypedRequestType, PublicType>]: Handler<T> } & { [T in PublicType]: PublicHandler<T> } = {
  async REGISTER (ctx, p, _actor, req) {
    const session = await ctx.services.commands.call(Commands.auth.register, {
      username: p.username, password: p.password, email: p.email, avatar: p.avatar,
    })
    await ctx.login(session)
    return answer(req, 'REGISTER_SUCCESS', sessionPayload(session))
  },

  async LOGIN (ctx, p, _actor, req) {
    const session = await ctx.services.commands.call(Commands.auth.login, { login: p.username, password: p.password, clientAddress: ctx.clientAddress })
    await ctx.login(session)
    return answer(req, 'LOGIN_SUCCESS', sessionPayload(session))
  },

  async LOGIN_BY_TOKEN (ctx, p, _actor, req) {
    const session = await ctx.services.authenticate(p.token)
    await ctx.login(session)
    return answer(req, 'LOGIN_SUCCESS', sessionPayload(session))
  },

  async LOGOUT (ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    // Leave the session first: the revocation broadcast must not close this socket.
    ctx.logout()
    try {
      await actor.call(Commands.auth.logout, { token: actor.session.token })
    } catch (err) {
      await ctx.login(actor.session)
      throw err
    }
    return answer(req, 'LOGOUT_SUCCESS', {})
  },

  async UPDATE_PROFILE (ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    const { user } = await actor.call(Commands.auth.updateProfile, {
      username: p.username,
      password: p.password,
      currentPassword: p.currentPassword,
      // This session stays; a password change ends the user's others.
      sessionId: actor.session.sessionId,
      email: p.email,
      avatar: p.avatar,
    })
    ctx.updateSession(user)
    return answer(req, 'PROFILE_UPDATED_SUCCESS', { userId: user.id, username: user.username, email: user.email, avatar: user.avatar })
  },

  async LOAD_CONTACTS (ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    const contacts = await allContacts(actor)
    const { files } = ctx.services
    return answer(req, 'CONTACTS_LOADED', {
      contacts: contacts.map((c) => ({ contactId: c.userId, username: c.username, online: c.online, avatar: files.avatarOf(c.userId, c) })),
    })
  },

  async ADD_CONTACT (ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    const { contact } = await actor.call(Commands.contact.add, { targetId: p.targetId })
    return answer(req, 'CONTACT_ADDED', {
      contactId: contact.userId, userName: contact.username, online: contact.online, avatar: ctx.services.files.avatarOf(contact.userId, contact),
    })
  },

  async DELETE_CONTACT (_ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    await actor.call(Commands.contact.remove, { targetId: p.targetId })
    return answer(req, 'CONTACT_DELETED', {})
  },

  async SEND_MESSAGE (ctx, p, actor, req) {
    requireSelf(actor.session, p.senderId)
    return send(ctx, actor, req, { peerId: p.receiverId }, p.type ?? 'text', p.content, p.messageId)
  },

  async SEND_FILE (ctx, p, actor, req) {
    requireSelf(actor.session, p.senderId)
    const url = await upload(ctx, actor, p.fileName, p.fileContent)
    return send(ctx, actor, req, { peerId: p.receiverId }, 'file', url, p.messageId)
  },

  async SEND_IMAGE (ctx, p, actor, req) {
    requireSelf(actor.session, p.senderId)
    const url = await upload(ctx, actor, p.imageName, p.imageContent)
    return send(ctx, actor, req, { peerId: p.receiverId }, 'image', url, p.messageId)
  },

  async LOAD_MESSAGES (_ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    const page = await actor.call(Commands.message.history, {
      peerId: p.targetId, beforeId: p.beforeId, offset: p.offset, limit: p.limit,
    })
    // The document's payload is the bare array; paging facts ride beside it.
    return answer(req, 'MESSAGES_LOADED', page.messages.map(typedMessage), {
      meta: { conversationId: page.conversationId, hasMore: page.hasMore },
    })
  },

  async MARK_READ (_ctx, p, actor, req) {
    const r = await actor.call(Commands.message.read, { messageId: p.messageId })
    return answer(req, 'MARKED_READ', { messageId: p.messageId, conversationId: r.conversationId, unread: r.unread })
  },

  async CLEAR_MESSAGES (ctx, p, actor, req) {
    requireSelf(actor.session, p.requesterUserId)
    const r = await actor.call(Commands.message.clear, { peerId: p.targetUserId, originConnectionId: ctx.id })
    return answer(req, 'MESSAGES_CLEARED', { userId: actor.userId, targetUserId: p.targetUserId, conversationId: r.conversationId })
  },

  async SYNC (_ctx, p, actor, req) {
    const r = await actor.call(Commands.message.sync, {
      cursors: p.cursors.map((c) => ({ conversationId: c.conversationId, afterSeq: c.lastSeq })),
      limit: p.limit,
    })
    return answer(req, 'SYNC_RESULT', {
      conversations: r.conversations.map((c) => ({
        conversationId: c.conversationId,
        messages: c.messages.map(typedMessage),
        changes: (c.changes ?? []).map(typedChange),
        hasMore: c.hasMore,
      })),
    })
  },

  async LOAD_UNREAD (_ctx, _p, actor, req) {
    const r = await actor.call(Commands.message.unread, {})
    return answer(req, 'UNREAD_LOADED', {
      conversations: r.conversations.map((c) => ({ conversationId: c.conversationId, peerId: c.peerId ?? null, count: c.count })),
    })
  },

  async CREATE_ROOM (_ctx, p, actor, req) {
    const { room } = await actor.call(Commands.message.roomCreate, {
      name: p.name, capacity: p.capacity, geolocation: p.geolocation, visibility: p.visibility,
    })
    return answer(req, 'ROOM_CREATED', { room: typedRoom(room) })
  },

  async LOAD_ROOMS (_ctx, p, actor, req) {
    const r = await actor.call(Commands.message.roomList, { scope: p.scope ?? 'visible', beforeId: p.beforeId, limit: p.limit })
    return answer(req, 'ROOMS_LOADED', { rooms: r.rooms.map(typedRoom), hasMore: r.hasMore })
  },

  async JOIN_ROOM (ctx, p, actor, req) {
    const r = await ctx.joinRoom(p.roomId, () => actor.call(Commands.message.roomJoin, { roomId: p.roomId }))
    return answer(req, 'ROOM_JOINED', { room: typedRoom(r.room), joinedAt: r.member.joinedAt, joined: r.joined })
  },

  async LEAVE_ROOM (_ctx, p, actor, req) {
    await actor.call(Commands.message.roomLeave, { roomId: p.roomId })
    return answer(req, 'ROOM_LEFT', { roomId: p.roomId })
  },

  async DELETE_ROOM (_ctx, p, actor, req) {
    await actor.call(Commands.message.roomDelete, { roomId: p.roomId })
    return answer(req, 'ROOM_DELETED', { roomId: p.roomId })
  },

  async LOAD_ROOM_MEMBERS (_ctx, p, actor, req) {
    const r = await actor.call(Commands.message.roomMembers, { roomId: p.roomId, after: p.after, limit: p.limit })
    return answer(req, 'ROOM_MEMBERS_LOADED', { roomId: r.roomId, members: r.members, next: r.next })
  },

  async SEND_ROOM_MESSAGE (ctx, p, actor, req) {
    requireSelf(actor.session, p.senderId)
    return send(ctx, actor, req, { conversationId: p.roomId }, p.type ?? 'text', p.content, p.messageId)
  },

  async LOAD_ROOM_MESSAGES (_ctx, p, actor, req) {
    const page = await actor.call(Commands.message.history, { conversationId: p.roomId, beforeId: p.beforeId, limit: p.limit })
    return answer(req, 'MESSAGES_LOADED', page.messages.map(typedMessage), {
      meta: { conversationId: page.conversationId, hasMore: page.hasMore },
    })
  },

  async EDIT_MESSAGE (ctx, p, actor, req) {
    const { message } = await actor.call(Commands.message.edit, { messageId: p.messageId, content: p.content, originConnectionId: ctx.id })
    return answer(req, 'MESSAGE_EDITED', typedMessage(message))
  },

  async DELETE_MESSAGE (ctx, p, actor, req) {
    const r = await actor.call(Commands.message.delete, { messageId: p.messageId, originConnectionId: ctx.id })
    return answer(req, 'MESSAGE_DELETED', { messageId: r.messageId, conversationId: r.conversationId })
  },

  async DELETE_CONVERSATION (_ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    const r = await actor.call(Commands.message.deleteConversation, { peerId: p.targetUserId })
    return answer(req, 'CONVERSATION_DELETED', { conversationId: r.conversationId, userId: actor.userId, targetUserId: r.peerId })
  },

  async TYPING (_ctx, p, actor, req) {
    if ((p.targetId === undefined) === (p.roomId === undefined)) throw new ChatError('CHAT_BAD_REQUEST', 'give targetId or roomId')
    await actor.call(Commands.message.typing, { peerId: p.targetId, conversationId: p.roomId, typing: p.typing })
    return answer(req, 'TYPING_SENT', {})
  },

  async BLOCK_USER (_ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    await actor.call(Commands.contact.block, { targetId: p.targetId })
    return answer(req, 'USER_BLOCKED', { targetId: p.targetId })
  },

  async UNBLOCK_USER (_ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    await actor.call(Commands.contact.unblock, { targetId: p.targetId })
    return answer(req, 'USER_UNBLOCKED', { targetId: p.targetId })
  },

  async LOAD_BLOCKED (_ctx, _p, actor, req) {
    const r = await actor.call(Commands.contact.listBlocked, {})
    return answer(req, 'BLOCKED_LOADED', { userIds: r.userIds })
  },

  async SEARCH_USERS (ctx, p, actor, req) {
    const r = await actor.call(Commands.auth.searchUsers, { query: p.query, limit: p.limit, offset: p.offset })
    return answer(req, 'USERS_FOUND', {
      users: r.users.map((u) => ({ userId: u.id, username: u.username, nickname: u.nickname, avatar: ctx.services.files.avatarOf(u.id, u) })),
      hasMore: r.hasMore,
    })
  },

  async OPEN_CONVERSATION (_ctx, p, actor, req) {
    requireSelf(actor.session, p.userId)
    const r = await actor.call(Commands.message.openConversation, { peerId: p.targetId })
    return answer(req, 'CONVERSATION_OPENED', { conversationId: r.conversationId, targetId: p.targetId, created: r.created })
  },

  async TAKE_UNREAD (_ctx, p, actor, req) {
    const r = await actor.call(Commands.message.takeUnread, { conversationId: p.conversationId, limit: p.limit })
    return answer(req, 'UNREAD_TAKEN', { conversationId: p.conversationId, messages: r.messages.map(typedMessage), remaining: r.remaining })
  },

  async LOAD_CONVERSATIONS (_ctx, p, actor, req) {
    const r = await actor.call(Commands.message.listConversations, { limit: p.limit, cursor: p.cursor })
    return answer(req, 'CONVERSATIONS_LOADED', {
      conversations: r.conversations.map((c) => ({ ...c, peerId: c.peerId ?? null })),
      next: r.next,
    })
  },
}

async function send (
  ctx: Ctx, actor: Actor, req: TypedRequest, target: { peerId: number } | { conversationId: number }, kind: MessageKind,
  content: string, clientId: string | number | undefined
): Promise<Frame> {
  const { message } = await actor.call(Commands.message.send, {
    ...target,
    kind,
    content,
    clientMessageId: clientId === undefined ? undefined : String(clientId),
    originConnectionId: ctx.id,
  })
  return answer(req, 'MESSAGE_RECEIVED_SELF', {
    messageId: clientId ?? null,
    id: message.id,
    timestamp: message.createdAt,
    conversationId: message.conversationId,
    seq: message.seq,
  })
}

async function upload (ctx: Ctx, actor: Actor, name: string, parts: string[]): Promise<string> {
  const bytes = decodeBase64Parts(parts, ctx.services.files.maxBytes)
  const file = await ctx.services.files.upload(actor, name, contentTypeFor(name), bytes)
  return ctx.services.files.urlOf(file.id)
}

export const typedApi: WsApi<TypedRequest, State> = {
  name: 'typed',

  decode (frame) {
    const envelope = Envelope(frame)
    if (!isTypedType(envelope.type)) throw new ChatError('CHAT_UNKNOWN_TYPE', `unknown type ${JSON.stringify(envelope.type)}`)
    const payload = payloadValidators[envelope.type](envelope.payload ?? {})
    return { type: envelope.type, payload, id: envelope.id } as TypedRequest
  },

  handlers,

  publicTypes: PublicTypes,

  // Text sends overlap; file and image sends carry uploads and go one at a time.
  pipelineKey (req) {
    if (req.type === 'SEND_MESSAGE') return `user:${req.payload.receiverId}`
    if (req.type === 'SEND_ROOM_MESSAGE') return `conversation:${req.payload.roomId}`
    return undefined
  },

  createState: () => undefined,

  failure (req, frame, err) {
    let type = 'ERROR'
    if (req) type = FailureTypes[req.type]
    else if (frame && typeof frame === 'object' && typeof (frame as { type?: unknown }).type === 'string') {
      const t = (frame as { type: string }).type
      if (isTypedType(t)) type = FailureTypes[t]
    }
    const id = req?.id ?? idOf(frame)
    // A failed send names the client's message id, so the client knows which one to retry.
    const messageId = req && 'messageId' in req.payload ? req.payload.messageId : undefined
    return {
      type,
      payload: {
        error: err.message,
        code: err.code,
        ...(messageId === undefined ? {} : { messageId }),
        // A throttled login says when to try again.
        ...(err.retryAfterSeconds === undefined ? {} : { retryAfter: err.retryAfterSeconds }),
      },
      ...(id === undefined ? {} : { id }),
    }
  },

  render: (ctx, event) => ctx.push(renderTypedEvent(ctx.id, ctx.actor?.userId ?? 0, event)),

  revoked: () => ({ type: 'SESSION_REVOKED', payload: {} }),
}
