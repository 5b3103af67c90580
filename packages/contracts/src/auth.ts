import { Type, type Static } from '@sinclair/typebox'
import { Avatar, Email, Id, Nickname, OwnUser, Password, PublicUser, Timestamp, UserName, Username } from './common.js'

export const RegisterRequest = Type.Object({
  username: Username,
  password: Password,
  email: Type.Optional(Email),
  nickname: Type.Optional(Nickname),
  avatar: Type.Optional(Avatar),
}, { additionalProperties: false })
export type RegisterRequest = Static<typeof RegisterRequest>

/** A logged-in session: the user and a JWT for it. */
export const Session = Type.Object({
  user: OwnUser,
  token: Type.String(),
  sessionId: Type.String(),
  expiresAt: Timestamp,
})
export type Session = Static<typeof Session>

/**
 * A client's IP address as the gateway saw it (IPv4, or IPv6 possibly with
 * a zone): what login throttling counts failures from.
 */
export const ClientAddress = Type.String({ minLength: 2, maxLength: 64, pattern: '^[0-9A-Za-z:.%_-]+$' })

export const LoginRequest = Type.Object({
  /** The username, or the e-mail address. */
  login: Type.String({ minLength: 1, maxLength: 254 }),
  password: Password,
  /** Set by the gateway from the connection, never by the client: failed logins are throttled per address too. */
  clientAddress: Type.Optional(ClientAddress),
}, { additionalProperties: false })
export type LoginRequest = Static<typeof LoginRequest>

/** Checks a token (signature, expiry, revocation) and returns its user. */
export const ResumeRequest = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 4096 }),
}, { additionalProperties: false })
export type ResumeRequest = Static<typeof ResumeRequest>

export const LogoutRequest = Type.Object({
  actorId: Id,
  token: Type.String({ minLength: 1, maxLength: 4096 }),
}, { additionalProperties: false })
export type LogoutRequest = Static<typeof LogoutRequest>

export const UpdateProfileRequest = Type.Object({
  actorId: Id,
  username: Type.Optional(Username),
  password: Type.Optional(Password),
  email: Type.Optional(Email),
  nickname: Type.Optional(Nickname),
  avatar: Type.Optional(Avatar),
}, { additionalProperties: false })
export type UpdateProfileRequest = Static<typeof UpdateProfileRequest>

export const UpdateProfileReply = Type.Object({ user: OwnUser })
export type UpdateProfileReply = Static<typeof UpdateProfileReply>

/** Looks users up by id and/or username; unknown ones are left out. */
export const GetUsersRequest = Type.Object({
  ids: Type.Optional(Type.Array(Id, { maxItems: 1000 })),
  usernames: Type.Optional(Type.Array(Username, { maxItems: 1000 })),
}, { additionalProperties: false })
export type GetUsersRequest = Static<typeof GetUsersRequest>

export const GetUsersReply = Type.Object({
  users: Type.Array(PublicUser),
  /**
   * Users found but left out so the reply fits in one NATS message (avatars
   * may be 256 KiB data URIs): ask again for these ids.
   */
  omittedIds: Type.Optional(Type.Array(Id)),
})
export type GetUsersReply = Static<typeof GetUsersReply>

/** As GetUsersReply, names only: for lists and pushes, whatever the avatars weigh. */
export const GetNamesReply = Type.Object({ users: Type.Array(UserName) })
export type GetNamesReply = Static<typeof GetNamesReply>

/** Broadcast on `<prefix>.v1.evt.session.revoked`. */
export const SessionRevokedEvent = Type.Object({
  sessionId: Type.String(),
  userId: Id,
  expiresAt: Timestamp,
})
export type SessionRevokedEvent = Static<typeof SessionRevokedEvent>

/** Room tickets are 20 random bytes in hex, like the `rooms` document's example token. */
export const Ticket = Type.String({ pattern: '^[0-9a-f]{40}$' })

/**
 * Issues a single-use ticket that stands for the actor's session in one
 * room (the `rooms` API's `GET /Room/:id`). The caller has already checked
 * the actor may enter the room.
 */
export const IssueTicketRequest = Type.Object({
  actorId: Id,
  /** The session's token; redeeming the ticket resumes it, so a revoked session's tickets die with it. */
  token: Type.String({ minLength: 1, maxLength: 4096 }),
  roomId: Id,
}, { additionalProperties: false })
export type IssueTicketRequest = Static<typeof IssueTicketRequest>

export const IssueTicketReply = Type.Object({ ticket: Ticket, expiresAt: Timestamp })
export type IssueTicketReply = Static<typeof IssueTicketReply>

/** Redeems a ticket once, on any gateway; a second redemption is CHAT_TOKEN_INVALID. */
export const RedeemTicketRequest = Type.Object({ ticket: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false })
export type RedeemTicketRequest = Static<typeof RedeemTicketRequest>

export const RedeemTicketReply = Type.Object({ session: Session, roomId: Id })
export type RedeemTicketReply = Static<typeof RedeemTicketReply>
