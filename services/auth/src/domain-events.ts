/**
 * The auth service's domain events (contracts/domain-events.ts), built
 * from the changes auth stores, and what confirms them after a crash: the
 * outbox (runtime outbox.ts) asks this module what a change it recorded
 * but never saw finish left in MongoDB. Events carry names, never password
 * hashes, e-mail addresses or tokens.
 */
import { DOMAIN_EVENT_VERSION, type DomainEvent, type DomainEventOf, type SessionRevokedReason, type UserField } from '@chat/contracts'
import { findWhereIn } from '@chat/runtime'
import type { Collection } from 'mongodb'
import type { SessionDoc } from './sessions.js'
import type { UserDoc } from './store.js'

// Ids follow from the change: a user registers once, a session is revoked
// once (its `revokedAt` is set once), an update is the user's at that time.

export function userRegistered (user: UserDoc): DomainEventOf<'user.registered'> {
  return {
    id: `user.registered:${user._id}`,
    type: 'user.registered',
    version: DOMAIN_EVENT_VERSION,
    time: user.createdAt.toISOString(),
    data: { userId: user._id, username: user.username, nickname: user.nickname, createdAt: user.createdAt.toISOString() },
  }
}

/** The fields `set` changes in `current`; a password given is always a change. */
export function changedFields (current: UserDoc, set: Partial<UserDoc>): UserField[] {
  const changed: UserField[] = []
  if (set.username !== undefined && set.username !== current.username) changed.push('username')
  if (set.nickname !== undefined && set.nickname !== current.nickname) changed.push('nickname')
  if (set.avatar !== undefined && set.avatar !== current.avatar) changed.push('avatar')
  if (set.email !== undefined && set.email !== current.email) changed.push('email')
  if (set.passwordHash !== undefined) changed.push('password')
  return changed
}

/** An update of `changed` (not empty) to the values in `set`, made at `updatedAt`. */
export function userUpdated (userId: number, changed: UserField[], set: Partial<UserDoc>, updatedAt: Date): DomainEventOf<'user.updated'> {
  return {
    id: `user.updated:${userId}:${updatedAt.getTime()}`,
    type: 'user.updated',
    version: DOMAIN_EVENT_VERSION,
    time: updatedAt.toISOString(),
    data: {
      userId,
      changed,
      ...(changed.includes('username') ? { username: set.username } : {}),
      ...(changed.includes('nickname') ? { nickname: set.nickname } : {}),
      updatedAt: updatedAt.toISOString(),
    },
  }
}

export function sessionRevoked (userId: number, sessionId: string, reason: SessionRevokedReason, at: Date): DomainEventOf<'session.revoked'> {
  return {
    id: `session.revoked:${sessionId}`,
    type: 'session.revoked',
    version: DOMAIN_EVENT_VERSION,
    time: at.toISOString(),
    data: { userId, sessionId, reason },
  }
}

/**
 * What each recorded event's change left: a user that exists was
 * registered; an update happened if the user's `updatedAt` reached its
 * time (a later update may have followed); a session was revoked by this
 * change if its `revokedAt` is this change's time (set once: an earlier
 * revocation keeps its own). Null where the change did not happen.
 */
export async function confirmAuthEvents (
  users: Collection<UserDoc>, sessions: Collection<SessionDoc>, events: DomainEvent[]
): Promise<Array<DomainEvent | null>> {
  const userIds = events.flatMap((e) => e.type === 'user.registered' || e.type === 'user.updated' ? [e.data.userId] : [])
  const sessionIds = events.flatMap((e) => e.type === 'session.revoked' ? [e.data.sessionId] : [])
  const [userDocs, sessionDocs] = await Promise.all([
    findWhereIn(users, '_id', userIds, { projection: { _id: 1, updatedAt: 1 } }),
    findWhereIn(sessions, '_id', sessionIds),
  ])
  const user = new Map(userDocs.map((u) => [u._id, u]))
  const session = new Map(sessionDocs.map((s) => [s._id, s]))
  return events.map((event) => {
    switch (event.type) {
      case 'user.registered': return user.has(event.data.userId) ? event : null
      case 'user.updated': {
        const doc = user.get(event.data.userId)
        return doc !== undefined && doc.updatedAt.getTime() >= Date.parse(event.data.updatedAt) ? event : null
      }
      case 'session.revoked':
        return session.get(event.data.sessionId)?.revokedAt?.getTime() === Date.parse(event.time) ? event : null
    }
    return null
  })
}
