import { Type, type Static } from '@sinclair/typebox'
import { ConnectionId, Id, NAME_PATTERN, Timestamp } from './common.js'

/** A point on Earth. */
export const Geolocation = Type.Object({
  latitude: Type.Number({ minimum: -90, maximum: 90 }),
  longitude: Type.Number({ minimum: -180, maximum: 180 }),
}, { additionalProperties: false })
export type Geolocation = Static<typeof Geolocation>

/** Public rooms can be listed, entered and joined by anyone logged in. */
export const RoomVisibility = Type.Union([Type.Literal('public'), Type.Literal('private')])
export type RoomVisibility = Static<typeof RoomVisibility>

/** 1–128 characters, none of common.ts's NAME_FORBIDDEN_CHARS (the rule every name follows). */
export const RoomName = Type.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN })

/** A room: a conversation with an owner, a name and members. Its id is its conversation id. */
export const Room = Type.Object({
  id: Id,
  name: Type.String(),
  ownerId: Id,
  capacity: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  geolocation: Type.Union([Geolocation, Type.Null()]),
  visibility: RoomVisibility,
  memberCount: Type.Integer({ minimum: 0 }),
  createdAt: Timestamp,
})
export type Room = Static<typeof Room>

export const RoomMember = Type.Object({
  userId: Id,
  joinedAt: Timestamp,
})
export type RoomMember = Static<typeof RoomMember>

export const CreateRoomRequest = Type.Object({
  actorId: Id,
  name: RoomName,
  capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
  geolocation: Type.Optional(Geolocation),
  visibility: Type.Optional(RoomVisibility),
}, { additionalProperties: false })
export type CreateRoomRequest = Static<typeof CreateRoomRequest>

export const RoomReply = Type.Object({ room: Room })
export type RoomReply = Static<typeof RoomReply>

export const RoomRef = Type.Object({ actorId: Id, roomId: Id }, { additionalProperties: false })
export type RoomRef = Static<typeof RoomRef>

export const ROOM_LIST_MAX = 200

/**
 * `mine`: rooms the actor is a member of; `public`: public rooms;
 * `visible`: both. Newest first; `beforeId` pages on.
 */
export const ListRoomsRequest = Type.Object({
  actorId: Id,
  scope: Type.Union([Type.Literal('mine'), Type.Literal('public'), Type.Literal('visible')]),
  beforeId: Type.Optional(Id),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: ROOM_LIST_MAX })),
}, { additionalProperties: false })
export type ListRoomsRequest = Static<typeof ListRoomsRequest>

export const ListRoomsReply = Type.Object({ rooms: Type.Array(Room), hasMore: Type.Boolean() })
export type ListRoomsReply = Static<typeof ListRoomsReply>

export const JoinRoomReply = Type.Object({
  room: Room,
  member: RoomMember,
  /** False when the actor already was a member (joining is idempotent). */
  joined: Type.Boolean(),
})
export type JoinRoomReply = Static<typeof JoinRoomReply>

export const ROOM_MEMBERS_DEFAULT = 1000
export const ROOM_MEMBERS_MAX = 5000

/** Members in joining order, a page at a time: `after` is the previous page's `next`. */
export const RoomMembersRequest = Type.Object({
  actorId: Id,
  roomId: Id,
  after: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: ROOM_MEMBERS_MAX })),
}, { additionalProperties: false })
export type RoomMembersRequest = Static<typeof RoomMembersRequest>

export const RoomMembersReply = Type.Object({
  roomId: Id,
  members: Type.Array(RoomMember),
  /** Pass as `after` for the next page; null after the last member. */
  next: Type.Union([Type.String(), Type.Null()]),
})
export type RoomMembersReply = Static<typeof RoomMembersReply>

/** The rooms a user belongs to: a gateway subscribes to their event subjects. */
export const MembershipsRequest = Type.Object({ actorId: Id }, { additionalProperties: false })
export type MembershipsRequest = Static<typeof MembershipsRequest>

export const MembershipsReply = Type.Object({ roomIds: Type.Array(Id) })
export type MembershipsReply = Static<typeof MembershipsReply>

/**
 * A visit: one socket present in a conversation (the `rooms` API's
 * `/ws/room`). Entering a room joins it if needed; when the last visit that
 * a join was made for ends, the user leaves again. A user who was a member
 * before their visits stays one. A direct conversation is entered by its two
 * members only, and never joined or left.
 */
export const VisitRequest = Type.Object({
  actorId: Id,
  roomId: Id,
  /** Cluster-unique id of the visiting socket. */
  visitId: ConnectionId,
}, { additionalProperties: false })
export type VisitRequest = Static<typeof VisitRequest>

export const EnterReply = Type.Object({
  conversationId: Id,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('room')]),
  /** True when this visit made the user a member of the room. */
  joined: Type.Boolean(),
})
export type EnterReply = Static<typeof EnterReply>

export const ExitRoomReply = Type.Object({
  /** True when this exit ended the membership its visits had made. */
  left: Type.Boolean(),
})
export type ExitRoomReply = Static<typeof ExitRoomReply>
