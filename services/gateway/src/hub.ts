import { Commands, type SessionRevokedEvent, type Subjects, type UserEvent } from '@chat/contracts'
import type { CommandClient, Logger, NatsConnection, Subscription } from '@chat/runtime'

/** What the hub needs of an authenticated socket, whatever API it speaks. */
export interface HubMember {
  readonly id: string
  readonly userId: number
  readonly sessionId: string
  /** Renders and sends one event addressed to this member's user. */
  deliver(event: UserEvent): void
  /** The member's session was revoked: tell the client and close. */
  revoke(): void
}

const HEARTBEAT_BATCH = 5000

/**
 * The gateway's only state: which of its sockets belong to which user. It
 * subscribes to a user's event subject while it holds at least one of their
 * sockets (so NATS only routes a user's events to replicas that hold them),
 * reports presence to the contact service, and closes sockets whose session
 * is revoked anywhere in the cluster.
 */
export class ConnectionHub {
  private readonly users = new Map<number, { members: Set<HubMember>, sub: Subscription }>()
  /** Presence reports per user run in order, so an offline never overtakes its online. */
  private readonly presence = new Map<number, Promise<void>>()
  private readonly revocations: Subscription
  private readonly heartbeat: NodeJS.Timeout
  private readonly decoder = new TextDecoder()

  constructor (private readonly opts: {
    nc: NatsConnection
    commands: CommandClient
    subjects: Subjects
    gatewayId: string
    heartbeatMs: number
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
    this.heartbeat = setInterval(() => this.sendHeartbeat(), opts.heartbeatMs)
    this.heartbeat.unref()
  }

  /** Number of sockets held, for metrics. */
  get size (): number {
    let n = 0
    for (const u of this.users.values()) n += u.members.size
    return n
  }

  attach (member: HubMember): void {
    const entry = this.users.get(member.userId)
    if (entry) {
      entry.members.add(member)
      return
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
        for (const m of this.users.get(member.userId)?.members ?? []) {
          try {
            m.deliver(event)
          } catch (e) {
            this.opts.logger.error({ err: e, kind: event.kind }, 'event delivery failed')
          }
        }
      },
    })
    this.users.set(member.userId, { members: new Set([member]), sub })
    this.report(member.userId, Commands.contact.presenceOnline)
  }

  detach (member: HubMember): void {
    const entry = this.users.get(member.userId)
    if (!entry?.members.delete(member)) return
    if (entry.members.size > 0) return
    this.users.delete(member.userId)
    entry.sub.unsubscribe()
    this.report(member.userId, Commands.contact.presenceOffline)
  }

  private report (userId: number, command: typeof Commands.contact.presenceOnline | typeof Commands.contact.presenceOffline): void {
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
    this.revocations.unsubscribe()
    await Promise.allSettled([...this.presence.values()])
  }
}
