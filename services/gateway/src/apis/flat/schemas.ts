import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Id, type MessageKind } from '@chat/contracts'

/**
 * Requests of the `flat` API (document 004): flat JSON objects whose `type`
 * names the request, every other field beside it. Unknown extra fields are
 * ignored; every field we read has a strict type (ids are integers, text is
 * text), so objects where strings belong are refused here. Value rules
 * (username length, message length, …) are the services'.
 */
const Text = Type.String({ maxLength: 1_048_576 })
/** A username as a client names it; the services decide whether it exists. */
const Name = Type.String({ maxLength: 1024 })

/** The document's message types, exactly as spelled there. */
export const FlatMessageTypes = ['TEXT', 'FILE', 'IMAGE'] as const
export type FlatMessageType = (typeof FlatMessageTypes)[number]

export const FlatRequests = {
  REQUEST_LOGIN: Type.Object({ login: Name, pass: Text }),
  REQUEST_SIGNUP: Type.Object({ login: Name, pass: Text }),
  CREATE_ROOM: Type.Object({ username: Name, customer: Name }),
  SND_MSG: Type.Object({
    username: Name,
    room_id: Id,
    message: Text,
    msg_type: Type.Union(FlatMessageTypes.map((t) => Type.Literal(t))),
  }),
  READ_MSG: Type.Object({
    read: Type.Union([Type.Literal('ALL'), Type.Literal('RESENT')]),
    room_id: Id,
  }),
  SEARCH_USER: Type.Object({ user: Name }),
  DELETE_ROOM: Type.Object({ id: Id }),
  DELETE_MSG: Type.Object({ id: Id }),
  EDIT_MSG: Type.Object({ id: Id, new_msg: Text }),
  OLD_DIALOGS: Type.Object({ username: Name }),
} satisfies Record<string, TSchema>

export type FlatRequestType = keyof typeof FlatRequests

/** A decoded request: its type, and its other fields as the payload. */
export type FlatRequest = {
  [T in FlatRequestType]: { type: T, payload: Static<(typeof FlatRequests)[T]> }
}[FlatRequestType]

/** Requests a socket may send before it has logged in. */
export const PublicTypes: ReadonlySet<FlatRequestType> = new Set(['REQUEST_LOGIN', 'REQUEST_SIGNUP'])

export function isFlatType (type: string): type is FlatRequestType {
  return Object.hasOwn(FlatRequests, type)
}

/** TEXT/FILE/IMAGE → the contract's message kind. */
export function kindOf (t: FlatMessageType): MessageKind {
  return t.toLowerCase() as MessageKind
}

/**
 * The contract's kind → the document's msg_type. Kinds the document lacks
 * (sent through other APIs: audio, sticker, location, customize) keep their
 * name, upper-cased in the same style.
 */
export function msgTypeOf (kind: MessageKind): string {
  return kind.toUpperCase()
}
