import { ChatError, Commands, type UserName } from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'

/** How long a looked-up profile is trusted; usernames can change. */
const TTL_MS = 30_000
const MAX_ENTRIES = 50_000

/**
 * Usernames ↔ user ids for the APIs that name users by username (`events`,
 * `flat`, `rooms`, `chats`). A short-lived cache in front of
 * `auth.users.names`, so rendering a push or resolving a recipient rarely
 * costs a round trip. Names only: an entry stays a few hundred bytes, whatever
 * avatars users set.
 */
export class UserDirectory {
  private readonly byId = new Map<number, { user: UserName, at: number }>()
  private readonly byName = new Map<string, { user: UserName, at: number }>()

  constructor (private readonly commands: CommandClient, private readonly now: () => number = Date.now) {}

  private remember (user: UserName): void {
    if (this.byId.size >= MAX_ENTRIES) {
      this.byId.clear()
      this.byName.clear()
    }
    const entry = { user, at: this.now() }
    this.byId.set(user.id, entry)
    this.byName.set(user.username.toLowerCase(), entry)
  }

  private fresh (entry: { user: UserName, at: number } | undefined): UserName | undefined {
    return entry && this.now() - entry.at < TTL_MS ? entry.user : undefined
  }

  /** Profiles by id; unknown ids are left out. */
  async byIds (ids: number[]): Promise<Map<number, UserName>> {
    const found = new Map<number, UserName>()
    const missing: number[] = []
    for (const id of new Set(ids)) {
      const user = this.fresh(this.byId.get(id))
      if (user) found.set(id, user)
      else missing.push(id)
    }
    for (let i = 0; i < missing.length; i += 1000) {
      const { users } = await this.commands.call(Commands.auth.getNames, { ids: missing.slice(i, i + 1000) })
      for (const u of users) {
        this.remember(u)
        found.set(u.id, u)
      }
    }
    return found
  }

  /** The username of one user ('' if unknown). */
  async usernameOf (id: number): Promise<string> {
    return (await this.byIds([id])).get(id)?.username ?? ''
  }

  /** The user with this username (any case), or CHAT_USER_NOT_FOUND. */
  async require (username: string): Promise<UserName> {
    const cached = this.fresh(this.byName.get(username.toLowerCase()))
    if (cached) return cached
    const { users } = await this.commands.call(Commands.auth.getNames, { usernames: [username] })
    const user = users[0]
    if (!user) throw new ChatError('CHAT_USER_NOT_FOUND')
    this.remember(user)
    return user
  }
}
