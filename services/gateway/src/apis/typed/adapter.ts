import { ChatError, Commands, createValidator, type MessageKind, type Validator } from '@chat/contracts'
import { Type } from '@sinclair/typebox'
import { contentTypeFor, decodeBase64Parts } from '../../files.js'
import type { ConnectionContext, Frame, WsApi } from '../../ws-api.js'
import { requireSelf } from '../common.js'
import { FailureTypes, PublicTypes, TypedRequests, type TypedPayload, type TypedRequest, type TypedRequestType } from './schemas.js'
import { renderTypedEvent, renderTypedRoomEvent, sessionPayload, typedMessage, typedRoom } from './render.js'
import { allContacts } from '../../contacts.js'

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

type Handler<T extends TypedRequestType> = (ctx: ConnectionContext, p: TypedPayload<T>, req: TypedRequest) => Promise<Frame | Frame[]>

/**
 * Document 003, the canonical protocol: `{type, payload, id?}` both ways.
 * Each handler maps one request onto one service command.
 */
const handlers: { [T in TypedRequestType]: Handler<T> } = {
  async REGISTER (ctx, p, req) {
    const session = await ctx.services.commands.call(Commands.auth.register, p)
    await ctx.login(session)
    return answer(req, 'REGISTER_SUCCESS', sessionPayload(session))
  },

  async LOGIN (ctx, p, req) {
    const session = await ctx.services.commands.call(Commands.auth.login, { login: p.username, password: p.password })
    await ctx.login(session)
    return answer(req, 'LOGIN_SUCCESS', sessionPayload(session))
  },

  async LOGIN_BY_TOKEN (ctx, p, req) {
    const session = await ctx.services.authenticate(p.token)
    await ctx.login(session)
    return answer(req, 'LOGIN_SUCCESS', sessionPayload(session))
  },

  async LOGOUT (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    // Leave the session first: the revocation broadcast must not close this socket.
    ctx.logout()
    try {
      await ctx.services.commands.call(Commands.auth.logout, { actorId: session.user.id, token: session.token })
    } catch (err) {
      await ctx.login(session)
      throw err
    }
    return answer(req, 'LOGOUT_SUCCESS', {})
  },

  async UPDATE_PROFILE (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    const { user } = await ctx.services.commands.call(Commands.auth.updateProfile, {
      actorId: session.user.id, username: p.username, password: p.password, email: p.email, avatar: p.avatar,
    })
    ctx.updateSession(user)
    return answer(req, 'PROFILE_UPDATED_SUCCESS', { userId: user.id, username: user.username, email: user.email, avatar: user.avatar })
  },

  async LOAD_CONTACTS (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    const contacts = await allContacts(ctx.services.commands, session.user.id)
    return answer(req, 'CONTACTS_LOADED', {
      contacts: contacts.map((c) => ({ contactId: c.userId, username: c.username, online: c.online, avatar: c.avatar })),
    })
  },

  async ADD_CONTACT (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    const { contact } = await ctx.services.commands.call(Commands.contact.add, { actorId: session.user.id, targetId: p.targetId })
    return answer(req, 'CONTACT_ADDED', { contactId: contact.userId, userName: contact.username, online: contact.online, avatar: contact.avatar })
  },

  async DELETE_CONTACT (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    await ctx.services.commands.call(Commands.contact.remove, { actorId: session.user.id, targetId: p.targetId })
    return answer(req, 'CONTACT_DELETED', {})
  },

  async SEND_MESSAGE (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.senderId)
    return send(ctx, req, { peerId: p.receiverId }, p.type ?? 'text', p.content, p.messageId)
  },

  async SEND_FILE (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.senderId)
    const url = await upload(ctx, p.fileName, p.fileContent)
    return send(ctx, req, { peerId: p.receiverId }, 'file', url, p.messageId)
  },

  async SEND_IMAGE (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.senderId)
    const url = await upload(ctx, p.imageName, p.imageContent)
    return send(ctx, req, { peerId: p.receiverId }, 'image', url, p.messageId)
  },

  async LOAD_MESSAGES (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    const page = await ctx.services.commands.call(Commands.message.history, {
      actorId: session.user.id, peerId: p.targetId, beforeId: p.beforeId, offset: p.offset, limit: p.limit,
    })
    // The document's payload is the bare array; paging facts ride beside it.
    return answer(req, 'MESSAGES_LOADED', page.messages.map(typedMessage), {
      meta: { conversationId: page.conversationId, hasMore: page.hasMore },
    })
  },

  async MARK_READ (ctx, p, req) {
    const session = ctx.requireSession()
    const r = await ctx.services.commands.call(Commands.message.read, { actorId: session.user.id, messageId: p.messageId })
    return answer(req, 'MARKED_READ', { messageId: p.messageId, conversationId: r.conversationId, unread: r.unread })
  },

  async CLEAR_MESSAGES (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.requesterUserId)
    const r = await ctx.services.commands.call(Commands.message.clear, {
      actorId: session.user.id, peerId: p.targetUserId, originConnectionId: ctx.id,
    })
    return answer(req, 'MESSAGES_CLEARED', { userId: session.user.id, targetUserId: p.targetUserId, conversationId: r.conversationId })
  },

  async SYNC (ctx, p, req) {
    const session = ctx.requireSession()
    const r = await ctx.services.commands.call(Commands.message.sync, {
      actorId: session.user.id,
      cursors: p.cursors.map((c) => ({ conversationId: c.conversationId, afterSeq: c.lastSeq })),
      limit: p.limit,
    })
    return answer(req, 'SYNC_RESULT', {
      conversations: r.conversations.map((c) => ({ conversationId: c.conversationId, messages: c.messages.map(typedMessage), hasMore: c.hasMore })),
    })
  },

  async LOAD_UNREAD (ctx, _p, req) {
    const session = ctx.requireSession()
    const r = await ctx.services.commands.call(Commands.message.unread, { actorId: session.user.id })
    return answer(req, 'UNREAD_LOADED', {
      conversations: r.conversations.map((c) => ({ conversationId: c.conversationId, peerId: c.peerId ?? null, count: c.count })),
    })
  },

  async CREATE_ROOM (ctx, p, req) {
    const { room } = await ctx.services.commands.call(Commands.message.roomCreate, { actorId: ctx.requireSession().user.id, ...p })
    return answer(req, 'ROOM_CREATED', { room: typedRoom(room) })
  },

  async LOAD_ROOMS (ctx, p, req) {
    const r = await ctx.services.commands.call(Commands.message.roomList, {
      actorId: ctx.requireSession().user.id, scope: p.scope ?? 'visible', beforeId: p.beforeId, limit: p.limit,
    })
    return answer(req, 'ROOMS_LOADED', { rooms: r.rooms.map(typedRoom), hasMore: r.hasMore })
  },

  async JOIN_ROOM (ctx, p, req) {
    const r = await ctx.services.commands.call(Commands.message.roomJoin, { actorId: ctx.requireSession().user.id, roomId: p.roomId })
    return answer(req, 'ROOM_JOINED', { room: typedRoom(r.room), joinedAt: r.member.joinedAt, joined: r.joined })
  },

  async LEAVE_ROOM (ctx, p, req) {
    await ctx.services.commands.call(Commands.message.roomLeave, { actorId: ctx.requireSession().user.id, roomId: p.roomId })
    return answer(req, 'ROOM_LEFT', { roomId: p.roomId })
  },

  async DELETE_ROOM (ctx, p, req) {
    await ctx.services.commands.call(Commands.message.roomDelete, { actorId: ctx.requireSession().user.id, roomId: p.roomId })
    return answer(req, 'ROOM_DELETED', { roomId: p.roomId })
  },

  async LOAD_ROOM_MEMBERS (ctx, p, req) {
    const r = await ctx.services.commands.call(Commands.message.roomMembers, {
      actorId: ctx.requireSession().user.id, roomId: p.roomId, after: p.after, limit: p.limit,
    })
    return answer(req, 'ROOM_MEMBERS_LOADED', { roomId: r.roomId, members: r.members, next: r.next })
  },

  async SEND_ROOM_MESSAGE (ctx, p, req) {
    requireSelf(ctx.requireSession(), p.senderId)
    return send(ctx, req, { conversationId: p.roomId }, p.type ?? 'text', p.content, p.messageId)
  },

  async LOAD_ROOM_MESSAGES (ctx, p, req) {
    const page = await ctx.services.commands.call(Commands.message.history, {
      actorId: ctx.requireSession().user.id, conversationId: p.roomId, beforeId: p.beforeId, limit: p.limit,
    })
    return answer(req, 'MESSAGES_LOADED', page.messages.map(typedMessage), {
      meta: { conversationId: page.conversationId, hasMore: page.hasMore },
    })
  },

  async EDIT_MESSAGE (ctx, p, req) {
    const { message } = await ctx.services.commands.call(Commands.message.edit, {
      actorId: ctx.requireSession().user.id, messageId: p.messageId, content: p.content, originConnectionId: ctx.id,
    })
    return answer(req, 'MESSAGE_EDITED', typedMessage(message))
  },

  async DELETE_MESSAGE (ctx, p, req) {
    const r = await ctx.services.commands.call(Commands.message.delete, {
      actorId: ctx.requireSession().user.id, messageId: p.messageId, originConnectionId: ctx.id,
    })
    return answer(req, 'MESSAGE_DELETED', { messageId: r.messageId, conversationId: r.conversationId })
  },

  async DELETE_CONVERSATION (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    const r = await ctx.services.commands.call(Commands.message.deleteConversation, { actorId: session.user.id, peerId: p.targetUserId })
    return answer(req, 'CONVERSATION_DELETED', { conversationId: r.conversationId, userId: session.user.id, targetUserId: r.peerId })
  },

  async TYPING (ctx, p, req) {
    if ((p.targetId === undefined) === (p.roomId === undefined)) throw new ChatError('CHAT_BAD_REQUEST', 'give targetId or roomId')
    await ctx.services.commands.call(Commands.message.typing, {
      actorId: ctx.requireSession().user.id, peerId: p.targetId, conversationId: p.roomId, typing: p.typing,
    })
    return answer(req, 'TYPING_SENT', {})
  },

  async BLOCK_USER (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    await ctx.services.commands.call(Commands.contact.block, { actorId: session.user.id, targetId: p.targetId })
    return answer(req, 'USER_BLOCKED', { targetId: p.targetId })
  },

  async UNBLOCK_USER (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    await ctx.services.commands.call(Commands.contact.unblock, { actorId: session.user.id, targetId: p.targetId })
    return answer(req, 'USER_UNBLOCKED', { targetId: p.targetId })
  },

  async LOAD_BLOCKED (ctx, _p, req) {
    const r = await ctx.services.commands.call(Commands.contact.listBlocked, { actorId: ctx.requireSession().user.id })
    return answer(req, 'BLOCKED_LOADED', { userIds: r.userIds })
  },

  async SEARCH_USERS (ctx, p, req) {
    const r = await ctx.services.commands.call(Commands.auth.searchUsers, { actorId: ctx.requireSession().user.id, ...p })
    return answer(req, 'USERS_FOUND', {
      users: r.users.map((u) => ({ userId: u.id, username: u.username, nickname: u.nickname, avatar: u.avatar })),
      hasMore: r.hasMore,
    })
  },

  async OPEN_CONVERSATION (ctx, p, req) {
    const session = ctx.requireSession()
    requireSelf(session, p.userId)
    const r = await ctx.services.commands.call(Commands.message.openConversation, { actorId: session.user.id, peerId: p.targetId })
    return answer(req, 'CONVERSATION_OPENED', { conversationId: r.conversationId, targetId: p.targetId, created: r.created })
  },

  async TAKE_UNREAD (ctx, p, req) {
    const r = await ctx.services.commands.call(Commands.message.takeUnread, { actorId: ctx.requireSession().user.id, ...p })
    return answer(req, 'UNREAD_TAKEN', { conversationId: p.conversationId, messages: r.messages.map(typedMessage), remaining: r.remaining })
  },

  async LOAD_CONVERSATIONS (ctx, p, req) {
    const r = await ctx.services.commands.call(Commands.message.listConversations, { actorId: ctx.requireSession().user.id, ...p })
    return answer(req, 'CONVERSATIONS_LOADED', {
      conversations: r.conversations.map((c) => ({ ...c, peerId: c.peerId ?? null })),
      next: r.next,
    })
  },
}

