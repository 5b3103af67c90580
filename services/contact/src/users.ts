import { ChatError, Commands, type PublicUser } from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'
import { chunks } from './chunks.js'
import type { TargetRef } from './targets.js'

/** auth.users.get takes at most this many ids per call (its contract's maxItems). */
export const GET_USERS_MAX = 1000

/**
 * Profiles of many users from the auth service: one call per 1000 ids (one
 * call in practice), sent in parallel. Unknown ids are simply absent.
 */
export async function fetchUsers (client: CommandClient, ids: readonly number[]): Promise<Map<number, PublicUser>> {
  const users = new Map<number, PublicUser>()
  let wanted = [...new Set(ids)]
  // Auth leaves out users that don't fit in one reply (large avatars) and
  // names them: ask again for those until none is left.
  while (wanted.length > 0) {
    const replies = await Promise.all(chunks(wanted, GET_USERS_MAX).map((batch) => client.call(Commands.auth.getUsers, { ids: batch })))
    wanted = []
    for (const reply of replies) {
      for (const user of reply.users) users.set(user.id, user)
      // Progress is certain: every reply holds at least one user.
      if (reply.users.length > 0) wanted.push(...(reply.omittedIds ?? []))
    }
  }
  return users
}

/** Looks the target up by id or username; CHAT_USER_NOT_FOUND when there is no such user. */
export async function resolveTarget (client: CommandClient, ref: TargetRef): Promise<PublicUser> {
  const reply = 'id' in ref
    ? await client.call(Commands.auth.getUsers, { ids: [ref.id] })
    : await client.call(Commands.auth.getUsers, { usernames: [ref.username] })
  const user = reply.users[0]
  if (!user) throw new ChatError('CHAT_USER_NOT_FOUND')
  return user
}
