/**
 * The actor's conversations: the list of them, and opening a direct one
 * without sending anything.
 */
import {
  ChatError, CONVERSATION_LIST_MAX,
  type ConversationCreatedEvent, type ConversationSummary, type LastMessage as WireLastMessage,
  type ListConversationsReply, type ListConversationsRequest, type OpenConversationReply, type OpenConversationRequest,
} from '@chat/contracts'
import type { ConversationDoc, LastMessage, MemberDoc } from '../conversations.js'
import { decodeConversationCursor, encodeConversationCursor, firstVisibleMessage } from '../lists.js'
import { pageLimit } from '../paging.js'
import { directWith, type BackgroundWork, type ChatPorts } from './context.js'

/** message.conversations.list's page when the request gives no limit. */
export const CONVERSATION_LIST_DEFAULT = 20

/** The ports listing uses. */
export type ListingPorts = Pick<ChatPorts,
  | 'conversations' | 'messages' | 'unread' | 'unreadSource' | 'cacheFallback' | 'users' | 'userExists'
  | 'isBlocked' | 'newId' | 'state' | 'events' | 'logger'>

/** A stored last message as the wire shows it in a conversation list. */
function toWireLastMessage (last: LastMessage): WireLastMessage {
  return { id: last.id, senderId: last.senderId, kind: last.kind, content: last.content, createdAt: last.createdAt.toISOString() }
}

/** The conversation list and message.conversation.open. */
export class Listing {
  /** `background`: the list waits for this replica's sends to settle, so it shows the actor's own. */
  constructor (private readonly ports: ListingPorts, private readonly background: BackgroundWork) {}

  // ------------------------------------------------------ conversation list

  /**
   * The actor's conversations, most recently active first: one range of the
   * members index {userId, lastActivityAt, conversationId} after the cursor,
   * the page's conversations by id, the peers' names in one auth call and
   * the unread counts in one Redis read. Nothing scales with the number of
   * conversations the user has, only with the page.
   */
  async listConversations (req: ListConversationsRequest): Promise<ListConversationsReply> {
    const limit = pageLimit(req.limit, CONVERSATION_LIST_DEFAULT, CONVERSATION_LIST_MAX)
    const after = req.cursor === undefined ? undefined : decodeConversationCursor(req.cursor)
    await this.background.marksSettled()
    const rows = await this.ports.conversations.recentOf(req.actorId, after, limit + 1)
    const page = rows.slice(0, limit)
    const ids = page.map((r) => r.conversationId)
    const peerIds = [...new Set(page.map((r) => r.peerId).filter((p): p is number => p !== undefined))]
    const [convs, users, counts] = await Promise.all([
      this.ports.conversations.byIds(ids),
      peerIds.length > 0 ? this.ports.users(peerIds) : Promise.resolve([]),
      this.unreadOf(req.actorId, ids),
    ])
    const names = new Map(users.map((u) => [u.id, u.username]))
    const firsts = await this.firstMessagesOf(page, convs)
    const conversations: ConversationSummary[] = []
    for (const row of page) {
      const conv = convs.get(row.conversationId)
      // A member document outliving its conversation (a delete racing a send) is skipped.
      if (!conv) continue
      const last = conv.lastMessage && conv.lastMessage.seq > row.clearedSeq ? toWireLastMessage(conv.lastMessage) : null
      const summary: ConversationSummary = {
        conversationId: conv._id,
        kind: conv.kind,
        name: conv.kind === 'room' ? conv.name ?? '' : names.get(row.peerId as number) ?? '',
        lastMessage: last,
        firstMessageId: firsts.get(conv._id) ?? null,
        lastActivityAt: row.lastActivityAt.toISOString(),
        unread: counts.get(conv._id) ?? 0,
      }
      if (conv.kind === 'direct' && row.peerId !== undefined) summary.peerId = row.peerId
      conversations.push(summary)
    }
    const tail = page.at(-1)
    const next = rows.length > limit && tail ? encodeConversationCursor(tail) : null
    return { conversations, next }
  }

  /**
   * The first message each member of a page still sees. Stored on the
   * conversation (firstMessage, kept by send and delete), so a page costs
   * no query for members who never cleared past it, which is nearly all.
   * The rest (history cleared while newer messages exist, or conversations
   * from before the field) cost one index seek each, all at once (see
   * MessageStore.oldestAfterMany for why not one aggregation). Clearing
   * needs no bookkeeping: the clear mark is the member's own, and no stored
   * value can name "the first after my clear" before it exists.
   * Conversations found without the field get it filled in passing, so
   * those seeks happen once.
   */
  private async firstMessagesOf (page: readonly MemberDoc[], convs: Map<number, ConversationDoc>): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    const lookups: Array<{ conversationId: number, afterSeq: number }> = []
    for (const row of page) {
      const conv = convs.get(row.conversationId)
      if (!conv) continue
      const first = firstVisibleMessage(conv, row.clearedSeq)
      if (first === 'lookup') lookups.push({ conversationId: conv._id, afterSeq: row.clearedSeq })
      else if (first !== null) out.set(conv._id, first)
    }
    if (lookups.length === 0) return out
    const found = await this.ports.messages.oldestAfterMany(lookups)
    for (const { conversationId, afterSeq } of lookups) {
      const first = found.get(conversationId)
      if (!first) continue
      out.set(conversationId, first.id)
      if (afterSeq === 0 && !convs.get(conversationId)?.firstMessage) {
        this.ports.conversations.setFirstMessage(conversationId, first).catch((err: unknown) => {
          this.ports.logger.warn({ err, conversationId }, 'could not fill in firstMessage')
        })
      }
    }
    return out
  }

  // ------------------------------------------------------ open conversation

  /**
   * Gets or creates the direct conversation with a peer without sending
   * anything, by the rules of a first send. The peer hears of it
   * (`conversation.created`) only from the call that created it: the unique
   * directKey insert decides that, so concurrent opens tell them once.
   */
  async openConversation (req: OpenConversationRequest): Promise<OpenConversationReply> {
    if (req.peerId === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
    const [existing, blocked] = await Promise.all([
      directWith(this.ports, req.actorId, req.peerId),
      this.ports.isBlocked(req.peerId, req.actorId),
    ])
    if (blocked) throw new ChatError('CHAT_BLOCKED')
    if (existing) return { conversationId: existing._id, created: false }
    if (!await this.ports.userExists(req.peerId)) throw new ChatError('CHAT_USER_NOT_FOUND')
    const { conv, created } = await this.ports.conversations.openDirect(req.actorId, req.peerId, this.ports.newId)
    if (created) {
      // Its first messages, from either side, then take the hot path at once.
      await this.ports.state.seedCreated(conv)
      const event: ConversationCreatedEvent = { kind: 'conversation.created', userId: req.peerId, conversationId: conv._id, peerId: req.actorId }
      this.ports.events.toUser(event)
    }
    return { conversationId: conv._id, created }
  }

  /** Unread counts of some of a user's conversations: one Redis read, a rebuild if the hash is missing. */
  private async unreadOf (userId: number, conversationIds: number[]): Promise<Map<number, number>> {
    if (conversationIds.length === 0) return new Map()
    const { unread, unreadSource, cacheFallback } = this.ports
    return cacheFallback.read(
      'unread',
      async () => await unread.peekMany(userId, conversationIds) ?? await unread.all(userId),
      () => unreadSource.countAll(userId),
      { userId }
    )
  }
}
