import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ChatError, Commands } from '@chat/contracts'
import { toChatError } from '@chat/runtime'
import { requiresSession, type HttpApiOptions } from '../../http-api.js'
import {
  CreateRoomBody, errors, NoContent, RoomList, RoomParams, RoomView, TicketView,
  type CreateRoomBody as CreateRoomBodyT, type RoomParams as RoomParamsT,
} from './schemas.js'
import type { Actor } from '../../actor.js'
import { allRooms, ListCaps } from '../../lists.js'
import { view } from './room-list.js'

const tags = ['rooms']

const isNotFound = (err: unknown) => toChatError(err).code === 'CHAT_CONVERSATION_NOT_FOUND'

/** `/Room…` of document 002: list, create, delete, and the ticket that opens `/ws/room`. */
export async function roomRoutes (app: FastifyInstance, { services, auth }: HttpApiOptions): Promise<void> {
  /** The request's verified user, acting. */
  const actorOf = async (req: FastifyRequest): Promise<Actor> => services.act(await auth(req))

  app.get('/Room', {
    schema: {
      tags,
      summary: `Public rooms and the user's rooms, newest first (at most ${ListCaps.rooms})`,
      security: requiresSession,
      response: { 200: RoomList, ...errors(401, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    return (await allRooms(actor, 'visible')).map(view)
  })

  app.post<{ Body: CreateRoomBodyT }>('/Room', {
    schema: {
      tags,
      summary: 'Create a public room, owned by the user, who is its first member',
      security: requiresSession,
      body: CreateRoomBody,
      response: { 201: RoomView, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    const actor = await actorOf(req)
    const { room } = await actor.call(Commands.message.roomCreate, { name: req.body.name, visibility: 'public' })
    return reply.code(201).send(view(room))
  })

  app.delete<{ Params: RoomParamsT }>('/Room/:id', {
    schema: {
      tags,
      summary: 'Delete a room (owner only; a direct conversation: 403); its /ws/room sockets are closed with 4004',
      security: requiresSession,
      params: RoomParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404, 429) },
    },
  }, async (req, reply) => {
    const actor = await actorOf(req)
    await actor.call(Commands.message.roomDelete, { roomId: req.params.id }).catch(async (err: unknown) => {
      if (!isNotFound(err)) throw err
      // A direct conversation of the user's is no room they own: 403; anything else stays 404.
      const member = await actor.call(Commands.message.history, { conversationId: req.params.id, limit: 1 }).then(() => true, () => false)
      if (member) throw new ChatError('CHAT_FORBIDDEN', 'A direct conversation is not a room you own')
      throw err
    })
    return reply.code(204).send()
  })

  app.get<{ Params: RoomParamsT }>('/Room/:id', {
    schema: {
      tags,
      summary: 'A single-use, short-lived token that opens /ws/room in this room, or in a direct conversation of yours',
      security: requiresSession,
      params: RoomParams,
      response: { 200: TicketView, ...errors(400, 401, 403, 404, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    const id = req.params.id
    // Refuses rooms the user may not see (404 unknown, 403 private); capacity is decided on entry.
    await actor.call(Commands.message.roomGet, { roomId: id }).catch(async (err: unknown) => {
      // Not a room: a Room id may also be a direct conversation (API.md), open to its two members.
      if (!isNotFound(err)) throw err
      await actor.call(Commands.message.history, { conversationId: id, limit: 1 })
    })
    const { ticket } = await actor.call(Commands.auth.issueTicket, { token: actor.session.token, roomId: id })
    return { token: ticket }
  })
}
