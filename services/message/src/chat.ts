import {
  ChatError, CONVERSATION_LIST_MAX, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT, SYNC_TOTAL_MAX, TAKE_UNREAD_MAX,
  type ClearReply, type ClearRequest, type ConversationCreatedEvent, type ConversationDeletedEvent, type ConversationSummary,
  type DeleteConversationReply, type DeleteConversationRequest, type DeleteMessageReply, type DeleteMessageRequest,
  type EditMessageReply, type EditMessageRequest, type HistoryReply, type HistoryRequest,
  type LastMessage as WireLastMessage, type ListConversationsReply, type ListConversationsRequest,
  type MembershipChangedEvent, type Message, type MessageDeletedEvent, type MessageEditedEvent, type MessageKind,
  type MessageNewEvent, type MessageReadEvent, type MessagesClearedEvent,
  type OpenConversationReply, type OpenConversationRequest, type ReadReply, type ReadRequest, type UserName,
  type RoomEvent, type SendMessageReply, type SendMessageRequest, type SyncReply, type SyncRequest,
  type TakeUnreadReply, type TakeUnreadRequest,
  type TypingEvent, type TypingRequest, type UnreadChangedEvent, type UnreadReply, type UnreadRequest,
} from '@chat/contracts'
import type { Logger } from '@chat/runtime'
import { checkContent, type ContentRules } from './content.js'
import type { DirectSender } from './send/direct.js'
import { storeNumbered } from './send/numbering.js'
import type { SendState } from './send/state.js'
import type { SummaryWriter } from './send/summaries.js'
import { peerOf, readMark, type ConversationDoc, type ConversationStore, type LastMessage, type Marks, type MemberDoc } from './conversations.js'
import type { FileStore } from './files.js'
import { dedupeKey, readMarkLockKey } from './keys.js'
import { decodeConversationCursor, encodeConversationCursor, firstVisibleMessage } from './lists.js'
import type { Locks } from './locks.js'
import { toMessage, type MessageDoc, type MessageStore } from './messages.js'
import { fitToBudget, jsonBytes } from '@chat/runtime'
import { historyPage, historyRange, mergeSyncCursors, pageLimit, syncPage, syncRange } from './paging.js'
import type { RoomStore } from './rooms.js'
import type { UnreadCache, UnreadSource } from './unread.js'

/** Events this service sends to users (on `evt.user.<userId>.<kind>`). */
export type ChatEvent =
  | MessageNewEvent | UnreadChangedEvent | MessagesClearedEvent
  | MessageEditedEvent | MessageDeletedEvent | ConversationDeletedEvent
  | MessageReadEvent | TypingEvent | MembershipChangedEvent | ConversationCreatedEvent

/** Message kinds whose content may be edited: text-like ones (not a file reference). */
export const EDITABLE_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>(['text', 'customize', 'sticker', 'location'])

export const CONVERSATION_LIST_DEFAULT = 20

/** unread.take's page when the request gives no limit. */
export const TAKE_UNREAD_DEFAULT = 50

/** What the chat logic needs from the outside world; app.ts wires NATS in, tests fakes. */
export interface ChatPorts {
  conversations: ConversationStore
  messages: MessageStore
  files: FileStore
  unread: UnreadCache
  /** MongoDB counts, the fallback when Redis cannot answer. */
  unreadSource: UnreadSource
  /** A new cluster-unique id. */
  newId: () => number
  /** Whether a user exists (asks the auth service). */
  userExists: (userId: number) => Promise<boolean>
  /** Users' names (one auth.users.names call); unknown ones left out. */
  users: (ids: number[]) => Promise<UserName[]>
  /** Whether `blockerId` has blocked `blockedId` (asks the contact service). */
  isBlocked: (blockerId: number, blockedId: number) => Promise<boolean>
  rooms: RoomStore
  /** Cross-replica locks (Redis): serialise unread.take per user and conversation. */
  locks: Locks
  /** Delivers an event to `event.userId`. Fire-and-forget. */
  /** The Redis side of sending: sequence numbers, tombstones (send/state.ts). */
  state: SendState
  /** The hot path of direct messages (send/direct.ts). */
  direct: DirectSender
  /** Conversation summaries of direct and room messages, written after the answer (send/summaries.ts). */
  summaries: SummaryWriter
  publish: (event: ChatEvent) => void
  /** Publishes an event once on its room's subject. Fire-and-forget. */
  publishRoom: (event: RoomEvent) => void
  /** Joins a room if not a member yet (RoomService.join), for sends that ask to. */
  joinRoom: (actorId: number, roomId: number) => Promise<void>
  logger: Logger
}

