import { Type, type Static } from '@sinclair/typebox'
// The OpenAPI fields of route schemas (`tags`, `summary`, `security`) are @fastify/swagger's.
import type {} from '@fastify/swagger'
import { Id, Nickname, Password, RoomName, Ticket, Username } from '@chat/contracts'

/**
 * Schemas of the `rooms` HTTP API (document 002): request parts are
 * validated strictly (see http-validation.ts), responses are serialized through
 * them, and both are published in the OpenAPI document at `/docs`.
 * Unknown body fields are ignored.
 */

/** `POST /User`. The document always sends `nickname`; without it the nickname is empty. */
export const RegisterBody = Type.Object({
  username: Username,
  password: Password,
  nickname: Type.Optional(Nickname),
})
export type RegisterBody = Static<typeof RegisterBody>

/** `POST /Login`. The password is opaque (the document's clients send a hex digest of it). */
export const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 254, description: 'The username (an account\'s e-mail address works too)' }),
  password: Password,
})
export type LoginBody = Static<typeof LoginBody>

/** `POST /Room`. */
export const CreateRoomBody = Type.Object({ name: RoomName })
export type CreateRoomBody = Static<typeof CreateRoomBody>

export const UsernameParams = Type.Object({ username: Username })
export type UsernameParams = Static<typeof UsernameParams>

export const RoomParams = Type.Object({ id: Id })
export type RoomParams = Static<typeof RoomParams>

/** A user as this API shows one. */
export const UserView = Type.Object({ username: Type.String(), nickname: Type.String() })
export type UserView = Static<typeof UserView>

export const Status = Type.Object({ status: Type.Boolean() })

/** A room as `GET /Room` lists it and `POST /Room` answers it. */
export const RoomView = Type.Object({ id: Id, name: Type.String() })
export type RoomView = Static<typeof RoomView>

export const RoomList = Type.Array(RoomView)

/** `GET /Room/:id`: the single-use ticket that opens `/ws/room`. */
export const TicketView = Type.Object({ token: Ticket })

/** Every HTTP error (docs/errors.md). */
export const ErrorBody = Type.Object({
  error: Type.String({ description: 'The error code in its HTTP form, e.g. `username_taken`' }),
  message: Type.String(),
})

/** Error responses a route may give, for the OpenAPI document. */
export function errors (...statuses: Array<400 | 401 | 403 | 404 | 409 | 429>): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]))
}

/** The 204 of `DELETE /Room/:id`. */
export const NoContent = Type.Null({ description: 'No Content' })
