import {
  ChatError,
  type CreateRoomRequest, type JoinRoomReply, type ListRoomsReply, type ListRoomsRequest,
  type MembershipsReply, type MembershipsRequest, type RoomMemberEvent,
  type RoomMembersReply, type RoomMembersRequest, type RoomReply, type RoomRef, type VisitRequest, type EnterReply, type ExitRoomReply,
} from '@chat/contracts'
import type { ChatPorts } from './chat/context.js'
import type { MemberDoc, RoomDoc } from './conversations.js'
import { memberKey, roomKey } from './keys.js'
import { isRoom, toRoom, toRoomMember } from './rooms.js'
import { seatKey } from './seats.js'
import type { RoomVisits } from './visits.js'
import { RoomLookups } from './room-lookups.js'
import { RoomMembers } from './room-members.js'

export { ROOM_LIST_DEFAULT } from './room-lookups.js'

/** The ports the room commands use: no sending, reading or file ports. */
export type RoomPorts = Pick<ChatPorts,
  'rooms' | 'conversations' | 'messages' | 'unread' | 'state' | 'roster' | 'newId' | 'users' | 'events' | 'logger'>

export interface RoomOptions {
  /** Largest reply payload in bytes (see ChatOptions.replyBudgetBytes). */
  replyBudgetBytes: number
}

/**
 * The room commands. Membership is the member document (`kind: 'room'`);
 * a room with a capacity also needs a seat, claimed before the membership
 * (see RoomStore). Joins and leaves publish `member.joined`/`member.left`
 * on the room's subject and `membership.changed` on the user's own, so the
 * gateways holding that user start or stop listening to the room.
 */
export class RoomService {
  private readonly memberLists: RoomMembers
  private readonly lookups: RoomLookups

  constructor (private readonly ports: RoomPorts, private readonly visits: RoomVisits, opts: RoomOptions) {
    this.memberLists = new RoomMembers(ports, opts)
    this.lookups = new RoomLookups(ports)
  }

  // ----------------------------------------------------------------- create

  async create (req: CreateRoomRequest): Promise<RoomReply> {
    const { rooms, newId } = this.ports
    const now = new Date()
    const id = newId()
    const room: RoomDoc = {
      _id: id,
      kind: 'room',
      directKey: roomKey(id),
      memberIds: [],
      seq: 0,
      lastActivityAt: now,
      createdAt: now,
      name: req.name,
      ownerId: req.actorId,
      capacity: req.capacity ?? null,
      geolocation: req.geolocation ?? null,
      visibility: req.visibility ?? 'public',
      memberCount: 1,
      memberCountAt: now.getTime(),
    }
    // The room first: a crash before the owner's membership leaves an empty
    // room its owner can still join (private or not).
    await rooms.insert(room)
    let seat: { slot: number, claim: number } | undefined
    if (room.capacity !== null) {
      seat = { slot: 1, claim: newId() }
      await rooms.seats.insertOne({ _id: seatKey(id, 1), roomId: id, slot: 1, userId: req.actorId, claim: seat.claim, at: now })
    }
    await rooms.insertMember(newMemberDoc(room, req.actorId, now, 0, seat))
    await this.ports.roster.changed(id)
    await this.warmUnread(req.actorId)
    this.ports.events.toUser({ kind: 'membership.changed', userId: req.actorId, roomId: id, member: true })
    return { room: toRoom(room) }
  }

  // -------------------------------------------------------------- get, list

  /** room.get (room-lookups.ts). */
  get (req: RoomRef): Promise<RoomReply> {
    return this.lookups.get(req)
  }

  /** room.list (room-lookups.ts). */
  list (req: ListRoomsRequest): Promise<ListRoomsReply> {
    return this.lookups.list(req)
  }

  // ------------------------------------------------------------------- join

  async join (req: RoomRef): Promise<JoinRoomReply> {
    const { rooms } = this.ports
    const [room, existing] = await Promise.all([rooms.byId(req.roomId), rooms.member(req.roomId, req.actorId)])
    return this.admit(room, existing, req.actorId)
  }

