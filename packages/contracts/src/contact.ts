import { Type, type Static } from '@sinclair/typebox'
import { Id, Timestamp, Username } from './common.js'

export const Contact = Type.Object({
  userId: Id,
  username: Username,
  nickname: Type.String(),
  /** A short avatar URL, or empty (lists never carry data-URI avatars; see listAvatar). */
  avatar: Type.String(),
  /** Whether the contact has an avatar, even one left out of the list. */
  hasAvatar: Type.Optional(Type.Boolean()),
  online: Type.Boolean(),
  addedAt: Timestamp,
})
export type Contact = Static<typeof Contact>

export const CONTACT_LIST_MAX = 1000

/**
 * The actor's contacts in the order they were added, a page at a time:
 * `after` is the previous page's `next`. A page also ends where its reply
 * would no longer fit in one NATS message (avatars may be large).
 */
export const ListContactsRequest = Type.Object({
  actorId: Id,
  after: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CONTACT_LIST_MAX })),
}, { additionalProperties: false })
export type ListContactsRequest = Static<typeof ListContactsRequest>

export const ListContactsReply = Type.Object({
  contacts: Type.Array(Contact),
  /** Pass as `after` for the next page; null after the last contact. */
  next: Type.Union([Type.String(), Type.Null()]),
})
export type ListContactsReply = Static<typeof ListContactsReply>

/** Names the other user by id or by username (exactly one). */
export const ContactTarget = Type.Object({
  actorId: Id,
  targetId: Type.Optional(Id),
  targetUsername: Type.Optional(Username),
}, { additionalProperties: false })
export type ContactTarget = Static<typeof ContactTarget>

export const AddContactReply = Type.Object({ contact: Contact })
export type AddContactReply = Static<typeof AddContactReply>

/** A gateway reports the first socket of a user it holds. */
export const PresenceChange = Type.Object({
  userId: Id,
  gatewayId: Type.String({ minLength: 1, maxLength: 128 }),
}, { additionalProperties: false })
export type PresenceChange = Static<typeof PresenceChange>

/** A gateway's periodic list of the users it holds sockets of. */
export const PresenceHeartbeat = Type.Object({
  gatewayId: Type.String({ minLength: 1, maxLength: 128 }),
  userIds: Type.Array(Id, { maxItems: 10000 }),
}, { additionalProperties: false })
export type PresenceHeartbeat = Static<typeof PresenceHeartbeat>
