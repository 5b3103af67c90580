import {
  ChatError, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, SYNC_DEFAULT_LIMIT,
  type ClearReply, type ClearRequest, type HistoryReply, type HistoryRequest, type Message,
  type MessageNewEvent, type MessagesClearedEvent, type ReadReply, type ReadRequest,
  type SendMessageReply, type SendMessageRequest, type SyncReply, type SyncRequest,
  type UnreadChangedEvent, type UnreadReply, type UnreadRequest,
} from '@chat/contracts'
import { isDuplicateKeyError, type Logger } from '@chat/runtime'
import { checkContent } from './content.js'
import { peerOf, type ConversationDoc, type ConversationStore, type Marks } from './conversations.js'
import type { FileStore } from './files.js'
import { dedupeKey } from './keys.js'
import { toMessage, type MessageDoc, type MessageStore } from './messages.js'
import { fitToBudget, historyPage, historyRange, pageLimit, syncPage, syncRange } from './paging.js'
import type { UnreadCache, UnreadSource } from './unread.js'

/** Events this service sends to users. */
export type ChatEvent = MessageNewEvent | UnreadChangedEvent | MessagesClearedEvent

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
  /** Delivers an event to `event.userId`. Fire-and-forget. */
  publish: (event: ChatEvent) => void
  logger: Logger
}

export interface ChatOptions {
  /** Longest content in characters. */
  maxLength: number
  /**
   * Largest reply payload in bytes: below NATS max_payload, which a history
   * page of long multi-byte messages could otherwise exceed.
   */
  replyBudgetBytes: number
}

/**
 * Tries at storing one message before giving up. Each collision means
 * another message was stored, so with N concurrent senders N tries suffice.
 */
const MAX_SEQ_ATTEMPTS = 32

