/**
 * Reading a conversation and moving the reader's marks: history, sync,
 * read, clear, the unread counts and unread.take.
 */
import {
  ChatError, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT, SYNC_TOTAL_MAX, TAKE_UNREAD_MAX,
  type ClearReply, type ClearRequest, type HistoryReply, type HistoryRequest, type Message, type MessageChange, type MessageReadEvent,
  type MessagesClearedEvent, type ReadReply, type ReadRequest, type SyncReply, type SyncRequest,
  type TakeUnreadReply, type TakeUnreadRequest, type UnreadReply, type UnreadRequest,
} from '@chat/contracts'
import { fitToBudget, jsonBytes } from '@chat/runtime'
import { readMark, type ConversationDoc, type Marks } from '../conversations.js'
import { readMarkLockKey } from '../keys.js'
import { toChange, type ChangeDoc } from '../changes.js'
import { toMessage, type MessageDoc } from '../messages.js'
import { historyPage, historyRange, mergeBySeq, mergeSyncCursors, pageLimit, syncPage, syncRange } from '../paging.js'
import {
  directWith, exactlyOne, memberOf, publishUnread, unreadRefresh,
  type BackgroundWork, type ChatOptions, type ChatPorts,
} from './context.js'

/** message.unread.take's page when the request gives no limit. */
export const TAKE_UNREAD_DEFAULT = 50

/** Conversations a sync reads at once: enough to hide latency, few enough to over-read little. */
const SYNC_READ_BATCH = 8

/** The ports reading uses. */
export type ReadingPorts = Pick<ChatPorts,
  'conversations' | 'messages' | 'locks' | 'unread' | 'unreadSource' | 'cacheFallback' | 'events' | 'logger'>

/**
 * The reading commands. Those that read marks or counts first wait for this
 * replica's sends to settle (BackgroundWork.marksSettled), so a user's own
 * sends are in what they see.
 */
export class Reading {
  constructor (
    private readonly ports: ReadingPorts,
    private readonly opts: Pick<ChatOptions, 'replyBudgetBytes'>,
    private readonly background: BackgroundWork
  ) {}

  // ---------------------------------------------------------------- history

  /** A page of a conversation going back from the newest message (or from `beforeId`), never past the actor's clear mark. */
  async history (req: HistoryRequest): Promise<HistoryReply> {
    exactlyOne('peerId, conversationId', req.peerId, req.conversationId)
    const limit = pageLimit(req.limit, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)
    let conv: ConversationDoc
    let marks: Marks
    if (req.peerId !== undefined) {
      const found = await directWith(this.ports, req.actorId, req.peerId)
      if (!found) return { conversationId: null, messages: [], hasMore: false }
      conv = found
      marks = await this.ports.conversations.marksOf(conv, req.actorId) ?? { lastReadSeq: 0, clearedSeq: 0 }
    } else {
      ({ conv, marks } = await memberOf(this.ports, req.actorId, req.conversationId as number))
    }

    if (req.offset !== undefined && req.beforeId !== undefined) throw new ChatError('CHAT_BAD_REQUEST', 'give offset or beforeId, not both')
    let beforeSeq: number | undefined
    if (req.beforeId !== undefined) {
      const before = await this.ports.messages.byId(req.beforeId)
      if (!before || before.conversationId !== conv._id) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      beforeSeq = before.seq
    }
    const range = historyRange({ clearedSeq: marks.clearedSeq, beforeSeq, offset: req.offset, limit })
    if (!range) return { conversationId: conv._id, messages: [], hasMore: false }
    const page = historyPage(await this.ports.messages.newestFirst(conv._id, range), limit)
    const fitted = fitToBudget(page.items.map(toMessage), jsonBytes, this.opts.replyBudgetBytes, true)
    return { conversationId: conv._id, messages: fitted.items, hasMore: page.hasMore || fitted.truncated }
  }

  // ------------------------------------------------------------------- read