export interface ChatOptions extends ContentRules {
  /**
   * Largest reply payload in bytes: below NATS max_payload, which a history
   * page of long multi-byte messages could otherwise exceed.
   */
  replyBudgetBytes: number
}

/** Conversations a sync reads at once: enough to hide latency, few enough to over-read little. */
const SYNC_READ_BATCH = 8

/** The stored summary of a message, for conversation lists. */
function lastMessageOf (doc: MessageDoc): LastMessage {
  return { id: doc._id, seq: doc.seq, senderId: doc.senderId, kind: doc.kind, content: doc.content, createdAt: doc.createdAt }
}

function toWireLastMessage (last: LastMessage): WireLastMessage {
  return { id: last.id, senderId: last.senderId, kind: last.kind, content: last.content, createdAt: last.createdAt.toISOString() }
}

/**
 * The message service's behaviour, independent of NATS: each method is one
 * command. Ordering rule throughout: MongoDB (the truth) is written first;
 * Redis and events follow only once the data they describe is stored.
 */
export class ChatService {
  constructor (private readonly ports: ChatPorts, private readonly opts: ChatOptions) {}

  // ---------------------------------------------------------------- targets

  /** The direct conversation with `peerId`, or null when they never talked. */
  private async directWith (actorId: number, peerId: number): Promise<ConversationDoc | null> {
    if (peerId === actorId) throw new ChatError('CHAT_SELF_TARGET')
    return this.ports.conversations.byDirectKey(actorId, peerId)
  }

  /** A conversation the actor is a member of, with the actor's marks. */
  private async memberOf (actorId: number, conversationId: number): Promise<{ conv: ConversationDoc, marks: Marks }> {
    const conv = await this.ports.conversations.byId(conversationId)
    if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    const marks = await this.ports.conversations.marksOf(conv, actorId)
    if (!marks) throw new ChatError('CHAT_NOT_MEMBER')
    return { conv, marks }
  }

  /**
   * Waits for the summaries of this replica's sends so far (written after
   * their answers, see send/summaries.ts): what a user then reads, counts
   * or lists includes their own sends and the read marks those moved.
   * Called before any read-mark lock is taken, never under one: the
   * summary writes take those locks.
   */
  private async marksSettled (): Promise<void> {
    await this.ports.summaries.settled()
    await Promise.all([this.ports.direct.recountsSettled(), ...this.background])
  }

  private static exactlyOne (what: string, ...values: unknown[]): void {
    if (values.filter((v) => v !== undefined).length !== 1) throw new ChatError('CHAT_BAD_REQUEST', `exactly one of ${what} is required`)
  }

  // ------------------------------------------------------------------- send

