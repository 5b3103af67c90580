/**
 * The send command and everything a stored message causes afterwards: the
 * conversation's last and first message, read marks, unread counts and the
 * events that tell the members.
 */
import {
  ChatError,
  type Message, type SendMessageReply, type SendMessageRequest,
} from '@chat/contracts'
import { checkContent, type ContentRules } from '../content.js'
import { peerOf, type ConversationDoc } from '../conversations.js'
import { carriedUnread, type ConversationHappening } from '../events.js'
import { dedupeKey } from '../keys.js'
import { toMessage, type MessageDoc } from '../messages.js'
import { storeNumbered, storedUnderClaim } from '../send/numbering.js'
import {
  directWith, exactlyOne, lastMessageOf, memberOf, publishUnread,
  type BackgroundWork, type ChatPorts,
} from './context.js'

/** The ports sending uses. */
export type SendingPorts = Pick<ChatPorts,
  | 'conversations' | 'messages' | 'files' | 'state' | 'direct' | 'summaries' | 'unread'
  | 'roster' | 'newId' | 'userExists' | 'isBlocked' | 'joinRoom' | 'events' | 'logger'>

/**
 * message.send. Ordering rule: MongoDB (the truth) is written first; Redis
 * and events follow only once the data they describe is stored.
 */
/** A room a send goes to, known from Redis alone (its state and roster), without its document. */
interface RoomTarget {
  _id: number
  kind: 'room'
  /** Rooms keep their members apart (the roster); never any here. */
  memberIds: number[]
}

/** Where a send goes: a direct conversation's document, or a room. */
type SendTarget = ConversationDoc | RoomTarget

function isStored (target: SendTarget): target is ConversationDoc {
  return target.kind === 'direct'
}

export class Sending {
  /** `background` is the ChatService's one set: its reads wait for what a room send leaves running. */
  constructor (
    private readonly ports: SendingPorts,
    private readonly opts: ContentRules,
    private readonly background: BackgroundWork
  ) {}

  /**
   * Stores a message in a direct conversation (made on the first send) or
   * a room, then tells the members; a retried send answers what was stored
   * and tells the members again (announceAgain).
   */
  async send (req: SendMessageRequest): Promise<SendMessageReply> {
    const reply = await this.sendOnce(req)
    if (reply.duplicate) {
      await this.announceAgain(reply.message, req.originConnectionId).catch((err: unknown) => {
        this.ports.logger.warn({ err, messageId: reply.message.id }, 'announcing a retried message again failed')
      })
    }
    return reply
  }

  /**
   * A retry found its message stored: the replica that stored it may have
   * died before telling anyone (its sender's request timed out, which is
   * why there is a retry), and then nothing else would ever push it to a
   * recipient who stays online. So every retry announces the message again,
   * with the recipient's current count; gateways drop a message their user
   * was handed already (gateway recent-messages.ts), so it is shown once.
   */
  private async announceAgain (message: Message, originConnectionId: string | undefined): Promise<void> {
    const event: ConversationHappening = { kind: 'message.new', message }
    if (originConnectionId !== undefined) event.originConnectionId = originConnectionId
    const recipientId = message.recipientId
    if (recipientId === undefined) {
      this.ports.events.toConversation({ _id: message.conversationId, kind: 'room', memberIds: [] }, event)
      return
    }
    const carried = carriedUnread([recipientId], [await this.ports.unread.peek(recipientId, message.conversationId)])
    if (carried) event.unread = carried
    this.ports.events.toConversation({ _id: message.conversationId, kind: 'direct', memberIds: [message.senderId, recipientId] }, event)
  }

  private async sendOnce (req: SendMessageRequest): Promise<SendMessageReply> {
    exactlyOne('peerId, conversationId', req.peerId, req.conversationId)
    const { fileId } = checkContent(req.kind, req.content, this.opts)
    // The hot path: a direct conversation that exists, no file, no join.
    if (fileId === undefined && req.joinRoom !== true) {
      const fast = await this.ports.direct.send(req)
      if (fast !== null) return fast
    }

    // A retried send returns what the first one stored (send announces it again).
    const id = this.ports.newId()
    if (req.clientMessageId !== undefined) {
      const stored = await this.storedBefore(req.actorId, req.clientMessageId, id)
      if (stored) return { message: toMessage(stored), duplicate: true }
    }
    try {
      return await this.sendNew(req, id, fileId)
    } catch (err) {
      // Nothing stored under this client id: a retry must not be sent looking for it.
      if (req.clientMessageId !== undefined) await this.ports.state.release(req.actorId, req.clientMessageId, id).catch(() => undefined)
      throw err
    }
  }

  /**
   * The conversation a send by id goes to. A room is checked in Redis
   * alone: its state says room (or deleted), its roster the sender's
   * membership, both rebuilt from MongoDB when missing, so a busy room's
   * sends read no database. A direct conversation is read from MongoDB
   * (only first messages and file messages come this way).
   */
  private async byId (actorId: number, conversationId: number): Promise<SendTarget> {
    const kind = await this.ports.state.kindOf(conversationId)
    if (kind === 'gone') throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    if (kind === 'room') {
      if (!await this.ports.roster.has(conversationId, actorId)) throw new ChatError('CHAT_NOT_MEMBER')
      return { _id: conversationId, kind: 'room', memberIds: [] }
    }
    const { conv } = await memberOf(this.ports, actorId, conversationId)
    const peerId = peerOf(conv, actorId)
    if (peerId !== undefined && await this.ports.isBlocked(peerId, actorId)) throw new ChatError('CHAT_BLOCKED')
    return conv
  }

