import { Commands, SESSION_CHECK_MAX, type LiveEvent, type SessionRevokedEvent, type Subjects, type UserEvent } from '@chat/contracts'
import type { CommandClient, Logger, NatsConnection, Subscription } from '@chat/runtime'
import { RecentMessages } from './recent-messages.js'
import { RoomRouter } from './room-router.js'
import { unreadCarriedBy } from './carried-unread.js'

/** What the hub needs of an authenticated socket, whatever API it speaks. */
export interface HubMember {
  readonly id: string
  readonly userId: number
  readonly sessionId: string
  /** Renders and sends one event addressed to this member's user or to one of their rooms. */
  deliver(event: LiveEvent): void
  /** The member's session was revoked: tell the client and close. */
  revoke(): void
}

const HEARTBEAT_BATCH = 5000

/**
 * The gateway's only state: which of its sockets belong to which user. It
 * subscribes to a user's event subject while it holds at least one of their
 * sockets (so NATS only routes a user's events to replicas that hold them),
 * reports presence to the contact service, follows the rooms its users
 * belong to (RoomRouter), and closes sockets whose session is revoked
 * anywhere in the cluster.
 */
export class ConnectionHub {
  private readonly users = new Map<number, { members: Set<HubMember>, sub: Subscription, rooms: Promise<void>, recent: RecentMessages }>()
  /** Presence reports per user run in order, so an offline never overtakes its online. */
  private readonly presence = new Map<number, Promise<void>>()
  private readonly revocations: Subscription
  private readonly heartbeat: NodeJS.Timeout
  private readonly recheck: NodeJS.Timeout | undefined
  private rechecking = false
  private readonly decoder = new TextDecoder()
  private readonly rooms: RoomRouter
  /** Counts membership events per user, to detect a room list that went stale while loading. */
  private readonly membershipEpoch = new Map<number, number>()

  constructor (private readonly opts: {
    nc: NatsConnection
    commands: CommandClient
    subjects: Subjects
    gatewayId: string
    heartbeatMs: number
    /** How often the sessions of held sockets are re-checked with auth (SESSION_RECHECK_MS); absent: never. */
    sessionRecheckMs?: number
    logger: Logger
  }) {
    this.revocations = opts.nc.subscribe(opts.subjects.sessionRevoked, {
      callback: (err, msg) => {
        if (err) return
        try {
          const event = msg.json<SessionRevokedEvent>()
          for (const member of this.users.get(event.userId)?.members ?? []) {
            if (member.sessionId === event.sessionId) member.revoke()
          }
        } catch (e) {
          opts.logger.warn({ err: e }, 'malformed revocation event')
        }
      },
    })
    this.rooms = new RoomRouter({
      nc: opts.nc,
      subjects: opts.subjects,
      logger: opts.logger,
      deliver: (userId, event) => {
        const entry = this.users.get(userId)
        if (entry && !entry.recent.admit(event)) return
        const unread = unreadCarriedBy(event, userId)
        for (const m of entry?.members ?? []) {
          m.deliver(event)
          if (unread) m.deliver(unread)
        }
      },
    })
    this.heartbeat = setInterval(() => this.sendHeartbeat(), opts.heartbeatMs)
    this.heartbeat.unref()
    if (opts.sessionRecheckMs !== undefined) {
      this.recheck = setInterval(() => { void this.recheckSessions() }, opts.sessionRecheckMs)
      this.recheck.unref()
    }
  }

  /**
   * Asks auth which of the held sockets' sessions were revoked and closes
   * those sockets as the broadcast would: a replica that missed the
   * broadcast (a NATS hiccup, a reconnect) still logs them out within one
   * interval. One command per SESSION_CHECK_MAX sessions; a round that is
   * still running skips the next.
   */
  async recheckSessions (): Promise<void> {
    if (this.rechecking) return
    this.rechecking = true
    try {
      const held = new Map<string, HubMember[]>()
      for (const entry of this.users.values()) {
        for (const m of entry.members) held.set(m.sessionId, [...(held.get(m.sessionId) ?? []), m])
      }
      const ids = [...held.keys()]
      for (let i = 0; i < ids.length; i += SESSION_CHECK_MAX) {
        const { revoked } = await this.opts.commands.call(Commands.auth.checkSessions, { sessionIds: ids.slice(i, i + SESSION_CHECK_MAX) })
        for (const sessionId of revoked) for (const m of held.get(sessionId) ?? []) m.revoke()
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'session re-check failed; retrying next interval')
    } finally {
      this.rechecking = false
    }
  }

  /** Number of sockets held, for metrics. */
  get size (): number {
    let n = 0
    for (const u of this.users.values()) n += u.members.size
    return n
  }

