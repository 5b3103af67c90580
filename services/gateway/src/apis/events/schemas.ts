import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { HISTORY_MAX_LIMIT, Password, Username } from '@chat/contracts'

/**
 * Request payloads (`data`) of the `events` API (document 000 as API.md
 * settles it). Unknown extra fields are ignored; every field we read has a
 * strict type, so objects where strings belong (operator injection) are
 * refused here.
 */

/**
 * An id as this API sends it: the decimal string of a positive integer
 * below 2^53, or that integer itself (API.md: send strings, accept both).
 * Hex strings (as the document's examples show) are not ids of ours.
 */
export const WireId = Type.Union([
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  Type.String({ pattern: '^[1-9][0-9]{0,15}$' }),
])

/** The id a WireId names; CHAT_BAD_REQUEST style checks happen in the schema, this only converts. */
export function idOf (id: Static<typeof WireId>): number {
  return typeof id === 'number' ? id : Number(id)
}

/** A username naming another user (the document's e-mail-like `user`). */
const User = Username

export const DEFAULT_PAGE_SIZE = 20

export const EventsRequests = {
  LOGON: Type.Object({ user: Username, password: Password }),
  LOGIN: Type.Object({ user: Type.String({ minLength: 1, maxLength: 254 }), password: Password }),
  LIST_CONTACTS_UNREAD: Type.Object({}),
  CREATE_CONTACT: Type.Object({ user: User }),
  DELETE_CONTACT: Type.Object({ user: User }),
  CHAT_WITH: Type.Object({ user: User }),
  CHAT_HISTORY: Type.Object({
    user: User,
    /** 1 is the newest page; 1 when absent. */
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    /** DEFAULT_PAGE_SIZE when absent. */
    pagesize: Type.Optional(Type.Integer({ minimum: 1, maximum: HISTORY_MAX_LIMIT })),
  }),
  CHAT_SEND_MSG: Type.Object({
    content: Type.String(),
    /** The client's clock; kept with the message, never trusted. */
    time: Type.Optional(Type.String({ maxLength: 64 })),
    /** The recipient. */
    user: User,
  }),
  CHAT_RECEIVE_MSG: Type.Object({ id: WireId }),
  CHAT_DELETE: Type.Object({ id: WireId }),
} satisfies Record<string, TSchema>

export type EventsRequestType = keyof typeof EventsRequests
export type EventsData<E extends EventsRequestType> = Static<(typeof EventsRequests)[E]>

/**
 * A decoded request. A CHAT_RECEIVE_MSG is never answered, not even when
 * malformed (an answer would shift every later answer for a client that
 * matches answers to requests by order), so one that does not validate
 * decodes with `invalid` set instead of failing.
 */
export type EventsRequest =
  | { [E in Exclude<EventsRequestType, 'CHAT_RECEIVE_MSG'>]: { type: E, payload: EventsData<E> } }[Exclude<EventsRequestType, 'CHAT_RECEIVE_MSG'>]
  | { type: 'CHAT_RECEIVE_MSG', payload: { data: EventsData<'CHAT_RECEIVE_MSG'> | undefined, invalid?: string } }

/**
 * Requests handled before login. CHAT_RECEIVE_MSG is among them only
 * because it is never answered: without a session it is ignored.
 */
export const PublicEvents: ReadonlySet<EventsRequestType> = new Set(['LOGON', 'LOGIN', 'CHAT_RECEIVE_MSG'])

export function isEventsType (event: string): event is EventsRequestType {
  return Object.hasOwn(EventsRequests, event)
}