async function send (
  ctx: ConnectionContext, req: TypedRequest, target: { peerId: number } | { conversationId: number }, kind: MessageKind,
  content: string, clientId: string | number | undefined
): Promise<Frame> {
  const session = ctx.requireSession()
  const { message } = await ctx.services.commands.call(Commands.message.send, {
    actorId: session.user.id,
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

async function upload (ctx: ConnectionContext, name: string, parts: string[]): Promise<string> {
  const session = ctx.requireSession()
  const bytes = decodeBase64Parts(parts, ctx.services.files.maxBytes)
  const file = await ctx.services.files.upload(session.user.id, name, contentTypeFor(name), bytes)
  return ctx.services.files.urlOf(file.id)
}

export const typedApi: WsApi<TypedRequest> = {
  name: 'typed',

  decode (frame) {
    const envelope = Envelope(frame)
    if (!isTypedType(envelope.type)) throw new ChatError('CHAT_UNKNOWN_TYPE', `unknown type ${JSON.stringify(envelope.type)}`)
    const payload = payloadValidators[envelope.type](envelope.payload ?? {})
    return { type: envelope.type, payload, id: envelope.id } as TypedRequest
  },

  async handle (ctx, req) {
    if (!PublicTypes.has(req.type)) ctx.requireSession()
    const handler = handlers[req.type] as Handler<TypedRequestType>
    return handler(ctx, req.payload, req)
  },

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
      payload: { error: err.message, code: err.code, ...(messageId === undefined ? {} : { messageId }) },
      ...(id === undefined ? {} : { id }),
    }
  },

  render: (ctx, event) => renderTypedEvent(ctx.id, ctx.session?.user.id ?? 0, event),

  renderRoom: (ctx, event) => renderTypedRoomEvent(ctx.id, ctx.session?.user.id ?? 0, event),

  revoked: () => ({ type: 'SESSION_REVOKED', payload: {} }),
}
