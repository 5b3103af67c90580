import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Commands } from '@chat/contracts'
import type { Actor, ActorRequest } from '../../actor.js'
import { allConversations, allMembers, allRooms } from '../../lists.js'
import { listedRooms, roomParticipant, roomProfileIds, roomSummary, type RoomEntry } from './render.js'
import {
  CreateRoomBody, Created, RoomIdParams, RoomIdReply, RoomParticipant, RoomSummary, SendRoomBody, errors,
} from './schemas.js'
import { requiresSession as security, type HttpApiOptions } from '../../http-api.js'
import type { RoomIdParamsIn, CreateRoomBodyIn, SendRoomBodyIn } from './schemas.js'

const tags = ['chat_rooms']

/**
 * `/chat_rooms…` (document 001): public rooms with an optional capacity and
 * geolocation. Sending makes the sender a participant (a join, which is
 * idempotent and refused with `room_full` at capacity).
 */
export function registerRoomRoutes (app: FastifyInstance, opts: HttpApiOptions): void {
  const { services, auth } = opts
  const { users } = services
  /** The request's verified user, acting. */
  const actorOf = async (req: FastifyRequest): Promise<Actor> => services.act(await auth(req))

  /** The caller's rooms with their last message and unread count, newest activity first. */
  const roomList = async (actor: Actor, onlyUnread: boolean) => {
    const [rooms, conversations] = await Promise.all([allRooms(actor, 'mine'), allConversations(actor)])
    let entries: RoomEntry[] = listedRooms(rooms, conversations)
    if (onlyUnread) entries = entries.filter((e) => (e.summary?.unread ?? 0) > 0)
    const profiles = await users.byIds(roomProfileIds(entries))
    const at = new Date().toISOString()
    return entries.map((e) => roomSummary(e, profiles, at))
  }

  app.post<{ Body: CreateRoomBodyIn }>('/chat_rooms', {
    schema: {
      tags,
      summary: 'Create a chat room',
      description: 'Not in the document: how rooms come to exist. A public room; you are its creator and first participant.',
      security,
      body: CreateRoomBody,
      response: { 201: RoomIdReply, ...errors(400, 401, 429) },
    },
  }, async (req, reply) => {
    const actor = await actorOf(req)
    const { title, capacity, geolocation } = req.body
    const request: ActorRequest<typeof Commands.message.roomCreate> = { name: title, visibility: 'public' }
    if (capacity !== undefined) request.capacity = capacity
    if (geolocation !== undefined && geolocation !== null) request.geolocation = geolocation
    const { room } = await actor.call(Commands.message.roomCreate, request)
    return reply.code(201).send({ chat_room_id: room.id })
  })

  app.post<{ Params: RoomIdParamsIn, Body: SendRoomBodyIn }>('/chat_rooms/:chat_room_id/message', {
    schema: {
      tags,
      summary: 'Send a message to a chat room',
      description: 'Makes you a participant (unless the message is refused); 403 `room_full` when the room is at capacity, 404 for an unknown room, 413 for too long a message.',
      security,
      params: RoomIdParams,
      body: SendRoomBody,
      response: { 201: Created, ...errors(400, 401, 403, 404, 413, 429) },
    },
  }, async (req, reply) => {
    const actor = await actorOf(req)
    const roomId = req.params.chat_room_id
    // The service joins first if needed, after checking the content: a
    // refused message makes nobody a participant.
    await actor.call(Commands.message.send, { conversationId: roomId, kind: req.body.type, content: req.body.message, joinRoom: true })
    return reply.code(201).send({})
  })

  app.get('/chat_rooms/message/unread', {
    schema: {
      tags,
      summary: 'Chat rooms with unread messages',
      description: 'Your rooms whose unread count is above 0, newest last message first.',
      security,
      response: { 200: Type.Array(RoomSummary, { description: 'Rooms with unread messages, newest last message first' }), ...errors(401, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    return roomList(actor, true)
  })

  app.post<{ Params: RoomIdParamsIn }>('/chat_rooms/:chat_room_id/message/read', {
    schema: {
      tags,
      summary: 'Mark a chat room read',
      description: 'Your unread count in the room becomes 0, in every API. 403 unless you participate.',
      security,
      params: RoomIdParams,
      response: { 201: Created, ...errors(400, 401, 403, 404, 429) },
    },
  }, async (req, reply) => {
    const actor = await actorOf(req)
    await actor.call(Commands.message.read, { conversationId: req.params.chat_room_id })
    return reply.code(201).send({})
  })

  app.get('/chat_rooms', {
    schema: {
      tags,
      summary: 'Your chat rooms',
      description: 'Every room you participate in (created or joined), newest last message first; a room without messages sorts by its creation time.',
      security,
      response: { 200: Type.Array(RoomSummary, { description: 'Your rooms, newest last message first' }), ...errors(401, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    return roomList(actor, false)
  })

  app.get<{ Params: RoomIdParamsIn }>('/chat_rooms/:chat_room_id/users', {
    schema: {
      tags,
      summary: 'Participants of a chat room',
      description: 'In joining order; `created_at` is when each joined.',
      security,
      params: RoomIdParams,
      response: { 200: Type.Array(RoomParticipant, { description: 'Participants in joining order' }), ...errors(400, 401, 403, 404, 429) },
    },
  }, async (req) => {
    const actor = await actorOf(req)
    const roomId = req.params.chat_room_id
    const members = await allMembers(actor, roomId)
    return members.map((m) => roomParticipant(roomId, m))
  })
}
