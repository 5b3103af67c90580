import type { Collection, Db, Filter } from 'mongodb'
import type { DomainEvent, Room, RoomMember } from '@chat/contracts'
import { isDuplicateKeyError, recordChange, type Outbox } from '@chat/runtime'
import type { ConversationDoc, ConversationStore, MemberDoc, RoomDoc } from './conversations.js'
import { conversationCreated, memberJoined, memberLeft } from './domain-events.js'
import { memberKey } from './keys.js'
import { freeSlots, seatKey, seatWindows, startSlot } from './seats.js'

/** A place in a room's joining order: where the previous page of members ended. */
export interface MemberPosition { joinedAt: Date, userId: number }

/** The `next` cursor of a member page: `<joinedAt ms>.<userId>`. */
export function memberCursor (m: MemberPosition): string {
  return `${m.joinedAt.getTime()}.${m.userId}`
}

/** Reads a member cursor back; undefined when it isn't one. */
export function parseMemberCursor (cursor: string): MemberPosition | undefined {
  const match = /^(\d{1,15})\.(\d{1,16})$/.exec(cursor)
  if (!match) return undefined
  const userId = Number(match[2])
  return Number.isSafeInteger(userId) ? { joinedAt: new Date(Number(match[1])), userId } : undefined
}

/**
 * Rooms: conversations of kind `room` (same collection and id space as
 * direct conversations, `directKey` = `room:<id>`), their members (member
 * documents with `kind: 'room'`) and, for rooms with a capacity, seats.
 *
 * Capacity. MongoDB-wire servers without atomic updates (FerretDB v1) can
 * lose concurrent $inc's, so a member counter cannot say "full". Instead a
 * room of capacity N has N possible seat documents, `_id` `<roomId>:<slot>`,
 * and a joiner must insert one before it inserts its member document: the
 * unique `_id` decides, so there are never more members than seats nor more
 * seats than N, whichever replica each joiner reached. The order (seat, then
 * member; on leave member, then seat) keeps "every member holds a seat" true
 * at every instant. A crash between the two steps can only leave a seat
 * without a member; a joiner that finds the room full takes such seats back
 * once they are older than `orphanGraceMs` (a join in progress holds its
 * seat for milliseconds), each deleted by its claim id so a seat claimed
 * anew meanwhile is never touched.
 */
export interface SeatDoc {
  /** `<roomId>:<slot>` (seats.seatKey). */
  _id: string
  roomId: number
  slot: number
  userId: number
  /** Unique per claim: a stale seat is deleted only by {_id, claim}. */
  claim: number
  at: Date
}

/** The wire form of a room. */
export function toRoom (doc: RoomDoc): Room {
  return {
    id: doc._id,
    name: doc.name,
    ownerId: doc.ownerId,
    capacity: doc.capacity,
    geolocation: doc.geolocation,
    visibility: doc.visibility,
    memberCount: Math.max(0, doc.memberCount),
    createdAt: doc.createdAt.toISOString(),
  }
}

export function toRoomMember (doc: Pick<MemberDoc, 'userId' | 'joinedAt'>): RoomMember {
  return { userId: doc.userId, joinedAt: doc.joinedAt.toISOString() }
}

export function isRoom (conv: ConversationDoc | null): conv is RoomDoc {
  return conv !== null && conv.kind === 'room'
}

export interface RoomStoreOptions {
  /** Age after which a seat whose holder is not a member is taken back. */
  orphanGraceMs: number
  /** Where rooms' creations and memberships are recorded as domain events (runtime outbox.ts), if anywhere. */
  outbox?: Outbox
  /** Slots whose taken state is read per query while looking for a free seat. */
  windowWidth?: number
}

export class RoomStore {
  readonly seats: Collection<SeatDoc>

  constructor (db: Db, private readonly conversations: ConversationStore, private readonly opts: RoomStoreOptions) {
    this.seats = db.collection<SeatDoc>('room_seats')
  }

  async init (): Promise<void> {
    await this.seats.createIndex({ roomId: 1, slot: 1 }, { name: 'room_slot' })
  }

  private get members (): Collection<MemberDoc> {
    return this.conversations.members
  }

  async byId (roomId: number): Promise<RoomDoc | null> {
    const conv = await this.conversations.byId(roomId)
    return isRoom(conv) ? conv : null
  }

  /** Inserts a new room document (domain event conversation.created). */
  async insert (room: RoomDoc): Promise<void> {
    await this.recorded([conversationCreated(room)], async () => {
      await this.conversations.conversations.insertOne(room)
    })
  }

  /** A write with its domain events (runtime recordChange), or just the write without an outbox. */
  private async recorded<R> (events: DomainEvent[], write: () => Promise<R>, happened?: (result: R) => boolean): Promise<R> {
    return this.opts.outbox ? await recordChange(this.opts.outbox, events, write, happened) : await write()
  }