/** JSON size of a message in a reply (UTF-8 bytes plus a separator). */
function messageBytes (m: Message): number {
  return Buffer.byteLength(JSON.stringify(m)) + 1
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

  private static exactlyOne (what: string, ...values: unknown[]): void {
    if (values.filter((v) => v !== undefined).length !== 1) throw new ChatError('CHAT_BAD_REQUEST', `exactly one of ${what} is required`)
  }

  // ------------------------------------------------------------------- send

  async send (req: SendMessageRequest): Promise<SendMessageReply> {
    const { conversations, messages, files } = this.ports
    ChatService.exactlyOne('peerId, conversationId', req.peerId, req.conversationId)
    const { fileId } = checkContent(req.kind, req.content, this.opts.maxLength)

    // A retried send returns what the first one stored and publishes nothing.
    if (req.clientMessageId !== undefined) {
      const stored = await messages.byDedupeKey(dedupeKey(req.actorId, req.clientMessageId, 0))
      if (stored) return { message: toMessage(stored), duplicate: true }
    }
    if (fileId !== undefined) await files.attachable(req.actorId, fileId)

    let conv: ConversationDoc
    if (req.peerId !== undefined) {
      const existing = await this.directWith(req.actorId, req.peerId)
      if (existing) {
        // Users are never deleted, so a peer once checked stays valid and
        // the common case costs no round trip to auth.
        conv = existing
      } else {
        if (!await this.ports.userExists(req.peerId)) throw new ChatError('CHAT_USER_NOT_FOUND')
        conv = await conversations.getOrCreateDirect(req.actorId, req.peerId, this.ports.newId)
      }
    } else {
      conv = (await this.memberOf(req.actorId, req.conversationId as number)).conv
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
    const stored = await this.insertNumbered(draft, req.clientMessageId !== undefined)
    if ('duplicate' in stored) return { message: toMessage(stored.duplicate), duplicate: true }
    const doc = stored.doc
    const message = toMessage(doc)
    // The message is stored: from here on nothing may fail the send, or the
    // client would retry and get `duplicate`, and nobody would be told.
    await this.afterStore(conv, doc, message, req.originConnectionId).catch((err: unknown) => {
      this.ports.logger.error({ err, messageId: id, conversationId: conv._id }, 'post-send bookkeeping failed')
    })
    return { message, duplicate: false }
  }

  /**
   * Stores a message under the next sequence number. The unique index on
   * {conversationId, seq} decides: the $inc counter proposes a number (on
   * MongoDB always a free one), and if it is taken anyway (a server without
   * atomic updates, like FerretDB v1, gave it out twice; or the counter was
   * restored from an old backup) the message takes the one after the highest
   * stored. A duplicate key that is our own dedupeKey means a concurrent retry
   * of this send was stored first: that one is the answer (our number, if
   * any, stays a gap).
   */
  private async insertNumbered (draft: Omit<MessageDoc, 'seq'>, hasClientId: boolean): Promise<{ doc: MessageDoc } | { duplicate: MessageDoc }> {
    const { conversations, messages } = this.ports
    let seq = await conversations.nextSeq(draft.conversationId, draft.createdAt)
    for (let attempt = 1; ; attempt++) {
      const doc: MessageDoc = { ...draft, seq }
      try {
        await messages.insert(doc)
        if (attempt > 1) {
          await conversations.raiseSeq(draft.conversationId, seq).catch((err: unknown) => {
            this.ports.logger.warn({ err, conversationId: draft.conversationId }, 'could not raise the seq counter')
          })
        }
        return { doc }
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err
        if (hasClientId) {
          const stored = await messages.byDedupeKey(draft.dedupeKey)
          if (stored) return { duplicate: stored }
        }
        if (attempt >= MAX_SEQ_ATTEMPTS) throw new ChatError('CHAT_UNAVAILABLE', 'could not assign a sequence number; try again', { cause: err })
        seq = Math.max(seq, await messages.latestSeq(draft.conversationId)) + 1
      }
    }
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
      conversations.setLastMessage(conv._id, {
        id: doc._id, seq: doc.seq, senderId: doc.senderId, kind: doc.kind, content: doc.content, createdAt: doc.createdAt,
      }).catch(log('lastMessage')),
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
      this.ports.publish(event)
    }
    others.forEach((userId, i) => {
      const count = counts[i]
      if (count !== undefined) this.publishUnread(userId, conv, count)
    })

    // Sending reads the conversation; recount only if the sender had unread
    // messages there (rare), so a send normally costs no count query.
    try {
      const before = await unread.peek(doc.senderId, conv._id)
      if (before !== undefined && before > 0) this.publishUnread(doc.senderId, conv, await unread.refresh(doc.senderId, conv._id))
    } catch (err) {
      log('sender unread')(err)
    }
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

    let beforeSeq: number | undefined
    if (req.beforeId !== undefined) {
      const before = await this.ports.messages.byId(req.beforeId)
      if (!before || before.conversationId !== conv._id) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      beforeSeq = before.seq
    }
    const range = historyRange({ clearedSeq: marks.clearedSeq, beforeSeq, limit })
    if (!range) return { conversationId: conv._id, messages: [], hasMore: false }
    const page = historyPage(await this.ports.messages.newestFirst(conv._id, range), limit)
    const fitted = fitToBudget(page.items.map(toMessage), messageBytes, this.opts.replyBudgetBytes, true)
    return { conversationId: conv._id, messages: fitted.items, hasMore: page.hasMore || fitted.truncated }
  }

  // ------------------------------------------------------------------- read

  async read (req: ReadRequest): Promise<ReadReply> {
    if (req.messageId === undefined) ChatService.exactlyOne('messageId, conversationId, peerId', req.conversationId, req.peerId)
    else if (req.conversationId !== undefined && req.peerId !== undefined) {
      throw new ChatError('CHAT_BAD_REQUEST', 'give conversationId or peerId, not both')
    }

    let conv: ConversationDoc | undefined
    if (req.peerId !== undefined) {
      const found = await this.directWith(req.actorId, req.peerId)
      if (!found) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      conv = found
    } else if (req.conversationId !== undefined) {
      conv = (await this.memberOf(req.actorId, req.conversationId)).conv
    }

    let upTo: number
    if (req.messageId !== undefined) {
      const message = await this.ports.messages.byId(req.messageId)
      if (!message) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      // Also given a conversation: it must be the message's.
      if (conv && conv._id !== message.conversationId) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
      conv ??= (await this.memberOf(req.actorId, message.conversationId)).conv
      upTo = message.seq
    } else {
      upTo = await this.latestSeq(conv as ConversationDoc)
    }
    const target = conv as ConversationDoc

    // $max: a late or repeated read never moves the mark back.
    await this.ports.conversations.markRead(target, req.actorId, upTo)
    const count = await this.unreadRefresh(req.actorId, target._id)
    this.publishUnread(req.actorId, target, count)
    return { conversationId: target._id, unread: count }
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
    const conv = await this.directWith(req.actorId, req.peerId)
    if (!conv) return { conversationId: null }
    // Messages stored after this point arrived after the clear and stay.
    await this.ports.conversations.clearUpTo(conv, req.actorId, await this.latestSeq(conv))
    const count = await this.unreadRefresh(req.actorId, conv._id)
    const cleared: MessagesClearedEvent = { kind: 'messages.cleared', userId: req.actorId, conversationId: conv._id, peerId: req.peerId }
    // The asking socket has its answer; the event is for the user's other sockets.
    if (req.originConnectionId !== undefined) cleared.originConnectionId = req.originConnectionId
    this.ports.publish(cleared)
    this.publishUnread(req.actorId, conv, count)
    return { conversationId: conv._id }
  }

  // ------------------------------------------------------------------- sync

  async sync (req: SyncRequest): Promise<SyncReply> {
    const limit = pageLimit(req.limit, SYNC_DEFAULT_LIMIT, 1000)
    const ids = [...new Set(req.cursors.map((c) => c.conversationId))]
    const marks = await this.ports.conversations.marksMany(ids, req.actorId)
    if (ids.some((id) => !marks.has(id))) throw new ChatError('CHAT_NOT_MEMBER')

    const pages = await Promise.all(req.cursors.map(async (c) => {
      const m = marks.get(c.conversationId) as Marks
      const range = syncRange({ afterSeq: c.afterSeq, clearedSeq: m.clearedSeq, limit })
      const page = syncPage(await this.ports.messages.oldestFirst(c.conversationId, range), limit)
      return { conversationId: c.conversationId, messages: page.items.map(toMessage), hasMore: page.hasMore }
    }))

    // One reply must fit in a NATS message: past the budget, conversations
    // are cut short and marked hasMore; the client syncs again from there.
    let budget = this.opts.replyBudgetBytes
    return {
      conversations: pages.map((p) => {
        const fitted = fitToBudget(p.messages, messageBytes, budget, false)
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
      conversations: ids.map((conversationId) => {
        const peerId = marks.get(conversationId)?.peerId
        const count = counts.get(conversationId) as number
        return peerId === undefined ? { conversationId, count } : { conversationId, peerId, count }
      }),
    }
  }
}