  /** Moves the actor's read mark up to a message or the newest, recounts, and sends read receipts. */
  async read (req: ReadRequest): Promise<ReadReply> {
    await this.background.marksSettled()
    if (req.messageId === undefined) exactlyOne('messageId, conversationId, peerId', req.conversationId, req.peerId)
    else if (req.conversationId !== undefined && req.peerId !== undefined) {
      throw new ChatError('CHAT_BAD_REQUEST', 'give conversationId or peerId, not both')
    }

    let found: { conv: ConversationDoc, marks: Marks } | undefined
    if (req.peerId !== undefined) {
      const conv = await directWith(this.ports, req.actorId, req.peerId)
      if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      found = { conv, marks: await this.ports.conversations.marksOf(conv, req.actorId) ?? { lastReadSeq: 0, clearedSeq: 0 } }
    } else if (req.conversationId !== undefined) {
      found = await memberOf(this.ports, req.actorId, req.conversationId)
    }

    let upTo: number
    let newestRead: number | undefined
    if (req.messageId !== undefined) {
      const message = await this.ports.messages.byId(req.messageId)
      if (!message) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      // Also given a conversation: it must be the message's.
      if (found && found.conv._id !== message.conversationId) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      found ??= await memberOf(this.ports, req.actorId, message.conversationId)
      upTo = message.seq
      newestRead = message._id
    } else {
      const target = (found as { conv: ConversationDoc }).conv
      const newest = await this.ports.messages.newest(target._id)
      upTo = Math.max(target.seq, newest?.seq ?? 0)
      if (newest && newest.seq === upTo) newestRead = newest._id
    }
    const { conv: target, marks } = found as { conv: ConversationDoc, marks: Marks }

    // $max: a late or repeated read never moves the mark back. Under the
    // same per-(user, conversation) lock as takes: two devices reading at
    // once must not let the slower recount overwrite the newer one in Redis,
    // and on servers without atomic updates a read must not interleave with
    // a take's mark move.
    const count = await this.ports.locks.withLock(readMarkLockKey(req.actorId, target._id), async () => {
      await this.ports.conversations.markRead(target, req.actorId, upTo)
      return unreadRefresh(this.ports, req.actorId, target._id)
    })
    publishUnread(this.ports, req.actorId, target, count)
    if (upTo > marks.lastReadSeq) {
      await this.sendReceipts(target, req.actorId, marks.lastReadSeq, upTo, newestRead).catch((err: unknown) => {
        this.ports.logger.warn({ err, conversationId: target._id }, 'read receipts failed')
      })
    }
    return { conversationId: target._id, unread: count }
  }

  /**
   * Read receipts: the mark moved from `fromSeq` to `upTo`, so each distinct
   * sender of a message in between (one query) is told, on their own
   * subject. In a direct conversation that is at most the peer.
   */
  private async sendReceipts (conv: ConversationDoc, readerId: number, fromSeq: number, upTo: number, messageId: number | undefined): Promise<void> {
    const senders = await this.ports.messages.sendersBetween(conv._id, fromSeq, upTo, readerId)
    for (const userId of senders) {
      const event: MessageReadEvent = { kind: 'message.read', userId, conversationId: conv._id, readerId, seq: upTo }
      if (messageId !== undefined) event.messageId = messageId
      this.ports.events.toUser(event)
    }
  }

  /**
   * The newest seq of a conversation: its counter, or the highest stored
   * message where the counter lags (servers without atomic updates).
   */
  private async latestSeq (conv: ConversationDoc): Promise<number> {
    return Math.max(conv.seq, await this.ports.messages.latestSeq(conv._id))
  }

  // ------------------------------------------------------------------ clear