  // ------------------------------------------------------------------ seats

  /**
   * Claims a free seat for `userId`; the slot, or null when every seat is
   * taken. Counts first so a full room costs one query; otherwise scans
   * windows of slots from just after the (hinted) member count, trying the
   * free ones in random order so concurrent joiners spread out. When nothing
   * is free, seats left by crashed joins are taken back and the scan runs
   * once more.
   */
  async claimSeat (room: RoomDoc, userId: number, claim: number): Promise<number | null> {
    const capacity = room.capacity
    if (capacity === null) throw new RangeError('an unlimited room has no seats')
    for (let pass = 0; pass < 2; pass++) {
      if (await this.seats.countDocuments({ roomId: room._id }) < capacity) {
        const slot = await this.scan(room._id, capacity, room.memberCount, userId, claim)
        if (slot !== null) return slot
      }
      if (pass === 0 && await this.reclaimOrphanSeats(room._id) === 0) return null
    }
    return null
  }

  private async scan (roomId: number, capacity: number, hint: number, userId: number, claim: number): Promise<number | null> {
    const width = this.opts.windowWidth ?? 64
    for (const window of seatWindows(capacity, startSlot(hint, capacity), width)) {
      const taken = await this.seats.find(
        { roomId, slot: { $gte: window.from, $lte: window.to } },
        { projection: { slot: 1 } }
      ).toArray()
      for (const slot of freeSlots(window, taken.map((s) => s.slot))) {
        try {
          await this.seats.insertOne({ _id: seatKey(roomId, slot), roomId, slot, userId, claim, at: new Date() })
          return slot
        } catch (err) {
          if (!isDuplicateKeyError(err)) throw err
          // Taken meanwhile by another joiner: try the next free one.
        }
      }
    }
    return null
  }

  /** Gives a seat back; only the claim that took it can (a later claim of the slot is untouched). */
  async releaseSeat (roomId: number, slot: number, claim: number): Promise<void> {
    await this.seats.deleteOne({ _id: seatKey(roomId, slot), claim })
  }

  /**
   * Deletes seats older than the grace period whose claim no member
   * document holds (a join or leave that crashed halfway); returns how many.
   * Only runs its scan when there are more seats than members.
   */
  async reclaimOrphanSeats (roomId: number, now = new Date()): Promise<number> {
    const [seats, members] = await Promise.all([
      this.seats.countDocuments({ roomId }),
      this.members.countDocuments({ conversationId: roomId }),
    ])
    if (seats <= members) return 0
    const cutoff = new Date(now.getTime() - this.opts.orphanGraceMs)
    const old = await this.seats.find({ roomId, at: { $lt: cutoff } }).toArray()
    if (old.length === 0) return 0
    const holders = await this.members.find(
      { _id: { $in: old.map((s) => memberKey(roomId, s.userId)) } },
      { projection: { userId: 1, seatClaim: 1 } }
    ).toArray()
    const held = new Set(holders.map((m) => m.seatClaim))
    let freed = 0
    for (const seat of old) {
      if (held.has(seat.claim)) continue
      freed += (await this.seats.deleteOne({ _id: seat._id, claim: seat.claim })).deletedCount
    }
    return freed
  }

  // ---------------------------------------------------------------- members

  member (roomId: number, userId: number): Promise<MemberDoc | null> {
    return this.conversations.member(roomId, userId)
  }

  /**
   * Inserts a membership (domain event member.joined); false when the user
   * already is a member (the unique `_id` decides).
   */
  async insertMember (doc: MemberDoc): Promise<boolean> {
    return await this.recorded([memberJoined(doc)], async () => {
      try {
        await this.members.insertOne(doc)
        return true
      } catch (err) {
        if (isDuplicateKeyError(err)) return false
        throw err
      }
    }, (inserted) => inserted)
  }

  /** Deletes a membership as read (domain event member.left); true for the one caller that deleted it. */
  async deleteMember (member: Pick<MemberDoc, 'conversationId' | 'userId' | 'joinedAt'>): Promise<boolean> {
    return await this.recorded([memberLeft(member, new Date())], async () => {
      return (await this.members.deleteOne({ _id: memberKey(member.conversationId, member.userId), joinedAt: member.joinedAt })).deletedCount === 1
    }, (deleted) => deleted)
  }

