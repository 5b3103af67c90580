import { type Static, type TSchema, Type } from '@sinclair/typebox'
import * as A from './auth.js'
import * as C from './contact.js'
import * as M from './message.js'
import * as R from './room.js'
import * as L from './lifecycle.js'
import * as S from './social.js'
import { Empty } from './common.js'
import { Commands, type CommandSubject } from './subjects.js'

/**
 * Request and reply schema of every command: the single description of the
 * service interface. Services validate requests against it; the typed client
 * derives its signatures from it; docs list it.
 */
export const CommandSpecs = {
  [Commands.auth.register]: { request: A.RegisterRequest, reply: A.Session },
  [Commands.auth.login]: { request: A.LoginRequest, reply: A.Session },
  [Commands.auth.resume]: { request: A.ResumeRequest, reply: A.Session },
  [Commands.auth.logout]: { request: A.LogoutRequest, reply: Empty },
  [Commands.auth.updateProfile]: { request: A.UpdateProfileRequest, reply: A.UpdateProfileReply },
  [Commands.auth.getUsers]: { request: A.GetUsersRequest, reply: A.GetUsersReply },
  [Commands.auth.getNames]: { request: A.GetUsersRequest, reply: A.GetNamesReply },
  [Commands.auth.searchUsers]: { request: S.SearchUsersRequest, reply: S.SearchUsersReply },
  [Commands.auth.issueTicket]: { request: A.IssueTicketRequest, reply: A.IssueTicketReply },
  [Commands.auth.redeemTicket]: { request: A.RedeemTicketRequest, reply: A.RedeemTicketReply },
  [Commands.auth.jwks]: { request: Empty, reply: A.Jwks },
  [Commands.auth.checkSessions]: { request: A.CheckSessionsRequest, reply: A.CheckSessionsReply },
  [Commands.contact.list]: { request: C.ListContactsRequest, reply: C.ListContactsReply },
  [Commands.contact.add]: { request: C.ContactTarget, reply: C.AddContactReply },
  [Commands.contact.remove]: { request: C.ContactTarget, reply: Empty },
  [Commands.contact.presenceOnline]: { request: C.PresenceChange, reply: Empty },
  [Commands.contact.presenceOffline]: { request: C.PresenceChange, reply: Empty },
  [Commands.contact.presenceHeartbeat]: { request: C.PresenceHeartbeat, reply: Empty },
  [Commands.contact.block]: { request: S.BlockRequest, reply: Empty },
  [Commands.contact.unblock]: { request: S.BlockRequest, reply: Empty },
  [Commands.contact.listBlocked]: { request: S.ListBlockedRequest, reply: S.ListBlockedReply },
  [Commands.contact.checkBlocked]: { request: S.BlockCheckRequest, reply: S.BlockCheckReply },
  [Commands.message.send]: { request: M.SendMessageRequest, reply: M.SendMessageReply },
  [Commands.message.history]: { request: M.HistoryRequest, reply: M.HistoryReply },
  [Commands.message.read]: { request: M.ReadRequest, reply: M.ReadReply },
  [Commands.message.clear]: { request: M.ClearRequest, reply: M.ClearReply },
  [Commands.message.sync]: { request: M.SyncRequest, reply: M.SyncReply },
  [Commands.message.unread]: { request: M.UnreadRequest, reply: M.UnreadReply },
  [Commands.message.fileCreate]: { request: M.FileCreateRequest, reply: M.FileCreateReply },
  [Commands.message.fileChunkPut]: { request: M.FileChunkPutRequest, reply: Empty },
  [Commands.message.fileCommit]: { request: M.FileRef, reply: M.FileReply },
  [Commands.message.fileOpen]: { request: M.FileRef, reply: M.FileReply },
  [Commands.message.fileChunkGet]: { request: M.FileChunkGetRequest, reply: M.FileChunkGetReply },
  [Commands.message.edit]: { request: L.EditMessageRequest, reply: L.EditMessageReply },
  [Commands.message.delete]: { request: L.DeleteMessageRequest, reply: L.DeleteMessageReply },
  [Commands.message.deleteConversation]: { request: L.DeleteConversationRequest, reply: L.DeleteConversationReply },
  [Commands.message.typing]: { request: L.TypingRequest, reply: Empty },
  [Commands.message.listConversations]: { request: L.ListConversationsRequest, reply: L.ListConversationsReply },
  [Commands.message.roomCreate]: { request: R.CreateRoomRequest, reply: R.RoomReply },
  [Commands.message.roomDelete]: { request: R.RoomRef, reply: Empty },
  [Commands.message.roomGet]: { request: R.RoomRef, reply: R.RoomReply },
  [Commands.message.roomList]: { request: R.ListRoomsRequest, reply: R.ListRoomsReply },
  [Commands.message.roomJoin]: { request: R.RoomRef, reply: R.JoinRoomReply },
  [Commands.message.roomLeave]: { request: R.RoomRef, reply: Empty },
  [Commands.message.roomMembers]: { request: R.RoomMembersRequest, reply: R.RoomMembersReply },
  [Commands.message.roomMemberships]: { request: R.MembershipsRequest, reply: R.MembershipsReply },
  [Commands.message.roomEnter]: { request: R.VisitRequest, reply: R.EnterReply },
  [Commands.message.roomExit]: { request: R.VisitRequest, reply: R.ExitRoomReply },
  [Commands.message.openConversation]: { request: M.OpenConversationRequest, reply: M.OpenConversationReply },
  [Commands.message.takeUnread]: { request: M.TakeUnreadRequest, reply: M.TakeUnreadReply },
} as const satisfies Record<CommandSubject, { request: TSchema, reply: TSchema }>

export type CommandSpecMap = typeof CommandSpecs
/** The request payload type of a command. */
export type CommandRequest<S extends CommandSubject> = Static<CommandSpecMap[S]['request']>
/** The reply payload type of a command. */
export type CommandReply<S extends CommandSubject> = Static<CommandSpecMap[S]['reply']>

/** Used by docs: the JSON schema of every command, keyed by subject suffix. */
export const CommandSchemas = Type.Object(
  Object.fromEntries(Object.entries(CommandSpecs).map(([k, v]) => [k, Type.Object({ request: v.request, reply: v.reply })]))
)
