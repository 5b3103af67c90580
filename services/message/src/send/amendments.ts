import type { Redis } from 'ioredis'
import type { LastMessage } from '../conversations.js'

/**
 * How long an edit or deletion is remembered for the summaries still
 * waiting to be written: far beyond SUMMARY_EVERY_MS (at most 60 s) and a
 * flush, on any replica.
 */
const REMEMBER_SECONDS = 120

/** Redis key of a message's recent edit or deletion: its new content (JSON), or DELETED; each expires on its own. */
export const amendmentKey = (conversationId: number, messageId: number) => `amend:${conversationId}:${messageId}`
const DELETED = '-'

/**
 * Edits and deletions of messages whose conversation summary may still be
 * waiting to be written (send/summaries.ts writes a conversation's last
 * message at most every SUMMARY_EVERY_MS, on whichever replica stored it).
 * Changing records each edit or deletion here before it touches the
 * conversation document; a waiting last message is amended when it is
 * written: the new content, or not written at all when deleted (the deleter
 * points the conversation at the newest message left). Shared in Redis, so
 * a change made on one replica amends a summary waiting on another. If
 * Redis lost it, a conversation list may show a message's old content, or a
 * deleted message, until the conversation's next message.
 */
export class LastMessageAmendments {
  constructor (private readonly redis: Redis) {}

  async edited (conversationId: number, messageId: number, content: string): Promise<void> {
    await this.remember(conversationId, messageId, JSON.stringify(content))
  }

  async deleted (conversationId: number, messageId: number): Promise<void> {
    await this.remember(conversationId, messageId, DELETED)
  }

  /** The last message as it is now: its new content, or null if it was deleted. One Redis read. */
  async amend (conversationId: number, last: LastMessage): Promise<LastMessage | null> {
    const change = await this.redis.get(amendmentKey(conversationId, last.id))
    if (change === null) return last
    if (change === DELETED) return null
    return { ...last, content: JSON.parse(change) as string }
  }

  private async remember (conversationId: number, messageId: number, value: string): Promise<void> {
    await this.redis.set(amendmentKey(conversationId, messageId), value, 'EX', REMEMBER_SECONDS)
  }
}
