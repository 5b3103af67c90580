import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ChatError, Commands, type Message } from '@chat/contracts'
import type { Actor } from '../../actor.js'
import { allConversations, historyAt } from '../../lists.js'
import { chatMessage, chatProfileIds, chatSummary, listedChats, peerOfPair, unreadChat } from './render.js'
import {
  CHATS_V2_PAGE, ChatIdParams, ChatIdReply, ChatMessages, ChatSummary, Created, NoContent, PageQuery, PairParams,
  ReadChatBody, SendChatBody, TakenMessages, UnreadChat, errors,
} from './schemas.js'
import { requiresSession as security, type HttpApiOptions } from '../../http-api.js'
import type { ChatIdParamsIn, PairParamsIn, PageQueryIn, SendChatBodyIn, ReadChatBodyIn } from './schemas.js'

/** `/chats` reads history by page; `/chats_v2` takes unread messages instead. */
export type ChatsVariant = 'v1' | 'v2'

const now = (): string => new Date().toISOString()

/**
 * The direct-chat routes of `/chats` and `/chats_v2` (document 001). Both
 * prefixes serve the same routes except reading a chat: `/chats` pages
 * through history (newest first), `/chats_v2` takes up to 50 unread
 * messages (oldest first) and marks them read; only `/chats` has `/read`.
 */