  async send (req: SendMessageRequest): Promise<SendMessageReply> {
    const { conversations, messages, files } = this.ports
    ChatService.exactlyOne('peerId, conversationId', req.peerId, req.conversationId)
    const { fileId } = checkContent(req.kind, req.content, this.opts)
    // The hot path: a direct conversation that exists, no file, no join.
    if (fileId === undefined && req.joinRoom !== true) {
      const fast = await this.ports.direct.send(req)
      if (fast !== null) return fast
    }

    // A retried send returns what the first one stored and publishes nothing.
    if (req.clientMessageId !== undefined) {
      const stored = await messages.byDedupeKey(dedupeKey(req.actorId, req.clientMessageId, 0))
      if (stored) return { message: toMessage(stored), duplicate: true }
    }
    if (fileId !== undefined) await files.attachable(req.actorId, fileId)

    let conv: ConversationDoc
    if (req.peerId !== undefined) {
      if (req.peerId === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
      // Both lookups at once: a blocked sender creates nothing, not even an empty conversation.
      const [existing, blocked] = await Promise.all([
        this.directWith(req.actorId, req.peerId),
        this.ports.isBlocked(req.peerId, req.actorId),
      ])
      if (blocked) throw new ChatError('CHAT_BLOCKED')
      if (existing) {
        // Users are never deleted, so a peer once checked stays valid and
        // the common case costs no round trip to auth.
        conv = existing
      } else {
        if (!await this.ports.userExists(req.peerId)) throw new ChatError('CHAT_USER_NOT_FOUND')
        conv = await conversations.getOrCreateDirect(req.actorId, req.peerId, this.ports.newId)
      }
    } else {
      if (req.joinRoom === true) await this.ports.joinRoom(req.actorId, req.conversationId as number)
      conv = (await this.memberOf(req.actorId, req.conversationId as number)).conv
      const peerId = peerOf(conv, req.actorId)
      if (peerId !== undefined && await this.ports.isBlocked(peerId, req.actorId)) throw new ChatError('CHAT_BLOCKED')
    }

    // Linked before the message exists, so every recipient who sees the
    // message can already open the file.
    if (fileId !== undefined) await files.linkConversation(fileId, conv._id)

    const now = new Date()
    const id = this.ports.newId()
    const draft: Omit<MessageDoc, 'seq'> = {
      _id: id,
      conversationId: conv._id,
      senderId: req.actorId,
      kind: req.kind,
      content: req.content,
      createdAt: now,
      dedupeKey: dedupeKey(req.actorId, req.clientMessageId, id),
    }
    const recipientId = peerOf(conv, req.actorId)
    if (recipientId !== undefined) draft.recipientId = recipientId
    if (req.clientMessageId !== undefined) draft.clientMessageId = req.clientMessageId
    if (req.clientTime !== undefined) draft.clientTime = req.clientTime
    const stored = await storeNumbered(this.ports, draft, req.clientMessageId !== undefined)
    if (stored === 'gone') throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    if ('duplicate' in stored) return { message: toMessage(stored.duplicate), duplicate: true }
    const doc = stored.doc
    // A conversation (or room) deleted while this was being stored: the
    // deleter removes the conversation document before its messages, so
    // either it is gone now and this message is withdrawn here, or it was
    // still there after the insert and the deleter's sweep takes the message.
    if (!await conversations.exists(conv._id)) {
      await messages.deleteOwn(doc._id, req.actorId)
      throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    }
    const message = toMessage(doc)
    // The message is stored: from here on nothing may fail the send, or the
    // client would retry and get `duplicate`, and nobody would be told.
    const after = conv.kind === 'room'
      ? this.afterStoreRoom(conv, doc, message, req.originConnectionId)
      : this.afterStore(conv, doc, message, req.originConnectionId)
    await after.catch((err: unknown) => {
      this.ports.logger.error({ err, messageId: id, conversationId: conv._id }, 'post-send bookkeeping failed')
    })
    return { message, duplicate: false }
  }

  /**
   * Everything a stored message causes: marks, lastMessage, unread counts,
   * events. Each step is best-effort on its own, so a Redis outage still
   * delivers the message and a MongoDB hiccup here still counts it.
   */
  private async afterStore (conv: ConversationDoc, doc: MessageDoc, message: Message, originConnectionId: string | undefined): Promise<void> {
    const { conversations, unread, logger } = this.ports
    const log = (what: string) => (err: unknown) => {
      logger.error({ err, messageId: doc._id, conversationId: conv._id }, `after send: ${what} failed`)
    }
    const memberIds = await conversations.memberIdsOf(conv)
    const others = memberIds.filter((uid) => uid !== doc.senderId)

    await Promise.all([
      conversations.recordLast(conv._id, lastMessageOf(doc)).catch(log('lastMessage')).then(() => this.recordFirst(conv, doc)).catch(log('firstMessage')),
      conversations.markRead(conv, doc.senderId, doc.seq, doc.createdAt).catch(log('sender read mark')),
      // Before the unread counts: a rebuild counts from member documents.
      conversations.touchMembers(conv, others, doc.createdAt).catch(log('member activity')),
    ])

    // Counted before anyone hears of the message, so a recipient's read
    // (which recounts) cannot be overtaken by this increment.
    const counts = await Promise.all(others.map(async (userId) => {
      try {
        return await unread.increment(userId, conv._id)
      } catch (err) {
        log('unread increment')(err)
        // The cached count missed this message: drop it so the next use rebuilds.
        await unread.forget(userId).catch(() => undefined)
        return undefined
      }
    }))

    for (const userId of memberIds) {
      const event: MessageNewEvent = { kind: 'message.new', userId, message }
      if (originConnectionId !== undefined) event.originConnectionId = originConnectionId
      // A recipient's new count rides on their copy: one event per recipient.
      const count = userId === doc.senderId ? undefined : counts[others.indexOf(userId)]
      if (count !== undefined) event.unread = count
      this.ports.publish(event)
    }

    await this.settleSenderUnread(conv, doc.senderId).catch(log('sender unread'))
  }

  /**
   * Sending reads the conversation; recount only if the sender had unread
   * messages there (rare), so a send normally costs no count query.
   */
  private async settleSenderUnread (conv: ConversationDoc, senderId: number, markPending = false): Promise<void> {
    const before = await this.ports.unread.peek(senderId, conv._id)
    if (before === undefined || before === 0) return
    // A recount must see the read mark this send moved.
    if (markPending) await this.ports.summaries.settled()
    this.publishUnread(senderId, conv, await this.ports.unread.refresh(senderId, conv._id))
  }

  /** Work after an answer that reads on this replica must wait for (see marksSettled). */
  private inBackground (work: Promise<void>): void {
    this.background.add(work)
    void work.finally(() => this.background.delete(work))
  }

  private readonly background = new Set<Promise<void>>()

  /**
   * afterStore for a room: the member ids in one query, every other
   * member's unread count in one Redis round trip, and the message
   * published once on the room's subject with the members' new counts (each
   * gateway holding members hands it to their sockets): no event per
   * member. The room's last message, the sender's read mark and the
   * members' activity are written after the answer, coalesced per room
   * (send/summaries.ts): however busy the room, one update of its members
   * at a time.
   */
  private async afterStoreRoom (conv: ConversationDoc, doc: MessageDoc, message: Message, originConnectionId: string | undefined): Promise<void> {
    const { conversations, unread, summaries, logger } = this.ports
    const log = (what: string) => (err: unknown) => {
      logger.error({ err, messageId: doc._id, conversationId: conv._id }, `after room send: ${what} failed`)
    }
    summaries.add({ conversationId: conv._id, last: lastMessageOf(doc), memberIds: [], room: true })
    const memberIds = await conversations.memberIdsOf(conv)
    const others = memberIds.filter((uid) => uid !== doc.senderId)

    let counts = new Map<number, number | undefined>()
    try {
      counts = await unread.incrementMany(others, conv._id)
    } catch (err) {
      log('unread increment')(err)
      await unread.forgetMany(others).catch(() => undefined)
    }

    const event: RoomEvent = { kind: 'message.new', roomId: conv._id, message }
    if (originConnectionId !== undefined) event.originConnectionId = originConnectionId
    // The members' counts ride on the one room event: no event per member.
    const carried: Record<string, number> = {}
    for (const userId of others) {
      const count = counts.get(userId)
      if (count !== undefined) carried[userId] = count
    }
    if (Object.keys(carried).length > 0) event.unread = carried
    this.ports.publishRoom(event)

    // The sender's count is recounted once their read mark is written, off the answer path.
    this.inBackground(this.settleSenderUnread(conv, doc.senderId, true).catch(log('sender unread')))
  }

  /**
   * Records the conversation's first message. Run after setLastMessage, not
   * beside it: on FerretDB two concurrent updates of one document can lose
   * one another. Every send after the first
   * sees it named on the conversation it read and does nothing (no query).
   * A conversation with neither a first nor a last message had none before
   * this one, so it proposes itself; one with a last message but no first
   * (stored before the field existed) gets its oldest message looked up once.
   */
  private async recordFirst (conv: ConversationDoc, doc: MessageDoc): Promise<void> {
    if (conv.firstMessage && conv.firstMessage.seq < doc.seq) return
    const { conversations, messages } = this.ports
    let first = { id: doc._id, seq: doc.seq }
    if (!conv.firstMessage && conv.lastMessage) {
      const oldest = await messages.oldest(conv._id)
      if (oldest) first = { id: oldest._id, seq: oldest.seq }
    }
    if (!await conversations.setFirstMessage(conv._id, first)) return
    // Having written, check against the messages themselves: an older one
    // stored meanwhile whose own write was lost to ours (FerretDB) is put back.
    const oldest = await messages.oldest(conv._id)
    if (oldest && oldest.seq < first.seq) await conversations.setFirstMessage(conv._id, { id: oldest._id, seq: oldest.seq })
  }

  private publishUnread (userId: number, conv: ConversationDoc, count: number): void {
    const event: UnreadChangedEvent = { kind: 'unread.changed', userId, conversationId: conv._id, count }
    const peerId = peerOf(conv, userId)
    if (peerId !== undefined) event.peerId = peerId
    this.ports.publish(event)
  }

  // ---------------------------------------------------------------- history

  async history (req: HistoryRequest): Promise<HistoryReply> {
    ChatService.exactlyOne('peerId, conversationId', req.peerId, req.conversationId)
    const limit = pageLimit(req.limit, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)
    let conv: ConversationDoc
    let marks: Marks
    if (req.peerId !== undefined) {
      const found = await this.directWith(req.actorId, req.peerId)
      if (!found) return { conversationId: null, messages: [], hasMore: false }
      conv = found
      marks = await this.ports.conversations.marksOf(conv, req.actorId) ?? { lastReadSeq: 0, clearedSeq: 0 }
    } else {
      ({ conv, marks } = await this.memberOf(req.actorId, req.conversationId as number))
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

  async read (req: ReadRequest): Promise<ReadReply> {
    await this.marksSettled()
    if (req.messageId === undefined) ChatService.exactlyOne('messageId, conversationId, peerId', req.conversationId, req.peerId)
    else if (req.conversationId !== undefined && req.peerId !== undefined) {
      throw new ChatError('CHAT_BAD_REQUEST', 'give conversationId or peerId, not both')
    }

    let found: { conv: ConversationDoc, marks: Marks } | undefined
    if (req.peerId !== undefined) {
      const conv = await this.directWith(req.actorId, req.peerId)
      if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      found = { conv, marks: await this.ports.conversations.marksOf(conv, req.actorId) ?? { lastReadSeq: 0, clearedSeq: 0 } }
    } else if (req.conversationId !== undefined) {
      found = await this.memberOf(req.actorId, req.conversationId)
    }

    let upTo: number
    let newestRead: number | undefined
    if (req.messageId !== undefined) {
      const message = await this.ports.messages.byId(req.messageId)
      if (!message) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      // Also given a conversation: it must be the message's.
      if (found && found.conv._id !== message.conversationId) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      found ??= await this.memberOf(req.actorId, message.conversationId)
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
      return this.unreadRefresh(req.actorId, target._id)
    })
    this.publishUnread(req.actorId, target, count)
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
      this.ports.publish(event)
    }
  }

  /**
   * The newest seq of a conversation: its counter, or the highest stored
   * message where the counter lags (servers without atomic updates).
   */
  private async latestSeq (conv: ConversationDoc): Promise<number> {
    return Math.max(conv.seq, await this.ports.messages.latestSeq(conv._id))
  }

  /** The recount after a mark moved; MongoDB alone answers if Redis cannot. */
  private async unreadRefresh (userId: number, conversationId: number): Promise<number> {
    try {
      return await this.ports.unread.refresh(userId, conversationId)
    } catch (err) {
      this.ports.logger.warn({ err, userId }, 'unread cache unavailable; counting from MongoDB')
      return this.ports.unreadSource.countOne(userId, conversationId)
    }
  }

  // ------------------------------------------------------------------ clear

  async clear (req: ClearRequest): Promise<ClearReply> {
    await this.marksSettled()
    const conv = await this.directWith(req.actorId, req.peerId)
    if (!conv) return { conversationId: null }
    // Messages stored after this point arrived after the clear and stay.
    const count = await this.ports.locks.withLock(readMarkLockKey(req.actorId, conv._id), async () => {
      await this.ports.conversations.clearUpTo(conv, req.actorId, await this.latestSeq(conv))
      return this.unreadRefresh(req.actorId, conv._id)
    })
    const cleared: MessagesClearedEvent = { kind: 'messages.cleared', userId: req.actorId, conversationId: conv._id, peerId: req.peerId }
    // The asking socket has its answer; the event is for the user's other sockets.
    if (req.originConnectionId !== undefined) cleared.originConnectionId = req.originConnectionId
    this.ports.publish(cleared)
    this.publishUnread(req.actorId, conv, count)
    return { conversationId: conv._id }
  }

  // ------------------------------------------------------------------- sync

  async sync (req: SyncRequest): Promise<SyncReply> {
    const limit = pageLimit(req.limit, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT)
    const cursors = mergeSyncCursors(req.cursors)
    const marks = await this.ports.conversations.marksMany(cursors.map((c) => c.conversationId), req.actorId)
    if (cursors.some((c) => !marks.has(c.conversationId))) throw new ChatError('CHAT_NOT_MEMBER')

    // At most SYNC_TOTAL_MAX messages in all. Conversations are read a few
    // at a time, each for no more than what is still left, so a request
    // naming many busy conversations reads little more than it returns;
    // once nothing is left, one row each still tells whether there is more.
    const pages: SyncReply['conversations'] = []
    let left = SYNC_TOTAL_MAX
    for (let i = 0; i < cursors.length; i += SYNC_READ_BATCH) {
      const want = Math.min(limit, left)
      const batch = await Promise.all(cursors.slice(i, i + SYNC_READ_BATCH).map(async (c) => {
        const m = marks.get(c.conversationId) as Marks
        const range = syncRange({ afterSeq: c.afterSeq, clearedSeq: m.clearedSeq, limit: want })
        return { conversationId: c.conversationId, page: syncPage(await this.ports.messages.oldestFirst(c.conversationId, range), want) }
      }))
      for (const { conversationId, page } of batch) {
        const taken = page.items.slice(0, left)
        left -= taken.length
        pages.push({ conversationId, messages: taken.map(toMessage), hasMore: page.hasMore || taken.length < page.items.length })
      }
    }

    // One reply must fit in a NATS message: past the budget, conversations
    // are cut short and marked hasMore; the client syncs again from there.
    let budget = this.opts.replyBudgetBytes
    return {
      conversations: pages.map((p) => {
        const fitted = fitToBudget(p.messages, jsonBytes, budget, false)
        if (budget <= 0 || (fitted.items.length > 0 && fitted.used > budget)) {
          return { conversationId: p.conversationId, messages: [], hasMore: p.hasMore || p.messages.length > 0 }
        }
        budget -= fitted.used
        return { conversationId: p.conversationId, messages: fitted.items, hasMore: p.hasMore || fitted.truncated }
      }),
    }
  }

  // ----------------------------------------------------------------- unread

  async unreadCounts (req: UnreadRequest): Promise<UnreadReply> {
    await this.marksSettled()
    let counts: Map<number, number>
    try {
      counts = await this.ports.unread.all(req.actorId)
    } catch (err) {
      this.ports.logger.warn({ err, userId: req.actorId }, 'unread cache unavailable; counting from MongoDB')
      counts = await this.ports.unreadSource.countAll(req.actorId)
    }
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

  // ------------------------------------------------------------------- edit

  /** The actor's own message in a conversation they (still) belong to. */
  private async ownMessage (actorId: number, messageId: number): Promise<{ doc: MessageDoc, conv: ConversationDoc }> {
    const doc = await this.ports.messages.byId(messageId)
    if (!doc) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
    if (doc.senderId !== actorId) throw new ChatError('CHAT_FORBIDDEN', 'Only the sender may do this')
    const { conv } = await this.memberOf(actorId, doc.conversationId)
    return { doc, conv }
  }

  async edit (req: EditMessageRequest): Promise<EditMessageReply> {
    const { doc, conv } = await this.ownMessage(req.actorId, req.messageId)
    if (!EDITABLE_KINDS.has(doc.kind)) throw new ChatError('CHAT_BAD_REQUEST', `kind: a ${doc.kind} message cannot be edited`)
    checkContent(doc.kind, req.content, this.opts)
    // An edit reaches the peer as a push and new content, like a send: a
    // peer who blocked the editor refuses it the same way.
    const peerId = peerOf(conv, req.actorId)
    if (peerId !== undefined && await this.ports.isBlocked(peerId, req.actorId)) throw new ChatError('CHAT_BLOCKED')
    const editedAt = new Date()
    if (!await this.ports.messages.edit(doc._id, req.actorId, req.content, editedAt)) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
    const message = toMessage({ ...doc, content: req.content, editedAt })
    await this.ports.conversations.editLastMessage(conv._id, doc._id, req.content).catch((err: unknown) => {
      this.ports.logger.error({ err, messageId: doc._id }, 'after edit: lastMessage failed')
    })
    if (conv.kind === 'room') {
      const event: RoomEvent = { kind: 'message.edited', roomId: conv._id, message }
      if (req.originConnectionId !== undefined) event.originConnectionId = req.originConnectionId
      this.ports.publishRoom(event)
    } else {
      for (const userId of conv.memberIds) {
        const event: MessageEditedEvent = { kind: 'message.edited', userId, message }
        if (req.originConnectionId !== undefined) event.originConnectionId = req.originConnectionId
        this.ports.publish(event)
      }
    }
    return { message }
  }

  // ----------------------------------------------------------------- delete

  /**
   * Deletes the actor's message for everyone. A hard delete: history, sync
   * and every unread count (Redis rebuilds included) simply no longer find
   * it. The seq stays used (the counter is raised past it) so a later
   * message never takes the number of a deleted one.
   */
  async deleteMessage (req: DeleteMessageRequest): Promise<DeleteMessageReply> {
    const { doc, conv } = await this.ownMessage(req.actorId, req.messageId)
    // The delete decides between concurrent deletes: one does the rest.
    if (!await this.ports.messages.deleteOwn(doc._id, req.actorId)) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
    await this.afterDelete(conv, doc).catch((err: unknown) => {
      this.ports.logger.error({ err, messageId: doc._id, conversationId: conv._id }, 'after delete: bookkeeping failed')
    })
    if (conv.kind === 'room') {
      const event: RoomEvent = { kind: 'message.deleted', roomId: conv._id, messageId: doc._id }
      if (req.originConnectionId !== undefined) event.originConnectionId = req.originConnectionId
      this.ports.publishRoom(event)
    } else {
      for (const userId of conv.memberIds) {
        const event: MessageDeletedEvent = { kind: 'message.deleted', userId, conversationId: conv._id, messageId: doc._id }
        if (req.originConnectionId !== undefined) event.originConnectionId = req.originConnectionId
        this.ports.publish(event)
      }
    }
    return { conversationId: conv._id, messageId: doc._id }
  }

  /**
   * The seq counter, lastMessage and the unread counts of those who had not
   * read the message. A direct peer is recounted exactly; room members who
   * had not read it (one query) lose one each in one Redis round trip.
   */
  private async afterDelete (conv: ConversationDoc, doc: MessageDoc): Promise<void> {
    const { conversations, messages, unread } = this.ports
    await conversations.raiseSeq(conv._id, doc.seq)
    if (conv.lastMessage?.id === doc._id) {
      const newest = await messages.newest(conv._id)
      await conversations.replaceLastMessage(conv._id, doc._id, newest ? lastMessageOf(newest) : null)
    }
    await this.repointFirst(conv._id, doc._id)
    if (conv.kind === 'direct') {
      const peerId = peerOf(conv, doc.senderId)
      if (peerId === undefined) return
      const marks = await conversations.marksOf(conv, peerId)
      if (marks && readMark(marks) < doc.seq) this.publishUnread(peerId, conv, await this.unreadRefresh(peerId, conv._id))
      return
    }
    const behind = await conversations.membersBehind(conv._id, doc.seq, doc.senderId)
    let counts = new Map<number, number | undefined>()
    try {
      counts = await unread.decrementMany(behind, conv._id)
    } catch (err) {
      this.ports.logger.warn({ err, conversationId: conv._id }, 'unread decrement failed; dropping the caches')
      await unread.forgetMany(behind).catch(() => undefined)
    }
    for (const userId of behind) {
      const count = counts.get(userId)
      if (count !== undefined) this.publishUnread(userId, conv, count)
    }
  }

  /**
   * Moves firstMessage off a deleted message. The conversation is read
   * afresh (not as it was before the delete): a concurrent delete of the
   * next-oldest message either sees our re-pointing and re-points in turn,
   * or happened before our check below, which then sees its message gone
   * and moves on. Bounded: each round passes at least one deleted message.
   */
  private async repointFirst (conversationId: number, deletedId: number): Promise<void> {
    const { conversations, messages } = this.ports
    const now = await conversations.byId(conversationId)
    if (now?.firstMessage?.id !== deletedId) return
    let gone = deletedId
    for (let round = 0; round < 8; round++) {
      const oldest = await messages.oldest(conversationId)
      const first = oldest ? { id: oldest._id, seq: oldest.seq } : null
      if (!await conversations.replaceFirstMessage(conversationId, gone, first)) return
      if (!first || await messages.byId(first.id)) return
      gone = first.id
    }
  }

  // ---------------------------------------------------- conversation delete

  /**
   * Deletes a direct conversation for both sides: the conversation document
   * first (so a concurrent send withdraws its message, see send), then its
   * messages and member documents, then the unread counts. A later message
   * between the two starts a new conversation (new id, fresh marks).
   */
  async deleteConversation (req: DeleteConversationRequest): Promise<DeleteConversationReply> {
    ChatService.exactlyOne('conversationId, peerId', req.conversationId, req.peerId)
    let conv: ConversationDoc | null
    if (req.peerId !== undefined) {
      conv = await this.directWith(req.actorId, req.peerId)
      if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    } else {
      conv = await this.ports.conversations.byId(req.conversationId as number)
      if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      if (conv.kind !== 'direct') throw new ChatError('CHAT_BAD_REQUEST', 'conversationId: rooms are deleted with room.delete')
      if (!conv.memberIds.includes(req.actorId)) throw new ChatError('CHAT_NOT_MEMBER')
    }
    if (req.openerOnly === true && conv.openedBy !== undefined && conv.openedBy !== req.actorId) {
      throw new ChatError('CHAT_FORBIDDEN', 'only the member who opened this conversation may delete it')
    }
    const peerId = peerOf(conv, req.actorId) as number
    const { conversations, messages, unread } = this.ports
    // Marked in Redis first, so a message stored after the sweep below is
    // withdrawn (send/state.ts), and the pair's next message starts anew.
    await this.ports.state.tombstone(conv._id, [req.actorId, peerId])
    // Only the delete that removed the document tells anyone; a concurrent
    // one still sweeps (idempotent) and answers the same.
    const deleted = await conversations.deleteConversation(conv._id, 'direct')
    await messages.deleteConversation(conv._id)
    await conversations.deleteMembers(conv._id)
    let old = new Map<number, number | undefined>()
    try {
      old = await unread.dropMany(conv.memberIds, conv._id)
    } catch (err) {
      this.ports.logger.warn({ err, conversationId: conv._id }, 'unread drop failed; dropping the caches')
      await unread.forgetMany(conv.memberIds).catch(() => undefined)
    }
    if (deleted) {
      for (const userId of conv.memberIds) {
        const peer = peerOf(conv, userId) as number
        const event: ConversationDeletedEvent = { kind: 'conversation.deleted', userId, conversationId: conv._id, peerId: peer }
        this.ports.publish(event)
        if ((old.get(userId) ?? 0) > 0) this.publishUnread(userId, conv, 0)
      }
    }
    return { conversationId: conv._id, peerId }
  }

  // ----------------------------------------------------------------- typing

  /**
   * Pushes a typing notice; nothing is stored. The common case is one read
   * by primary key (the actor's member document says room or peer).
   */
  async typing (req: TypingRequest): Promise<Record<string, never>> {
    ChatService.exactlyOne('conversationId, peerId', req.conversationId, req.peerId)
    if (req.peerId !== undefined) {
      const conv = await this.directWith(req.actorId, req.peerId)
      if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      await this.publishTyping(req.actorId, req.peerId, conv._id, req.typing)
      return {}
    }
    const conversationId = req.conversationId as number
    const member = await this.ports.conversations.member(conversationId, req.actorId)
    if (member?.kind === 'room') {
      this.ports.publishRoom({ kind: 'typing', roomId: conversationId, fromUserId: req.actorId, typing: req.typing })
      return {}
    }
    if (member?.peerId !== undefined) {
      await this.publishTyping(req.actorId, member.peerId, conversationId, req.typing)
      return {}
    }
    // No member document: a direct conversation missing one, or no member at all.
    const conv = await this.ports.conversations.byId(conversationId)
    if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    const peerId = conv.memberIds.includes(req.actorId) ? peerOf(conv, req.actorId) : undefined
    if (peerId === undefined) throw new ChatError('CHAT_NOT_MEMBER')
    await this.publishTyping(req.actorId, peerId, conversationId, req.typing)
    return {}
  }

  /**
   * Pushes a direct conversation's typing notice to the peer, unless the
   * peer blocked the typist: then it is dropped without a word. Typing is
   * fire-and-forget (clients don't show its failures), and an error here
   * would only tell the typist they are blocked at a keystroke's rate.
   */
  private async publishTyping (fromUserId: number, userId: number, conversationId: number, typing: boolean): Promise<void> {
    if (await this.ports.isBlocked(userId, fromUserId)) return
    this.ports.publish({ kind: 'typing', userId, conversationId, fromUserId, typing })
  }

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
    await this.marksSettled()
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
      this.directWith(req.actorId, req.peerId),
      this.ports.isBlocked(req.peerId, req.actorId),
    ])
    if (blocked) throw new ChatError('CHAT_BLOCKED')
    if (existing) return { conversationId: existing._id, created: false }
    if (!await this.ports.userExists(req.peerId)) throw new ChatError('CHAT_USER_NOT_FOUND')
    const { conv, created } = await this.ports.conversations.openDirect(req.actorId, req.peerId, this.ports.newId)
    if (created) {
      const event: ConversationCreatedEvent = { kind: 'conversation.created', userId: req.peerId, conversationId: conv._id, peerId: req.actorId }
      this.ports.publish(event)
    }
    return { conversationId: conv._id, created }
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
    await this.marksSettled()
    const limit = pageLimit(req.limit, TAKE_UNREAD_DEFAULT, TAKE_UNREAD_MAX)
    const { conversations, messages } = this.ports
    const { conv, marks, taken, remaining } = await this.ports.locks.withLock(readMarkLockKey(req.actorId, req.conversationId), async () => {
      const { conv, marks } = await this.memberOf(req.actorId, req.conversationId)
      const docs = await messages.unreadOldestFirst(conv._id, req.actorId, readMark(marks), limit)
      if (docs.length === 0) return { conv, marks, taken: [] as Message[], remaining: 0 }
      // Oldest first, cut to the reply budget: the mark moves only past what is returned.
      const fitted = fitToBudget(docs.map(toMessage), jsonBytes, this.opts.replyBudgetBytes, false).items
      const upTo = (fitted.at(-1) as Message).seq
      await conversations.markRead(conv, req.actorId, upTo)
      const remaining = await this.unreadRefresh(req.actorId, conv._id)
      return { conv, marks, taken: fitted, remaining }
    })
    const last = taken.at(-1)
    if (last) {
      this.publishUnread(req.actorId, conv, remaining)
      if (last.seq > marks.lastReadSeq) {
        await this.sendReceipts(conv, req.actorId, marks.lastReadSeq, last.seq, last.id).catch((err: unknown) => {
          this.ports.logger.warn({ err, conversationId: conv._id }, 'read receipts failed')
        })
      }
    }
    return { messages: taken, remaining }
  }

  /** Unread counts of some of a user's conversations: one Redis read, a rebuild if the hash is missing. */
  private async unreadOf (userId: number, conversationIds: number[]): Promise<Map<number, number>> {
    if (conversationIds.length === 0) return new Map()
    try {
      return await this.ports.unread.peekMany(userId, conversationIds) ?? await this.ports.unread.all(userId)
    } catch (err) {
      this.ports.logger.warn({ err, userId }, 'unread cache unavailable; counting from MongoDB')
      return this.ports.unreadSource.countAll(userId)
    }
  }
}
