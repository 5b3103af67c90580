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

/** A session id: the `jti` of its tokens and the `_id` of its record. */
export const SessionId = Type.String({ minLength: 1, maxLength: 64 })

export const UpdateProfileRequest = Type.Object({
  actorId: Id,
  username: Type.Optional(Username),
  /** The new password; requires `currentPassword`, and ends every session of the user but `sessionId`. */
  password: Type.Optional(Password),
  /**
   * The user's current password, required with `password`: a stolen session
   * alone must not be able to lock the owner out. Missing or wrong:
   * CHAT_CURRENT_PASSWORD_INVALID, nothing changes.
   */
  currentPassword: Type.Optional(Password),
  /**
   * The session making the change (the gateway sets it from the verified
   * session, never from the client). It stays logged in when the password
   * changes; every other session of the user is revoked. Absent: all are.
   */
  sessionId: Type.Optional(SessionId),
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

/** Most session ids one auth.sessions.check may carry. */
export const SESSION_CHECK_MAX = 1000

/**
 * Asks which of these sessions may no longer be used (revoked, expired or
 * unknown). Gateways send the sessions of their open sockets every
 * SESSION_RECHECK_MS, so a socket whose revocation broadcast was missed is
 * still closed within seconds.
 */
export const CheckSessionsRequest = Type.Object({
  sessionIds: Type.Array(SessionId, { maxItems: SESSION_CHECK_MAX }),
}, { additionalProperties: false })
export type CheckSessionsRequest = Static<typeof CheckSessionsRequest>

export const CheckSessionsReply = Type.Object({
  /** The sessions of the request that must be closed; the others are valid. */
  revoked: Type.Array(SessionId),
})
export type CheckSessionsReply = Static<typeof CheckSessionsReply>

/** An RFC 7638 JWK thumbprint (SHA-256, base64url): the `kid` of a signing key. */
export const KeyId = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })

/** One public token-verification key, as a JSON Web Key (RFC 7517, RFC 8037). */
export const PublicJwk = Type.Object({
  kty: Type.Literal('OKP'),
  crv: Type.Literal('Ed25519'),
  /** The public key, base64url. */
  x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  kid: KeyId,
  alg: Type.Literal('EdDSA'),
  use: Type.Literal('sig'),
})
export type PublicJwk = Static<typeof PublicJwk>

/**
 * The keys tokens may be verified with (auth.jwks, and every gateway's
 * `GET /.well-known/jwks.json`): the active key and every retired one
 * whose tokens may still be unexpired.
 */
export const Jwks = Type.Object({ keys: Type.Array(PublicJwk) })
export type Jwks = Static<typeof Jwks>

/** Broadcast on `<prefix>.v1.evt.auth.jwks.changed` when the key set changes; gateways fetch auth.jwks again. */
export const JwksChangedEvent = Type.Object({
  /** The key ids now published. */
  kids: Type.Array(KeyId),
})
export type JwksChangedEvent = Static<typeof JwksChangedEvent>
