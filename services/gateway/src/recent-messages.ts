import type { LiveEvent } from '@chat/contracts'

/** Message ids one user's entry remembers at most; past it, the oldest are forgotten. */
const REMEMBERED_MAX = 256

/**
 * The messages lately handed to one user's sockets on this gateway, so a
 * message announced again is not shown twice. The message service announces
 * a message again when a retried send finds it stored: the replica that
 * stored it may have died before announcing it, and then the retry's
 * announcement is the only one. A repeat that finds the id here was
 * delivered already and is dropped. Bounded: the newest REMEMBERED_MAX ids
 * (a retry comes within seconds of its first attempt).
 */
export class RecentMessages {
  private readonly ids = new Set<number>()

  /** Whether the event may go to the user's sockets: anything but a message already handed to them. */
  admit (event: LiveEvent): boolean {
    if (event.kind !== 'message.new') return true
    const id = event.message.id
    if (this.ids.has(id)) return false
    this.ids.add(id)
    if (this.ids.size > REMEMBERED_MAX) {
      // Sets keep insertion order: the first is the oldest.
      const [oldest] = this.ids
      this.ids.delete(oldest as number)
    }
    return true
  }
}