  /** Hides a direct conversation's history so far, for the actor only. */
  async clear (req: ClearRequest): Promise<ClearReply> {
    await this.background.marksSettled()
    const conv = await directWith(this.ports, req.actorId, req.peerId)
    if (!conv) return { conversationId: null }
    // Messages stored after this point arrived after the clear and stay.
    const count = await this.ports.locks.withLock(readMarkLockKey(req.actorId, conv._id), async () => {
      await this.ports.conversations.clearUpTo(conv, req.actorId, await this.latestSeq(conv))
      return unreadRefresh(this.ports, req.actorId, conv._id)
    })
    const cleared: MessagesClearedEvent = { kind: 'messages.cleared', userId: req.actorId, conversationId: conv._id, peerId: req.peerId }
    // The asking socket has its answer; the event is for the user's other sockets.
    if (req.originConnectionId !== undefined) cleared.originConnectionId = req.originConnectionId
    this.ports.events.toUser(cleared)
    publishUnread(this.ports, req.actorId, conv, count)
    return { conversationId: conv._id }
  }

  // ------------------------------------------------------------------- sync

  /** What a reconnecting client missed in each conversation it names, after its cursor there. */
  async sync (req: SyncRequest): Promise<SyncReply> {
    const limit = pageLimit(req.limit, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT)
    const cursors = mergeSyncCursors(req.cursors)
    const marks = await this.ports.conversations.marksMany(cursors.map((c) => c.conversationId), req.actorId)
    if (cursors.some((c) => !marks.has(c.conversationId))) throw new ChatError('CHAT_NOT_MEMBER')

    // At most SYNC_TOTAL_MAX entries (messages and changes) in all.
    // Conversations are read a few at a time, each for no more than what is
    // still left, so a request naming many busy conversations reads little
    // more than it returns; once nothing is left, one row each still tells
    // whether there is more.
    const pages: Array<{ conversationId: number, entries: SyncEntry[], hasMore: boolean }> = []
    let left = SYNC_TOTAL_MAX
    for (let i = 0; i < cursors.length; i += SYNC_READ_BATCH) {
      const want = Math.min(limit, left)
      const batch = await Promise.all(cursors.slice(i, i + SYNC_READ_BATCH).map(async (c) => {
        const m = marks.get(c.conversationId) as Marks
        const range = syncRange({ afterSeq: c.afterSeq, clearedSeq: m.clearedSeq, limit: want })
        const [messages, changes] = await Promise.all([
          this.ports.messages.oldestFirst(c.conversationId, range),
          this.ports.messages.changes.after(c.conversationId, range.afterSeq, m.clearedSeq, range.fetch),
        ])
        return { conversationId: c.conversationId, page: syncPage(mergeBySeq(messages.map(messageEntry), changes.map(changeEntry)), want) }
      }))
      for (const { conversationId, page } of batch) {
        const taken = page.items.slice(0, left)
        left -= taken.length
        pages.push({ conversationId, entries: taken, hasMore: page.hasMore || taken.length < page.items.length })
      }
    }

    // One reply must fit in a NATS message: past the budget, conversations
    // are cut short and marked hasMore; the client syncs again from there.
    let budget = this.opts.replyBudgetBytes
    return {
      conversations: pages.map((p) => {
        const fitted = fitToBudget(p.entries, entryBytes, budget, false)
        if (budget <= 0 || (fitted.items.length > 0 && fitted.used > budget)) {
          return { conversationId: p.conversationId, messages: [], changes: [], hasMore: p.hasMore || p.entries.length > 0 }
        }
        budget -= fitted.used
        return { conversationId: p.conversationId, ...splitEntries(fitted.items), hasMore: p.hasMore || fitted.truncated }
      }),
    }
  }

  // ----------------------------------------------------------------- unread