  /**
   * Adds a socket. Resolves once the user's presence is recorded and their
   * rooms are followed, so a client told it is logged in is already seen
   * online everywhere (a quick disconnect elsewhere can't overtake this
   * report) and already receives its rooms' messages.
   */
  attach (member: HubMember): Promise<void> {
    const entry = this.users.get(member.userId)
    if (entry) {
      entry.members.add(member)
      return Promise.all([this.presence.get(member.userId), entry.rooms]).then(() => undefined)
    }
    const sub = this.opts.nc.subscribe(this.opts.subjects.userEvents(member.userId), {
      callback: (err, msg) => {
        if (err) return
        let event: UserEvent
        try {
          event = JSON.parse(this.decoder.decode(msg.data)) as UserEvent
        } catch (e) {
          this.opts.logger.warn({ err: e, subject: msg.subject }, 'malformed user event')
          return
        }
        if (event.kind === 'membership.changed') this.onMembership(event.userId, event.roomId, event.member)
        const entry = this.users.get(member.userId)
        if (entry && !entry.recent.admit(event)) return
        const unread = unreadCarriedBy(event, member.userId)
        for (const m of entry?.members ?? []) {
          try {
            m.deliver(event)
            if (unread) m.deliver(unread)
          } catch (e) {
            this.opts.logger.error({ err: e, kind: event.kind }, 'event delivery failed')
          }
        }
      },
    })
    const rooms = this.loadRooms(member.userId)
    this.users.set(member.userId, { members: new Set([member]), sub, rooms, recent: new RecentMessages() })
    return Promise.all([this.report(member.userId, Commands.contact.presenceOnline), rooms]).then(() => undefined)
  }

  /** Subscribes to the rooms of a user who just got their first socket here. */
  private async loadRooms (userId: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const epoch = this.membershipEpoch.get(userId) ?? 0
      let roomIds: number[]
      try {
        ({ roomIds } = await this.opts.commands.call(Commands.message.roomMemberships, { actorId: userId }))
      } catch (err) {
        this.opts.logger.warn({ err, userId }, 'could not load the user\'s rooms; room events will be missed until they reconnect')
        return
      }
      if (!this.users.has(userId)) return
      // A join or leave while loading may be missing from the list: load again.
      if ((this.membershipEpoch.get(userId) ?? 0) !== epoch) continue
      this.rooms.reset(userId, roomIds)
      // A login is complete once its rooms' events reach this replica.
      await this.rooms.ready()
      return
    }
  }

  /**
   * Runs a user's join of a room with the room followed from before the
   * join is sent (RoomRouter.hold), so the user's sockets here get every
   * event of the room stored after their join, also those that come before
   * their membership event does.
   */
  async joinRoom<T> (userId: number, roomId: number, join: () => Promise<T>): Promise<T> {
    const release = this.rooms.hold(roomId, userId)
    try {
      await this.rooms.ready()
      const joined = await join()
      if (this.users.has(userId)) this.rooms.add(roomId, userId)
      return joined
    } finally {
      release()
    }
  }

  private onMembership (userId: number, roomId: number, member: boolean): void {
    this.membershipEpoch.set(userId, (this.membershipEpoch.get(userId) ?? 0) + 1)
    if (!this.users.has(userId)) return
    if (member) this.rooms.add(roomId, userId)
    else this.rooms.remove(roomId, userId)
  }

  detach (member: HubMember): void {
    const entry = this.users.get(member.userId)
    if (!entry?.members.delete(member)) return
    if (entry.members.size > 0) return
    this.users.delete(member.userId)
    this.membershipEpoch.delete(member.userId)
    this.rooms.removeUser(member.userId)
    entry.sub.unsubscribe()
    this.report(member.userId, Commands.contact.presenceOffline)
  }

  private report (userId: number, command: typeof Commands.contact.presenceOnline | typeof Commands.contact.presenceOffline): Promise<void> {
    const previous = this.presence.get(userId) ?? Promise.resolve()
    const next = previous
      .then(() => this.opts.commands.call(command, { userId, gatewayId: this.opts.gatewayId }))
      .then(() => undefined, (err: unknown) => {
        // The heartbeat repairs a lost report within one interval.
        this.opts.logger.warn({ err, userId, command }, 'presence report failed')
      })
      .finally(() => {
        if (this.presence.get(userId) === next) this.presence.delete(userId)
      })
    this.presence.set(userId, next)
    return next
  }

  private sendHeartbeat (): void {
    const ids = [...this.users.keys()]
    for (let i = 0; i < ids.length; i += HEARTBEAT_BATCH) {
      this.opts.commands.send(Commands.contact.presenceHeartbeat, {
        gatewayId: this.opts.gatewayId,
        userIds: ids.slice(i, i + HEARTBEAT_BATCH),
      })
    }
  }

  /** Forgets every socket at once (shutdown), reporting each user offline. */
  detachAll (): void {
    for (const entry of [...this.users.values()]) {
      for (const member of [...entry.members]) this.detach(member)
    }
  }

  /** Stops background work and waits for pending presence reports. */
  async stop (): Promise<void> {
    clearInterval(this.heartbeat)
    clearInterval(this.recheck)
    this.revocations.unsubscribe()
    this.rooms.close()
    await Promise.allSettled([...this.presence.values()])
  }
}