  /** Joins a room already read, given the actor's membership as read. */
  private async admit (room: RoomDoc | null, existing: MemberDoc | null, actorId: number): Promise<JoinRoomReply> {
    const { rooms, conversations, state, newId } = this.ports
    if (!room) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    const roomId = room._id
    if (existing) {
      // A retry of a join whose roster delete failed deletes it again.
      await this.ports.roster.changed(roomId)
      return { room: toRoom(room), member: toRoomMember(existing), joined: false }
    }
    // No invitations yet: a private room is joined only by its owner (again).
    if (room.visibility === 'private' && room.ownerId !== actorId) throw new ChatError('CHAT_FORBIDDEN', 'The room is private')

    const now = new Date()
    let seat: { slot: number, claim: number } | undefined
    if (room.capacity !== null) {
      const claim = newId()
      const slot = await rooms.claimSeat(room, actorId, claim)
      if (slot === null) {
        // Full, unless the seat went to a concurrent join of this same user.
        const member = await rooms.member(roomId, actorId)
        if (member) return { room: toRoom(room), member: toRoomMember(member), joined: false }
        throw new ChatError('CHAT_ROOM_FULL')
      }
      seat = { slot, claim }
    }
    const release = async (): Promise<void> => {
      if (seat) await rooms.releaseSeat(roomId, seat.slot, seat.claim)
    }

    let doc: MemberDoc
    try {
      // Joining reads nothing: what was said before counts as read (it stays
      // in history). "Before" is the room's counter in Redis, not a scan of
      // its messages: a join must not cost more in a room with a long history.
      const latest = Math.max(room.seq, await state.lastSeq(roomId))
      doc = newMemberDoc(room, actorId, now, latest, seat)
      if (!await rooms.insertMember(doc)) {
        // A concurrent join of the same user won; this one gives its seat back.
        await release()
        const winner = await rooms.member(roomId, actorId)
        await this.ports.roster.changed(roomId)
        if (!winner) throw new ChatError('CHAT_UNAVAILABLE', 'the membership changed meanwhile; try again')
        return { room: toRoom(room), member: toRoomMember(winner), joined: false }
      }
    } catch (err) {
      await release().catch(() => undefined)
      throw err
    }
    // The room deleted meanwhile: room.delete removes the room document
    // before the members, so either it is gone now and this join undoes
    // itself, or the deleter's sweep comes after this membership.
    if (!await conversations.exists(roomId)) {
      await rooms.deleteMember(doc)
      await release()
      await this.ports.roster.changed(roomId)
      throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    }
    // Members are in MongoDB first, then the cached roster is dropped (room-roster.ts).
    await this.ports.roster.changed(roomId)

    const [memberCount, profile] = await Promise.all([
      rooms.recountMembers(roomId).catch((err: unknown) => {
        this.ports.logger.warn({ err, roomId }, 'member count refresh failed')
        return room.memberCount + 1
      }),
      this.profile(actorId),
    ])
    await this.warmUnread(actorId)
    this.publishMember('member.joined', roomId, actorId, profile, now)
    this.ports.events.toUser({ kind: 'membership.changed', userId: actorId, roomId, member: true })
    return { room: toRoom({ ...room, memberCount }), member: toRoomMember(doc), joined: true }
  }

  // ------------------------------------------------------------------ leave

  async leave (req: RoomRef): Promise<Record<string, never>> {
    const { rooms, unread } = this.ports
    const { actorId, roomId } = req
    const [room, member] = await Promise.all([rooms.byId(roomId), rooms.member(roomId, actorId)])
    if (!room) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    // The delete decides between concurrent leaves; the seat goes after the
    // membership, so members never outnumber seats.
    const left = member !== null && await rooms.deleteMember(member)
    // Also when nothing changed: a retry of a leave whose roster delete failed deletes it again.
    await this.ports.roster.changed(roomId)
    if (!left || member === null) throw new ChatError('CHAT_NOT_MEMBER')
    if (member.seat !== undefined && member.seatClaim !== undefined) {
      await rooms.releaseSeat(roomId, member.seat, member.seatClaim).catch((err: unknown) => {
        // Left as an orphan seat: the next joiner to find the room full takes it back.
        this.ports.logger.warn({ err, roomId }, 'seat release failed')
      })
    }
    const now = new Date()
    const [, profile, old] = await Promise.all([
      rooms.recountMembers(roomId).catch((err: unknown) => {
        this.ports.logger.warn({ err, roomId }, 'member count refresh failed')
      }),
      this.profile(actorId),
      unread.dropMany([actorId], roomId).catch(async (err: unknown) => {
        this.ports.logger.warn({ err, roomId }, 'unread drop failed; dropping the cache')
        await unread.forget(actorId).catch(() => undefined)
        return new Map<number, number | undefined>()
      }),
    ])
    this.publishMember('member.left', roomId, actorId, profile, now)
    this.ports.events.toUser({ kind: 'membership.changed', userId: actorId, roomId, member: false })
    if ((old.get(actorId) ?? 0) > 0) this.ports.events.toUser({ kind: 'unread.changed', userId: actorId, conversationId: roomId, count: 0 })
    return {}
  }

  // ------------------------------------------------------------ enter, exit

