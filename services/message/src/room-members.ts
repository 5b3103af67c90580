import {
  ChatError, ROOM_MEMBERS_DEFAULT, ROOM_MEMBERS_MAX,
  type MembershipsReply, type MembershipsRequest, type RoomMembersReply, type RoomMembersRequest,
} from '@chat/contracts'
import { Batcher, fitToBudget, jsonBytes } from '@chat/runtime'
import type { ChatPorts } from './chat/context.js'
import type { MemberDoc, RoomDoc } from './conversations.js'
import { pageLimit } from './paging.js'
import { memberCursor, parseMemberCursor, toRoomMember } from './rooms.js'

/** Most users whose room lists one memberships query reads. */
const MEMBERSHIPS_BATCH = 50

/** Public rooms are open to anyone; private ones to members and the owner. */
export function mayView (room: RoomDoc, actorId: number, member: MemberDoc | null): boolean {
  return room.visibility === 'public' || member !== null || room.ownerId === actorId
}

/**
 * Who is in a room, and which rooms a user is in: the member pages of a
 * room, and the room list a gateway loads when a user's first socket
 * arrives (with the user's unread cache warmed on the side).
 */
export class RoomMembers {
  constructor (
    private readonly ports: Pick<ChatPorts, 'rooms' | 'unread' | 'logger'>,
    private readonly opts: { replyBudgetBytes: number }
  ) {}

  /**
   * Members in joining order, for members (and anyone, for a public room),
   * a page at a time. A page also stops where its reply would no longer fit
   * in one NATS message; `next` then goes on from there.
   */
  async members (req: RoomMembersRequest): Promise<RoomMembersReply> {
    const { rooms } = this.ports
    const after = req.after === undefined ? undefined : parseMemberCursor(req.after)
    if (req.after !== undefined && after === undefined) throw new ChatError('CHAT_BAD_REQUEST', 'after: not a cursor from a previous page')
    const limit = pageLimit(req.limit, ROOM_MEMBERS_DEFAULT, ROOM_MEMBERS_MAX)
    const [room, member] = await Promise.all([rooms.byId(req.roomId), rooms.member(req.roomId, req.actorId)])
    if (!room) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    if (!mayView(room, req.actorId, member)) throw new ChatError('CHAT_NOT_MEMBER')
    const docs = await rooms.membersOf(room._id, after, limit + 1)
    const page = docs.slice(0, limit)
    const fitted = fitToBudget(page.map(toRoomMember), jsonBytes, this.opts.replyBudgetBytes, false)
    const more = docs.length > limit || fitted.truncated
    const last = page[fitted.items.length - 1]
    return { roomId: room._id, members: fitted.items, next: more && last ? memberCursor(last) : null }
  }

  /** Asked by a gateway when a user's first socket arrives there. */
  async memberships (req: MembershipsRequest): Promise<MembershipsReply> {
    // Not awaited: a socket's login never waits for a rebuild that may read history.
    this.warmUnread(req.actorId)
    return { roomIds: await this.loggingIn.submit(req.actorId) }
  }

  /**
   * The room lists of logins arriving together, read in one query per
   * batch: a reconnect storm costs a few queries, not one per socket. A
   * lone login waits for nothing (Batcher).
   */
  private readonly loggingIn = new Batcher<number, number[]>(async (userIds) => {
    const rooms = await this.ports.rooms.roomIdsOfMany([...new Set(userIds)])
    return userIds.map((id) => rooms.get(id) ?? [])
  }, MEMBERSHIPS_BATCH)

  /**
   * Room sends count unread for every member in one Redis round trip and
   * skip members whose cached counts are missing (no database work per
   * member). So the cache is built whenever a user joins a room or comes
   * online, and room messages then update it live; after Redis lost it, the
   * rebuild happens here, once per user, instead of on the send path.
   */
  warmUnread (userId: number): void {
    if (this.warming.has(userId)) return
    this.warming.add(userId)
    void this.ports.unread.all(userId).then(() => undefined, (err: unknown) => {
      this.ports.logger.warn({ err, userId }, 'could not build the unread cache')
    }).finally(() => this.warming.delete(userId))
  }

  /** Users whose unread cache is being warmed, so a reconnect storm starts one rebuild per user. */
  private readonly warming = new Set<number>()
}