  /** The actor's unread counts in the conversations they belong to. */
  async unreadCounts (req: UnreadRequest): Promise<UnreadReply> {
    await this.background.marksSettled()
    const { unread, unreadSource, cacheFallback } = this.ports
    const counts = await cacheFallback.read(
      'unread',
      () => unread.all(req.actorId),
      () => unreadSource.countAll(req.actorId),
      { userId: req.actorId }
    )
    const ids = [...counts.keys()]
    const marks = await this.ports.conversations.marksMany(ids, req.actorId)
    return {
      // A count left in Redis for a conversation the user no longer belongs
      // to (deleted, or a room left, racing a message) is not reported.
      conversations: ids.filter((id) => marks.has(id)).map((conversationId) => {
        const peerId = marks.get(conversationId)?.peerId
        const count = counts.get(conversationId) as number
        return peerId === undefined ? { conversationId, count } : { conversationId, peerId, count }
      }),
    }
  }

  // ------------------------------------------------------------ unread take

  /**
   * Returns the actor's oldest unread messages and marks them read.
   *
   * Two devices of one user may take at once through different replicas.
   * The read mark is a MongoDB $max, and conditional updates are no arbiter
   * on FerretDB v1, so "read the mark, read the messages after it, move the
   * mark" runs under a Redis lock per (user, conversation) (see locks.ts for
   * why Redis rather than a claim document): each take starts from the mark
   * the previous one stored, so no message is returned twice and none is
   * passed over. Only that part is locked; the unread event and receipts
   * follow outside it. A lock not had within ~2 s is CHAT_UNAVAILABLE.
   *
   * Not covered by the lock: a message whose seq was taken before a take
   * but stored after its query (a concurrent send) is passed over, as by
   * `read`; and on FerretDB a concurrent `read` or send by the same user
   * may lose the $max race and move the mark back (MongoDB's $max is atomic).
   */
  async takeUnread (req: TakeUnreadRequest): Promise<TakeUnreadReply> {
    await this.background.marksSettled()
    const limit = pageLimit(req.limit, TAKE_UNREAD_DEFAULT, TAKE_UNREAD_MAX)
    const { conversations, messages } = this.ports
    const { conv, marks, taken, remaining } = await this.ports.locks.withLock(readMarkLockKey(req.actorId, req.conversationId), async () => {
      const { conv, marks } = await memberOf(this.ports, req.actorId, req.conversationId)
      const docs = await messages.unreadOldestFirst(conv._id, req.actorId, readMark(marks), limit)
      if (docs.length === 0) return { conv, marks, taken: [] as Message[], remaining: 0 }
      // Oldest first, cut to the reply budget: the mark moves only past what is returned.
      const fitted = fitToBudget(docs.map(toMessage), jsonBytes, this.opts.replyBudgetBytes, false).items
      const upTo = (fitted.at(-1) as Message).seq
      await conversations.markRead(conv, req.actorId, upTo)
      const remaining = await unreadRefresh(this.ports, req.actorId, conv._id)
      return { conv, marks, taken: fitted, remaining }
    })
    const last = taken.at(-1)
    if (last) {
      publishUnread(this.ports, req.actorId, conv, remaining)
      if (last.seq > marks.lastReadSeq) {
        await this.sendReceipts(conv, req.actorId, marks.lastReadSeq, last.seq, last.id).catch((err: unknown) => {
          this.ports.logger.warn({ err, conversationId: conv._id }, 'read receipts failed')
        })
      }
    }
    return { messages: taken, remaining }
  }
}

/** A message or a change in a sync's one order. */
type SyncEntry = { seq: number, message: Message } | { seq: number, change: MessageChange }

function messageEntry (doc: MessageDoc): SyncEntry {
  return { seq: doc.seq, message: toMessage(doc) }
}

function changeEntry (doc: ChangeDoc): SyncEntry {
  return { seq: doc.seq, change: toChange(doc) }
}

function entryBytes (e: SyncEntry): number {
  return jsonBytes('message' in e ? e.message : e.change)
}

function splitEntries (entries: readonly SyncEntry[]): { messages: Message[], changes: MessageChange[] } {
  const messages: Message[] = []
  const changes: MessageChange[] = []
  for (const e of entries) {
    if ('message' in e) messages.push(e.message)
    else changes.push(e.change)
  }
  return { messages, changes }
}