export function registerDirectRoutes (app: FastifyInstance, opts: HttpApiOptions, variant: ChatsVariant): void {
  const { services, auth } = opts
  const { users } = services
  /** The request's verified user, acting. */
  const actorOf = async (req: FastifyRequest): Promise<Actor> => services.act(await auth(req))
  const prefix = variant === 'v1' ? '/chats' : '/chats_v2'
  const tags = [prefix.slice(1)]

  /** Renders messages with their senders' usernames. */
  const render = async (messages: Message[]) => {
    const profiles = await users.byIds(messages.map((m) => m.senderId))
    const at = now()
    return messages.map((m) => chatMessage(m, profiles, at))
  }

  /** A never-chatted pair: an unknown peer is 404, a known one has an empty history. */
  const requireUser = async (userId: number): Promise<void> => {
    if (!(await users.byIds([userId])).has(userId)) throw new ChatError('CHAT_USER_NOT_FOUND')
  }

  /** The direct conversation between the caller and a peer, or null when they never talked. */
  const conversationWith = async (actor: Actor, peerId: number): Promise<number | null> => {
    const { conversationId } = await actor.call(Commands.message.history, { peerId, limit: 1 })
    return conversationId
  }

  /** `/chats_v2/...`: up to 50 unread messages, oldest first, now read; `unread_count` is what is left. */
  const take = async (actor: Actor, conversationId: number) => {
    const { messages, remaining } = await actor.call(Commands.message.takeUnread, { conversationId, limit: CHATS_V2_PAGE })
    return { items: await render(messages), remaining }
  }

  app.post<{ Body: SendChatBodyIn }>(prefix, {
    schema: {
      tags,
      summary: 'Send a chat message',
      description: 'Creates the chat on the first message. 404 for an unknown receiver, 400 for a bad type or yourself, 413 for too long a message.',
      security,
      body: SendChatBody,
      response: { 201: ChatIdReply, ...errors(400, 401, 403, 404, 413, 429) },
    },
  }, async (req, reply) => {
    const actor = await actorOf(req)
    const { receiver_id: peerId, message: content, type: kind } = req.body
    const { message } = await actor.call(Commands.message.send, { peerId, kind, content })
    return reply.code(201).send({ chat_id: message.conversationId })
  })

  app.get(`${prefix}/unread`, {
    schema: {
      tags,
      summary: 'Chats with unread messages',
      description: 'Direct chats whose unread count is above 0, newest last message first.',
      security,
      response: { 200: Type.Array(UnreadChat, { description: 'Chats with unread messages, newest last message first' }), ...errors(401, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    const chats = listedChats(await allConversations(actor)).filter((c) => c.unread > 0)
    const profiles = await users.byIds(chats.map((c) => c.lastMessage.senderId))
    const at = now()
    return chats.map((c) => unreadChat(c, profiles, at))
  })

  app.get(prefix, {
    schema: {
      tags,
      summary: 'All chats',
      description: 'Every direct chat with a message, newest last message first (at most 1000).',
      security,
      response: { 200: Type.Array(ChatSummary, { description: 'Chats, newest last message first' }), ...errors(401, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    const chats = listedChats(await allConversations(actor))
    const profiles = await users.byIds(chatProfileIds(chats))
    const at = now()
    return chats.map((c) => chatSummary(c, profiles, at))
  })

  app.get<{ Params: PairParamsIn }>(`${prefix}/users/:user_a_id/:user_b_id`, {
    schema: {
      tags,
      summary: 'The chat id of two users',
      description: 'One of the two must be you; the order does not matter. 404 when the two have never chatted.',
      security,
      params: PairParams,
      response: { 200: ChatIdReply, ...errors(400, 401, 403, 404, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    const peerId = peerOfPair(actor.userId, req.params.user_a_id, req.params.user_b_id)
    const chatId = await conversationWith(actor, peerId)
    if (chatId === null) {
      await requireUser(peerId)
      throw new ChatError('CHAT_CONVERSATION_NOT_FOUND', 'The two users have never chatted')
    }
    return { chat_id: chatId }
  })

  if (variant === 'v1') {
    app.get<{ Params: ChatIdParamsIn, Querystring: PageQueryIn }>(`${prefix}/:chat_id`, {
      schema: {
        tags,
        summary: 'Messages of a chat',
        description: '`count` messages from the `offset`-th newest on, newest first. 403 unless you are in the chat.',
        security,
        params: ChatIdParams,
        querystring: PageQuery,
        response: { 200: ChatMessages, ...errors(400, 401, 403, 404, 429) },
      },
    }, async (req) => {
      const actor = await actorOf(req)
      const { count, offset } = req.query
      const { messages } = await historyAt(actor, { conversationId: req.params.chat_id }, offset - 1, count)
      return render(messages.reverse())
    })

    app.get<{ Params: PairParamsIn, Querystring: PageQueryIn }>(`${prefix}/:user_a_id/:user_b_id`, {
      schema: {
        tags,
        summary: 'Messages between two users',
        description: 'As `GET /chats/{chat_id}` for the chat of the two users; one of them must be you. Never chatted: an empty list.',
        security,
        params: PairParams,
        querystring: PageQuery,
        response: { 200: ChatMessages, ...errors(400, 401, 403, 404, 429) },
      },
    }, async (req) => {
      const actor = await actorOf(req)
      const peerId = peerOfPair(actor.userId, req.params.user_a_id, req.params.user_b_id)
      const { count, offset } = req.query
      const { conversationId, messages } = await historyAt(actor, { peerId }, offset - 1, count)
      if (conversationId === null) await requireUser(peerId)
      return render(messages.reverse())
    })

    app.post<{ Body: ReadChatBodyIn }>(`${prefix}/read`, {
      schema: {
        tags,
        summary: 'Mark a chat read',
        description: 'Your unread count in the chat becomes 0, in every API.',
        security,
        body: ReadChatBody,
        response: { 201: Created, ...errors(400, 401, 403, 404, 429) },
      },
    }, async (req, reply) => {
      const actor = await actorOf(req)
      await actor.call(Commands.message.read, { conversationId: req.body.chat_id })
      return reply.code(201).send({})
    })
  } else {
    app.get<{ Params: ChatIdParamsIn }>(`${prefix}/:chat_id`, {
      schema: {
        tags,
        summary: 'Take unread messages of a chat',
        description: 'At most 50 of your unread messages, oldest first, now marked read; the `unread_count` header says how many are left. 403 unless you are in the chat.',
        security,
        params: ChatIdParams,
        response: { 200: TakenMessages, ...errors(400, 401, 403, 404, 429) },
      },
    }, async (req, reply) => {
      const actor = await actorOf(req)
      const { items, remaining } = await take(actor, req.params.chat_id)
      return reply.header('unread_count', String(remaining)).send(items)
    })

    app.get<{ Params: PairParamsIn }>(`${prefix}/:user_a_id/:user_b_id`, {
      schema: {
        tags,
        summary: 'Take unread messages between two users',
        description: 'As `GET /chats_v2/{chat_id}` for the chat of the two users; one of them must be you. Never chatted: an empty list and `unread_count: 0`.',
        security,
        params: PairParams,
        response: { 200: TakenMessages, ...errors(400, 401, 403, 404, 429) },
      },
    }, async (req, reply) => {
      const actor = await actorOf(req)
      const peerId = peerOfPair(actor.userId, req.params.user_a_id, req.params.user_b_id)
      const chatId = await conversationWith(actor, peerId)
      if (chatId === null) {
        await requireUser(peerId)
        return reply.header('unread_count', '0').send([])
      }
      const { items, remaining } = await take(actor, chatId)
      return reply.header('unread_count', String(remaining)).send(items)
    })
  }

  app.delete<{ Params: ChatIdParamsIn }>(`${prefix}/:chat_id`, {
    schema: {
      tags,
      summary: 'Delete a chat',
      description: 'Deletes every message of the chat for both sides, unread counts included. 403 unless you are in the chat.',
      security,
      params: ChatIdParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404, 429) },
    },
  }, async (req, reply) => {
    const actor = await actorOf(req)
    await actor.call(Commands.message.deleteConversation, { conversationId: req.params.chat_id })
    return reply.code(204).send()
  })
}