  /**
   * A socket enters a conversation (the `rooms` API). A room is joined if
   * the user isn't a member yet; the visit is recorded first, so an exit
   * racing this enter can't make the user leave under it. A direct
   * conversation is only checked: its members are fixed.
   */
  async enter (req: VisitRequest): Promise<EnterReply> {
    const { actorId, roomId, visitId } = req
    const conv = await this.ports.conversations.byId(roomId)
    if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    if (conv.kind === 'direct') {
      if (!await this.ports.conversations.marksOf(conv, actorId)) throw new ChatError('CHAT_NOT_MEMBER')
      return { conversationId: roomId, kind: 'direct', joined: false }
    }
    await this.visits.begin(roomId, actorId, visitId)
    let reply: JoinRoomReply
    try {
      // The membership is read after the visit is recorded (see above); the room was read already.
      reply = await this.admit(isRoom(conv) ? conv : null, await this.ports.rooms.member(roomId, actorId), actorId)
    } catch (err) {
      await this.visits.end(roomId, actorId, visitId).catch(() => false)
      throw err
    }
    if (reply.joined) await this.visits.markJoined(roomId, actorId)
    return { conversationId: roomId, kind: 'room', joined: reply.joined }
  }

  /**
   * A socket left the room. When it was the user's last visit and a visit
   * made them a member, they leave again; members of their own accord
   * (joined through another API, or the owner) stay members.
   */
  async exit (req: VisitRequest): Promise<ExitRoomReply> {
    const { actorId, roomId, visitId } = req
    if (!await this.visits.end(roomId, actorId, visitId)) return { left: false }
    try {
      await this.leave({ actorId, roomId })
      return { left: true }
    } catch (err) {
      // Already left through another API, or the room is gone.
      if (err instanceof ChatError && (err.code === 'CHAT_NOT_MEMBER' || err.code === 'CHAT_CONVERSATION_NOT_FOUND')) return { left: false }
      throw err
    }
  }

  // ----------------------------------------------------------------- delete

  /**
   * Owner only. The room document goes first (joins and sends racing it undo
   * themselves, see join and ChatService.send), then its members are read
   * (so everyone who joined before is told) and swept with the seats and
   * the messages.
   */
  async delete (req: RoomRef): Promise<Record<string, never>> {
    const { rooms, conversations, messages, unread } = this.ports
    const room = await rooms.byId(req.roomId)
    if (!room) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    if (room.ownerId !== req.actorId) throw new ChatError('CHAT_FORBIDDEN', 'Only the owner may delete the room')
    // Marked in Redis first, so a message stored after the sweep below is withdrawn.
    await this.ports.state.tombstone(room._id)
    if (!await conversations.deleteConversation(room, req.actorId)) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    const memberIds = await conversations.memberIdsOf(room)
    await Promise.all([rooms.deleteRoomParts(room._id), messages.deleteConversation(room._id)])
    await this.ports.roster.changed(room._id)
    let old = new Map<number, number | undefined>()
    try {
      old = await unread.dropMany(memberIds, room._id)
    } catch (err) {
      this.ports.logger.warn({ err, roomId: room._id }, 'unread drop failed; dropping the caches')
      await unread.forgetMany(memberIds).catch(() => undefined)
    }
    this.ports.events.toRoom({ kind: 'room.deleted', roomId: room._id })
    for (const userId of memberIds) {
      this.ports.events.toUser({ kind: 'membership.changed', userId, roomId: room._id, member: false })
      if ((old.get(userId) ?? 0) > 0) this.ports.events.toUser({ kind: 'unread.changed', userId, conversationId: room._id, count: 0 })
    }
    return {}
  }

  // ---------------------------------------------------------------- members

  /** room.members (room-members.ts). */
  members (req: RoomMembersRequest): Promise<RoomMembersReply> {
    return this.memberLists.members(req)
  }

  /** room.memberships (room-members.ts). */
  memberships (req: MembershipsRequest): Promise<MembershipsReply> {
    return this.memberLists.memberships(req)
  }

  private warmUnread (userId: number): void {
    this.memberLists.warmUnread(userId)
  }

  // ---------------------------------------------------------------- helpers

  /** Username and nickname for member events; a failed lookup must not fail a join already stored. */
  private async profile (userId: number): Promise<{ username: string, nickname: string }> {
    try {
      const [user] = await this.ports.users([userId])
      if (user) return { username: user.username, nickname: user.nickname }
    } catch (err) {
      this.ports.logger.warn({ err, userId }, 'user lookup for a member event failed')
    }
    return { username: '', nickname: '' }
  }

  private publishMember (kind: RoomMemberEvent['kind'], roomId: number, userId: number, profile: { username: string, nickname: string }, at: Date): void {
    this.ports.events.toRoom({ kind, roomId, userId, username: profile.username, nickname: profile.nickname, at: at.toISOString() })
  }
}

/** A room member's document: a seat's slot and claim when the room has a capacity. */
function newMemberDoc (room: RoomDoc, userId: number, now: Date, lastReadSeq: number, seat?: { slot: number, claim: number }): MemberDoc {
  const doc: MemberDoc = {
    _id: memberKey(room._id, userId),
    conversationId: room._id,
    userId,
    kind: 'room',
    lastReadSeq,
    clearedSeq: 0,
    joinedAt: now,
    lastActivityAt: now,
  }
  if (seat) {
    doc.seat = seat.slot
    doc.seatClaim = seat.claim
  }
  return doc
}
