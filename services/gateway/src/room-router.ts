import type { RoomEvent, Subjects } from '@chat/contracts'
import type { Logger, NatsConnection, Subscription } from '@chat/runtime'

/**
 * Room fan-out on one gateway. A room's events are published once, on the
 * room's subject; this replica subscribes to it while it holds at least one
 * member of the room, and hands each event to those members' sockets. So a
 * room message costs one NATS message per interested replica, whatever the
 * room's size, and nothing for replicas without members.
 */
/** Events a user about to join may receive once the join succeeds; more are dropped. */
const HELD_MAX = 1000

interface FollowedRoom {
  users: Set<number>
  /** Users whose join is under way, and the room's events since they asked (see hold). */
  joining: Map<number, { holds: number, events: RoomEvent[] }>
  sub: Subscription
}

export class RoomRouter {
  private readonly rooms = new Map<number, FollowedRoom>()
  private readonly roomsOfUser = new Map<number, Set<number>>()
  private readonly decoder = new TextDecoder()
  /** Settles once the server has every subscription made so far (a flush after the last one). */
  private subscribed: Promise<void> = Promise.resolve()

  constructor (private readonly opts: {
    nc: NatsConnection
    subjects: Subjects
    /** Hands a room event to one local user's sockets. */
    deliver: (userId: number, event: RoomEvent) => void
    logger: Logger
  }) {}

  /**
   * Resolves once the NATS server has the subscriptions made so far: a
   * join answered after this is followed by every later event of the room
   * (otherwise a member's event published at once could reach the server
   * before the subscription and be missed).
   */
  ready (): Promise<void> {
    return this.subscribed
  }

  /** Rooms currently subscribed, for metrics. */
  get size (): number {
    return this.rooms.size
  }

  add (roomId: number, userId: number): void {
    const room = this.follow(roomId)
    if (!room.users.has(userId)) {
      // Events that came while the user's join was under way, in order, before any later one.
      const held = room.joining.get(userId)
      if (held) for (const event of held.events.splice(0)) this.deliverTo(userId, event)
    }
    room.users.add(userId)
    let mine = this.roomsOfUser.get(userId)
    if (!mine) this.roomsOfUser.set(userId, (mine = new Set()))
    mine.add(roomId)
  }

  /**
   * Follows a room for a user whose join is about to be sent. A member's
   * replica otherwise only follows the room once the join is stored and
   * its membership event came back, and the room's events between the two
   * (the next member's join notice, a message) would miss the new member.
   * The room's events from now on are held for the user and delivered by
   * `add` (the join succeeded), or dropped by the returned release when it
   * never comes: someone whose join fails sees nothing of the room. Call
   * the release once the join is answered, whatever the outcome.
   */
  hold (roomId: number, userId: number): () => void {
    const room = this.follow(roomId)
    const held = room.joining.get(userId) ?? { holds: 0, events: [] }
    held.holds++
    room.joining.set(userId, held)
    let released = false
    return () => {
      if (released) return
      released = true
      if (--held.holds > 0) return
      room.joining.delete(userId)
      this.unfollowIfIdle(roomId, room)
    }
  }

  /** The room's entry, subscribing to its events first if no one here followed it. */
  private follow (roomId: number): FollowedRoom {
    let room = this.rooms.get(roomId)
    if (!room) {
      const sub = this.opts.nc.subscribe(this.opts.subjects.roomEvents(roomId), {
        callback: (err, msg) => {
          if (err) return
          let event: RoomEvent
          try {
            event = JSON.parse(this.decoder.decode(msg.data)) as RoomEvent
          } catch (e) {
            this.opts.logger.warn({ err: e, subject: msg.subject }, 'malformed room event')
            return
          }
          this.dispatch(roomId, event)
        },
      })
      room = { users: new Set(), joining: new Map(), sub }
      this.rooms.set(roomId, room)
      this.subscribed = this.opts.nc.flush().catch((err: unknown) => {
        this.opts.logger.warn({ err, roomId }, 'could not confirm a room subscription')
      })
    }
    return room
  }

  private unfollowIfIdle (roomId: number, room: FollowedRoom): void {
    if (room.users.size > 0 || room.joining.size > 0 || this.rooms.get(roomId) !== room) return
    room.sub.unsubscribe()
    this.rooms.delete(roomId)
  }

  remove (roomId: number, userId: number): void {
    const room = this.rooms.get(roomId)
    room?.users.delete(userId)
    this.roomsOfUser.get(userId)?.delete(roomId)
    if (room) this.unfollowIfIdle(roomId, room)
  }

  /** The user's last socket here closed. */
  removeUser (userId: number): void {
    for (const roomId of this.roomsOfUser.get(userId) ?? []) this.remove(roomId, userId)
    this.roomsOfUser.delete(userId)
  }

  /** Replaces what is known of a user's rooms with a fresh list. */
  reset (userId: number, roomIds: number[]): void {
    const wanted = new Set(roomIds)
    for (const roomId of [...this.roomsOfUser.get(userId) ?? []]) {
      if (!wanted.has(roomId)) this.remove(roomId, userId)
    }
    for (const roomId of wanted) this.add(roomId, userId)
  }

  private dispatch (roomId: number, event: RoomEvent): void {
    const room = this.rooms.get(roomId)
    if (!room) return
    for (const userId of [...room.users]) this.deliverTo(userId, event)
    for (const [userId, held] of room.joining) {
      if (!room.users.has(userId) && held.events.length < HELD_MAX) held.events.push(event)
    }
    if (event.kind === 'room.deleted') {
      for (const userId of [...room.users]) this.remove(roomId, userId)
    }
  }

  private deliverTo (userId: number, event: RoomEvent): void {
    try {
      this.opts.deliver(userId, event)
    } catch (e) {
      this.opts.logger.error({ err: e, kind: event.kind }, 'room event delivery failed')
    }
  }

  close (): void {
    for (const room of this.rooms.values()) room.sub.unsubscribe()
    this.rooms.clear()
    this.roomsOfUser.clear()
  }
}