  /** Members in joining order. */
  /** Members in joining order (ties by user id), after a position of that order, at most `limit`. */
  membersOf (roomId: number, after?: MemberPosition, limit = 0): Promise<Array<Pick<MemberDoc, 'userId' | 'joinedAt'>>> {
    const filter: Filter<MemberDoc> = { conversationId: roomId }
    if (after) filter.$or = [{ joinedAt: { $gt: after.joinedAt } }, { joinedAt: after.joinedAt, userId: { $gt: after.userId } }]
    return this.members.find(filter, { projection: { userId: 1, joinedAt: 1 } })
      .sort({ joinedAt: 1, userId: 1 }).limit(limit).toArray()
  }

  /** Every room the user belongs to, newest first. */
  async roomIdsOf (userId: number): Promise<number[]> {
    return (await this.roomIdsOfMany([userId])).get(userId) ?? []
  }

  /** The rooms of several users at once (newest first each): one query, for logins arriving together. */
  async roomIdsOfMany (userIds: readonly number[]): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>()
    if (userIds.length === 0) return out
    const filter = userIds.length === 1 ? { userId: userIds[0] as number, kind: 'room' as const } : { userId: { $in: [...userIds] }, kind: 'room' as const }
    const docs = await this.members.find(filter, { projection: { userId: 1, conversationId: 1 } }).sort({ conversationId: -1 }).toArray()
    for (const d of docs) {
      const list = out.get(d.userId)
      if (list) list.push(d.conversationId)
      else out.set(d.userId, [d.conversationId])
    }
    return out
  }

  /**
   * refreshMemberCount after a join or leave, coalesced per room: while a
   * count runs, every change that asks shares the one count that starts
   * after it (so it sees their change). Fifty joins at once then cost two
   * counts, not fifty, and a room's joins do not slow down as it grows.
   */
  recountMembers (roomId: number): Promise<number> {
    const waiting = this.recountWaiting.get(roomId)
    if (waiting) return waiting
    const running = this.recountRunning.get(roomId)
    if (!running) return this.startRecount(roomId)
    const next = running.then(noop, noop).then(() => {
      this.recountWaiting.delete(roomId)
      return this.startRecount(roomId)
    })
    this.recountWaiting.set(roomId, next)
    return next
  }

  private startRecount (roomId: number): Promise<number> {
    const count: Promise<number> = this.refreshMemberCount(roomId).finally(() => {
      if (this.recountRunning.get(roomId) === count) this.recountRunning.delete(roomId)
    })
    this.recountRunning.set(roomId, count)
    return count
  }

  private readonly recountRunning = new Map<number, Promise<number>>()
  private readonly recountWaiting = new Map<number, Promise<number>>()

  /**
   * Recounts the members and stores the count, unless a count started later
   * was stored already. The count is for display (room lists): on servers
   * without atomic updates two racing writes may still leave it one change
   * behind until the next join or leave; capacity never depends on it.
   */
  async refreshMemberCount (roomId: number): Promise<number> {
    const startedAt = Date.now()
    const n = await this.members.countDocuments({ conversationId: roomId })
    await this.conversations.conversations.updateOne(
      { _id: roomId, $or: [{ memberCountAt: { $exists: false } }, { memberCountAt: { $lte: startedAt } }] },
      { $set: { memberCount: n, memberCountAt: startedAt } }
    )
    return n
  }

  // ------------------------------------------------------------------ lists

  /** Up to `fetch` public rooms with ids below `beforeId`, newest first. */
  publicRooms (beforeId: number | undefined, fetch: number): Promise<RoomDoc[]> {
    const filter: Record<string, unknown> = { visibility: 'public', kind: 'room' }
    if (beforeId !== undefined) filter._id = { $lt: beforeId }
    return this.conversations.conversations.find(filter).sort({ _id: -1 }).limit(fetch).toArray() as Promise<RoomDoc[]>
  }

  /** Up to `fetch` of the user's rooms with ids below `beforeId`, newest first. */
  async roomsOf (userId: number, beforeId: number | undefined, fetch: number): Promise<RoomDoc[]> {
    const filter: Record<string, unknown> = { userId, kind: 'room' }
    if (beforeId !== undefined) filter.conversationId = { $lt: beforeId }
    const docs = await this.members.find(filter, { projection: { conversationId: 1 } })
      .sort({ conversationId: -1 }).limit(fetch).toArray()
    const rooms = await this.conversations.byIds(docs.map((d) => d.conversationId))
    // A membership outliving its room (a delete racing a join) is skipped.
    return docs.map((d) => rooms.get(d.conversationId)).filter((r): r is RoomDoc => r !== undefined && isRoom(r))
  }

  // ----------------------------------------------------------------- delete

  /** Deletes a room's members and seats (after its document). */
  async deleteRoomParts (roomId: number): Promise<void> {
    await Promise.all([this.conversations.deleteMembers(roomId), this.seats.deleteMany({ roomId })])
  }
}

function noop (): void {}
