import { ChatError, createValidator, type Message, type RoomMemberEvent, type UserName } from '@chat/contracts'
import { Type } from '@sinclair/typebox'
import type { Frame } from '../../ws-api.js'

/**
 * Frames of `/ws/room` (document 002). Requests are `{token}` (the room
 * ticket of `GET /Room/:id`, first) and `{msg}`; answers are only
 * `{status}`; pushes are `{type: 0 | 1, …}`. Pure mapping, no I/O.
 */

/** A request frame, decoded. */
export type RoomsRequest =
  /** The ticket is checked when handled: a malformed one is a bad ticket, which closes the socket. */
  | { type: 'token', payload: { token: unknown } }
  | { type: 'msg', payload: { msg: string } }

const MsgFrame = createValidator(Type.Object({ msg: Type.String() }))

/**
 * Tells the two requests apart by their field. Unknown extra fields are
 * ignored; a frame with both fields, neither, or a `msg` that is not a
 * string is refused (`{status: false}`, the socket stays open).
 */
export function decodeRoomsFrame (frame: unknown): RoomsRequest {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    throw new ChatError('CHAT_BAD_REQUEST', 'frames must be JSON objects')
  }
  const hasToken = 'token' in frame
  const hasMsg = 'msg' in frame
  if (hasToken && hasMsg) throw new ChatError('CHAT_BAD_REQUEST', 'a frame is either {token} or {msg}')
  if (hasToken) return { type: 'token', payload: { token: (frame as { token: unknown }).token } }
  if (hasMsg) return { type: 'msg', payload: { msg: MsgFrame(frame).msg } }
  throw new ChatError('CHAT_UNKNOWN_TYPE', 'expected {token} or {msg}')
}

/** The only answers: `{status: true}` and `{status: false}`. */
export const status = (ok: boolean): Frame => ({ status: ok })

/** Unix seconds of an ISO-8601 time, as the document's `time` is. */
export function unixSeconds (iso: string): number {
  return Math.floor(Date.parse(iso) / 1000)
}

export type MessagePush = { type: 0, msg: string, username: string, nickname: string, time: number }
export type MemberPush = { type: 1, username: string, nickname: string, action: 0 | 1, time: number }

/**
 * Someone else's message. `msg` is the content as stored, whatever the
 * kind: a text, a file's or image's URL, a location's JSON.
 */
export function messagePush (message: Message, sender: Pick<UserName, 'username' | 'nickname'> | undefined): MessagePush {
  return {
    type: 0,
    msg: message.content,
    username: sender?.username ?? '',
    nickname: sender?.nickname ?? '',
    time: unixSeconds(message.createdAt),
  }
}

/** Someone else entering (1) or leaving (0) the room. */
export function memberPush (event: RoomMemberEvent): MemberPush {
  return {
    type: 1,
    username: event.username,
    nickname: event.nickname,
    action: event.kind === 'member.joined' ? 1 : 0,
    time: unixSeconds(event.at),
  }
}
