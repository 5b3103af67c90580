import { Type, type Static } from '@sinclair/typebox'
import { Id, PublicUser } from './common.js'

/** Blocks or unblocks `targetId` for the actor. */
export const BlockRequest = Type.Object({ actorId: Id, targetId: Id }, { additionalProperties: false })
export type BlockRequest = Static<typeof BlockRequest>

export const ListBlockedRequest = Type.Object({ actorId: Id }, { additionalProperties: false })
export type ListBlockedRequest = Static<typeof ListBlockedRequest>

export const ListBlockedReply = Type.Object({ userIds: Type.Array(Id) })
export type ListBlockedReply = Static<typeof ListBlockedReply>

/** Whether `blockerId` has blocked `blockedId`. */
export const BlockCheckRequest = Type.Object({ blockerId: Id, blockedId: Id }, { additionalProperties: false })
export type BlockCheckRequest = Static<typeof BlockCheckRequest>

export const BlockCheckReply = Type.Object({ blocked: Type.Boolean() })
export type BlockCheckReply = Static<typeof BlockCheckReply>

export const USER_SEARCH_MAX = 50

/** Usernames containing `query`, case-insensitively; the text is literal, never a pattern. */
export const SearchUsersRequest = Type.Object({
  actorId: Id,
  query: Type.String({ minLength: 1, maxLength: 64 }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: USER_SEARCH_MAX })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
}, { additionalProperties: false })
export type SearchUsersRequest = Static<typeof SearchUsersRequest>

export const SearchUsersReply = Type.Object({ users: Type.Array(PublicUser), hasMore: Type.Boolean() })
export type SearchUsersReply = Static<typeof SearchUsersReply>
