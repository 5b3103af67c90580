import { randomBytes } from 'node:crypto'
import { ChatError } from '@chat/contracts'
import type { Redis } from '@chat/runtime'

/** What a ticket stands for: a session (by its token) in one room. */
export interface TicketGrant {
  userId: number
  roomId: number
  token: string
}

/** Tickets are never accepted for longer than this, whatever the configuration says. */
export const TICKET_MAX_TTL_MS = 5 * 60_000

const ticketKey = (ticket: string) => `room-ticket:${ticket}`

/**
 * Single-use, short-lived room tickets (the `rooms` API's `GET /Room/:id`).
 * A ticket is 160 random bits kept in Redis, so any gateway replica can
 * redeem it; GETDEL makes redeeming atomic, so two replicas racing for the
 * same ticket can't both win.
 */
export class RoomTickets {
  constructor (private readonly redis: Redis, private readonly ttlMs: number) {
    if (ttlMs <= 0 || ttlMs > TICKET_MAX_TTL_MS) throw new RangeError(`ticket lifetime must be in (0, ${TICKET_MAX_TTL_MS}] ms`)
  }

  async issue (grant: TicketGrant): Promise<{ ticket: string, expiresAt: Date }> {
    const ticket = randomBytes(20).toString('hex')
    await this.redis.set(ticketKey(ticket), JSON.stringify(grant), 'PX', this.ttlMs)
    return { ticket, expiresAt: new Date(Date.now() + this.ttlMs) }
  }

  /** The grant of a ticket, once; CHAT_TOKEN_INVALID if unknown, used or expired. */
  async redeem (ticket: string): Promise<TicketGrant> {
    // Anything but our own format is refused without a Redis round trip.
    if (!/^[0-9a-f]{40}$/.test(ticket)) throw new ChatError('CHAT_TOKEN_INVALID', 'Unknown room token')
    const raw = await this.redis.getdel(ticketKey(ticket))
    if (raw === null) throw new ChatError('CHAT_TOKEN_INVALID', 'The room token is unknown, used or expired')
    return JSON.parse(raw) as TicketGrant
  }
}