  /**
   * The message a client id was first stored under, if any: Redis says
   * which send claimed it (no history read in the common case, a first
   * send); a claim whose message is not stored (its send failed, or is
   * still being stored elsewhere) is dropped and MongoDB asked, whose
   * unique dedupeKey settles any race in the end.
   */
  private async storedBefore (actorId: number, clientMessageId: string, id: number): Promise<MessageDoc | null> {
    const { state, messages } = this.ports
    const first = await state.claimClientId(actorId, clientMessageId, id)
    if (first === null) return null
    return await storedUnderClaim(this.ports, actorId, clientMessageId, first) ?? await messages.byDedupeKey(dedupeKey(actorId, clientMessageId, 0))
  }

  private async sendNew (req: SendMessageRequest, id: number, fileId: number | undefined): Promise<SendMessageReply> {
    const { conversations, messages, files } = this.ports
    if (fileId !== undefined) await files.attachable(req.actorId, fileId)

    let conv: SendTarget
    if (req.peerId !== undefined) {
      if (req.peerId === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
      // Both lookups at once: a blocked sender creates nothing, not even an empty conversation.
      const [existing, blocked] = await Promise.all([
        directWith(this.ports, req.actorId, req.peerId),
        this.ports.isBlocked(req.peerId, req.actorId),
      ])
      if (blocked) throw new ChatError('CHAT_BLOCKED')
      if (existing) {
        // Users are never deleted, so a peer once checked stays valid and
        // the common case costs no round trip to auth.
        conv = existing
      } else {
        if (!await this.ports.userExists(req.peerId)) throw new ChatError('CHAT_USER_NOT_FOUND')
        const opened = await conversations.openDirect(req.actorId, req.peerId, this.ports.newId)
        conv = opened.conv
        if (opened.created) await this.ports.state.seedCreated(conv)
      }
    } else {
      if (req.joinRoom === true) await this.ports.joinRoom(req.actorId, req.conversationId as number)
      conv = await this.byId(req.actorId, req.conversationId as number)
    }

    // Linked before the message exists, so every recipient who sees the
    // message can already open the file.
    if (fileId !== undefined) await files.linkConversation(fileId, conv._id)

    const now = new Date()
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
    // A deletion marks the conversation in Redis first (send/state.ts), read
    // here instead of its document.
    const gone = (await this.ports.state.goneAmong([conv._id])).has(conv._id)
    if (gone) {
      await messages.deleteOwn(doc)
      throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    }
    const message = toMessage(doc)
    // The message is stored: from here on nothing may fail the send, or the
    // client would retry and get `duplicate`, and nobody would be told.
    const after = isStored(conv)
      ? this.afterStore(conv, doc, message, req.originConnectionId)
      : this.afterStoreRoom(conv, doc, message, req.originConnectionId)
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

    const event: ConversationHappening = { kind: 'message.new', message }
    if (originConnectionId !== undefined) event.originConnectionId = originConnectionId
    // The recipients' new counts ride on the message: one event per recipient.
    const carried = carriedUnread(others, counts)
    if (carried) event.unread = carried
    this.ports.events.toConversation({ _id: conv._id, kind: 'direct', memberIds }, event)

    await this.settleSenderUnread(conv, doc.senderId).catch(log('sender unread'))
  }

  /**
   * Sending reads the conversation; recount only if the sender had unread
   * messages there (rare), so a send normally costs no count query.
   */
  private async settleSenderUnread (conv: SendTarget, senderId: number, markPending = false): Promise<void> {
    const before = await this.ports.unread.peek(senderId, conv._id)
    if (before === undefined || before === 0) return
    // A recount must see the read mark this send moved.
    if (markPending) await this.ports.summaries.settled()
    publishUnread(this.ports, senderId, conv, await this.ports.unread.refresh(senderId, conv._id))
  }

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
  private async afterStoreRoom (conv: RoomTarget, doc: MessageDoc, message: Message, originConnectionId: string | undefined): Promise<void> {
    const { roster, unread, summaries, logger } = this.ports
    const log = (what: string) => (err: unknown) => {
      logger.error({ err, messageId: doc._id, conversationId: conv._id }, `after room send: ${what} failed`)
    }
    summaries.add({ conversationId: conv._id, last: lastMessageOf(doc), memberIds: [], room: true })
    const memberIds = await roster.memberIds(conv._id)
    const others = memberIds.filter((uid) => uid !== doc.senderId)

    let counts = new Map<number, number | undefined>()
    try {
      counts = await unread.incrementMany(others, conv._id)
    } catch (err) {
      log('unread increment')(err)
      await unread.forgetMany(others).catch(() => undefined)
    }

    const event: ConversationHappening = { kind: 'message.new', message }
    if (originConnectionId !== undefined) event.originConnectionId = originConnectionId
    // The members' counts ride on the one room event: no event per member.
    const carried = carriedUnread(others, others.map((userId) => counts.get(userId)))
    if (carried) event.unread = carried
    this.ports.events.toConversation(conv, event)

    // The sender's count is recounted once their read mark is written, off the answer path.
    this.background.inBackground(this.settleSenderUnread(conv, doc.senderId, true).catch(log('sender unread')))
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
}
