import type { Redis } from 'ioredis'
import { MongoBulkWriteError } from 'mongodb'
import { blockCacheKey, ChatError, type SendMessageReply, type SendMessageRequest, type UnreadChangedEvent } from '@chat/contracts'
import { Batcher, LuaScript, type CacheFallback, type Logger } from '@chat/runtime'
import { carriedUnread, type ConversationHappening, type EventPublisher } from '../events.js'
import { dedupeKey, directKey } from '../keys.js'
import { toMessage, type MessageDoc, type MessageStore } from '../messages.js'
import { UNREAD_SENTINEL, unreadKey, type UnreadCache } from '../unread.js'
import { isDedupeCollision, storeNumbered, storedUnderClaim } from './numbering.js'
import { convStateKey, type Admission, type SendState } from './state.js'
import type { SummaryWriter } from './summaries.js'

/** Most sends stored by one insertMany. */
const MAX_BATCH = 256

/** Room ids, or pairs' conversation ids, remembered; beyond that a memory starts again. */
const KNOWN_ROOMS_MAX = 100_000

/**
 * After a batch is stored, in one round trip: per message, whether its
 * conversation was deleted meanwhile (then it is withdrawn, see
 * SendState.tombstone), the recipient's unread count raised, and the
 * sender's count there (sending reads the conversation, so a count above
 * zero is recounted). KEYS per message: conversation state, recipient's
 * unread hash, sender's unread hash; ARGV per message: the conversation id.
 * Counts are -1 where a user's unread hash is missing (rebuilt apart).
 * The sender's count there drops to zero (what it was is returned):
 * everything before their message is read; a peer's message stored at the
 * same moment is put back by the recount that follows.
 */
const AFTER_STORE = new LuaScript(`
local out = {}
for j = 1, #ARGV do
  local cid = ARGV[j]
  if redis.call('HEXISTS', KEYS[3 * j - 2], 'x') == 1 then out[j] = {1, -1, -1}
  else
    local r = -1
    if redis.call('HEXISTS', KEYS[3 * j - 1], '${UNREAD_SENTINEL}') == 1 then r = redis.call('HINCRBY', KEYS[3 * j - 1], cid, 1) end
    local s = -1
    if redis.call('HEXISTS', KEYS[3 * j], '${UNREAD_SENTINEL}') == 1 then
      s = tonumber(redis.call('HGET', KEYS[3 * j], cid) or '0')
      if s > 0 then redis.call('HDEL', KEYS[3 * j], cid) end
    end
    out[j] = {0, r, s}
  end
end
return out`)

export interface DirectSendPorts {
  redis: Redis
  state: SendState
  messages: MessageStore
  unread: UnreadCache
  summaries: SummaryWriter
  isBlocked: (blockerId: number, blockedId: number) => Promise<boolean>
  /** Turns a failed read of the contact service's block cache into "nothing cached" (counted, logged). */
  cacheFallback: CacheFallback
  newId: () => number
  events: EventPublisher
  logger: Logger
}

interface Item {
  req: SendMessageRequest
  conversationId: number
  /** Named by the peer (not the conversation): a deleted one means "start a new one". */
  byPeer: boolean
  id: number
}

/** A send this path does not take: a room, or a direct conversation still to be created. */
export const NOT_HERE = null

/**
 * Direct messages into existing conversations, the hot path: no MongoDB
 * read, one Redis round trip to admit a whole batch (membership, duplicate,
 * sequence number), one insertMany to store it, one Redis round trip for
 * the unread counts, then the events. Summaries follow off the
 * acknowledgement path (SummaryWriter). A send is answered only once its
 * batch is stored; a failure fails only its own send.
 */
export class DirectSender {
  private readonly batcher = new Batcher<Item, SendMessageReply | null>((items) => this.flush(items), MAX_BATCH)
  /** Conversations admission named rooms: a room never becomes direct, so their sends skip admission. */
  private readonly rooms = new Set<number>()
  /**
   * Two users' direct conversation, as last found: saves a Redis read per
   * send. A pair's id only changes when its conversation is deleted, and
   * admission then refuses the old one (a tombstone), which drops it here.
   */
  private readonly directIds = new Map<string, number>()

  constructor (private readonly ports: DirectSendPorts) {}

  /** How long the oldest send waiting to be stored has waited (ms). */
  queueAgeMs (): number {
    return this.batcher.oldestWaitMs()
  }

  /**
   * Sends a validated message (no file reference, no room join), or answers
   * NOT_HERE for the general path to take it.
   */
  async send (req: SendMessageRequest): Promise<SendMessageReply | null> {
    let conversationId = req.conversationId
    if (req.peerId !== undefined) {
      if (req.peerId === req.actorId) throw new ChatError('CHAT_SELF_TARGET')
      const pair = directKey(req.actorId, req.peerId)
      let id = this.directIds.get(pair)
      if (id === undefined) {
        const found = await this.ports.state.directId(req.actorId, req.peerId)
        if (found === null) return NOT_HERE
        if (this.directIds.size >= KNOWN_ROOMS_MAX) this.directIds.clear()
        this.directIds.set(pair, found)
        id = found
      }
      conversationId = id
    } else if (this.rooms.has(conversationId as number)) {
      return NOT_HERE
    }
    return this.batcher.submit({ req, conversationId: conversationId as number, byPeer: req.peerId !== undefined, id: this.ports.newId() })
  }

  private async flush (items: Item[]): Promise<Array<SendMessageReply | null | Error>> {
    const { state } = this.ports
    const out: Array<SendMessageReply | null | Error | undefined> = new Array(items.length)
    const admissions = await state.admit(items.map((it) => {
      const a = { conversationId: it.conversationId, actorId: it.req.actorId, messageId: it.id }
      return it.req.clientMessageId === undefined ? a : { ...a, clientMessageId: it.req.clientMessageId }
    }))

    const now = new Date()
    const admitted: Array<{ i: number, doc: MessageDoc, peerId: number }> = []
    await Promise.all(items.map(async (it, i) => {
      const a = admissions[i] as Admission
      if (a.kind === 'refused') {
        if (a.reason === 'room') this.rememberRoom(it.conversationId)
        // Deleted (or not a conversation of the pair): found again next time.
        if (it.byPeer && it.req.peerId !== undefined) this.directIds.delete(directKey(it.req.actorId, it.req.peerId))
        out[i] = refusal(a.reason, it.byPeer)
        return
      }
      if (a.kind === 'duplicate') {
        out[i] = await this.duplicateOf(it, a.firstMessageId)
        return
      }
      const peerId = a.memberIds.find((u) => u !== it.req.actorId) as number
      admitted.push({ i, doc: this.draft(it, a.seq, peerId, now), peerId })
    }))

    // Blocks: the contact service's Redis cache for the whole batch, the service itself on a miss.
    const blocked = await this.blockedPairs(admitted.map((a) => [a.peerId, a.doc.senderId] as const))
    const toStore = admitted.filter((a) => {
      if (!blocked.has(`${a.peerId}:${a.doc.senderId}`)) return true
      out[a.i] = new ChatError('CHAT_BLOCKED')
      void this.release(items[a.i] as Item)
      return false
    })

    const stored = await this.store(toStore.map((a) => a.doc), items, toStore.map((a) => a.i), out)
    await this.afterStore(stored, items, out)
    return out.map((r) => r === undefined ? new ChatError('CHAT_UNAVAILABLE') : r)
  }

  private rememberRoom (conversationId: number): void {
    if (this.rooms.size >= KNOWN_ROOMS_MAX) this.rooms.clear()
    this.rooms.add(conversationId)
  }

  private draft (it: Item, seq: number, peerId: number, now: Date): MessageDoc {
    const { req } = it
    const doc: MessageDoc = {
      _id: it.id,
      conversationId: it.conversationId,
      seq,
      senderId: req.actorId,
      recipientId: peerId,
      kind: req.kind,
      content: req.content,
      createdAt: now,
      dedupeKey: dedupeKey(req.actorId, req.clientMessageId, it.id),
    }
    if (req.clientMessageId !== undefined) doc.clientMessageId = req.clientMessageId
    if (req.clientTime !== undefined) doc.clientTime = req.clientTime
    return doc
  }

  /**
   * A client id seen before: the message first stored under it. One not in
   * MongoDB (its send failed, or is still being stored elsewhere) is
   * forgotten and this send goes the general way, which MongoDB's unique
   * index settles.
   */
  private async duplicateOf (it: Item, firstMessageId: number): Promise<SendMessageReply | null> {
    const first = await storedUnderClaim(this.ports, it.req.actorId, it.req.clientMessageId as string, firstMessageId)
    return first ? { message: toMessage(first), duplicate: true } : NOT_HERE
  }

  /**
   * The pairs (blocker, blocked) of a batch that are blocked: the contact
   * service's cached answers for all of them in one round trip, and only
   * the pairs it has no answer cached for asked of it over NATS.
   */
  private async blockedPairs (pairs: ReadonlyArray<readonly [number, number]>): Promise<Set<string>> {
    const unique = [...new Set(pairs.map(([a, b]) => `${a}:${b}`))]
    if (unique.length === 0) return new Set()
    const split = unique.map((key) => key.split(':').map(Number) as [number, number])
    // Redis failing: nothing is cached, so the contact service (the truth) is asked for every pair.
    const cached = await this.ports.cacheFallback.read<Array<string | null>>(
      'blocks',
      () => this.ports.redis.mget(split.map(([blocker, blocked]) => blockCacheKey(blocker, blocked))),
      async () => unique.map(() => null)
    )
    const answers = await Promise.all(split.map(async ([blocker, blocked], k) => {
      const hit = cached[k]
      if (hit === '1' || hit === '0') return hit === '1'
      return await this.ports.isBlocked(blocker, blocked)
    }))
    return new Set(unique.filter((_, k) => answers[k]))
  }

  /** Stores the batch with one unordered insertMany; sends whose insert failed are settled one by one. */
  private async store (docs: MessageDoc[], items: Item[], index: number[], out: Array<unknown>): Promise<Array<{ i: number, doc: MessageDoc }>> {
    if (docs.length === 0) return []
    const failed = new Map<number, unknown>()
    try {
      await this.ports.messages.insertMany(docs)
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err
      const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]
      for (const we of writeErrors) failed.set(we.index, we)
    }
    const stored: Array<{ i: number, doc: MessageDoc }> = []
    await Promise.all(docs.map(async (doc, k) => {
      const i = index[k] as number
      const err = failed.get(k)
      if (err === undefined) {
        stored.push({ i, doc })
        return
      }
      const it = items[i] as Item
      try {
        const code = (err as { code?: number }).code
        if (code !== 11000) throw err
        if (isDedupeCollision(err)) {
          const first = await this.ports.messages.byDedupeKey(doc.dedupeKey)
          out[i] = first ? { message: toMessage(first), duplicate: true } : new ChatError('CHAT_UNAVAILABLE')
          return
        }
        // The number was taken: store it under the next free one.
        const { seq: _taken, ...draft } = doc
        const r = await storeNumbered(this.ports, draft, doc.clientMessageId !== undefined, doc.seq + 1)
        if (r === 'gone') out[i] = new ChatError('CHAT_CONVERSATION_NOT_FOUND')
        else if ('duplicate' in r) out[i] = { message: toMessage(r.duplicate), duplicate: true }
        else stored.push({ i, doc: r.doc })
      } catch (e) {
        this.ports.logger.error({ err: e, conversationId: doc.conversationId }, 'storing a message failed')
        out[i] = new ChatError('CHAT_UNAVAILABLE', 'the message could not be stored; try again')
        await this.release(it)
      }
    }))
    return stored
  }

  private async release (it: Item): Promise<void> {
    if (it.req.clientMessageId === undefined) return
    await this.ports.state.release(it.req.actorId, it.req.clientMessageId, it.id).catch((err: unknown) => {
      this.ports.logger.warn({ err }, 'could not release a client message id')
    })
  }

  /** Withdraws messages of conversations deleted meanwhile; counts, answers, tells, and queues the summaries. */
  private async afterStore (stored: Array<{ i: number, doc: MessageDoc }>, items: Item[], out: Array<unknown>): Promise<void> {
    if (stored.length === 0) return
    const { redis, unread, summaries, logger } = this.ports
    const keys: string[] = []
    for (const { doc } of stored) keys.push(convStateKey(doc.conversationId), unreadKey(doc.recipientId as number), unreadKey(doc.senderId))
    let rows: Array<[number, number, number]>
    try {
      rows = await AFTER_STORE.run(redis, keys, stored.map(({ doc }) => String(doc.conversationId))) as Array<[number, number, number]>
    } catch (err) {
      // The messages are stored: answer them; counts are rebuilt where they may have missed this.
      logger.error({ err }, 'after send: Redis failed; dropping the unread caches involved')
      rows = stored.map(() => [0, -1, -1])
      await unread.forgetMany([...new Set(stored.flatMap(({ doc }) => [doc.recipientId as number, doc.senderId]))]).catch(() => undefined)
    }
    await Promise.all(stored.map(async ({ i, doc }, k) => {
      const [gone, recipientCount, senderCount] = rows[k] as [number, number, number]
      if (gone === 1) {
        await this.ports.messages.deleteOwn(doc).catch(() => undefined)
        out[i] = new ChatError('CHAT_CONVERSATION_NOT_FOUND')
        return
      }
      const message = toMessage(doc)
      out[i] = { message, duplicate: false }
      const recipientId = doc.recipientId as number
      // Queued first: a recount below waits for the sender's read mark it carries.
      summaries.add({
        conversationId: doc.conversationId,
        last: { id: doc._id, seq: doc.seq, senderId: doc.senderId, kind: doc.kind, content: doc.content, createdAt: doc.createdAt },
        memberIds: [doc.senderId, recipientId],
      })
      const origin = (items[i] as Item).req.originConnectionId
      const event: ConversationHappening = { kind: 'message.new', message }
      if (origin !== undefined) event.originConnectionId = origin
      // The recipient's new count rides on the message: one event per recipient.
      const carried = carriedUnread([recipientId], [recipientCount])
      if (carried) event.unread = carried
      this.ports.events.toConversation({ _id: doc.conversationId, kind: 'direct', memberIds: [doc.senderId, recipientId] }, event)
      if (recipientCount < 0) this.recount(recipientId, doc.conversationId, doc.senderId)
      // Sending read the conversation: the sender hears so now, and again
      // only if the exact recount finds a message that arrived meanwhile. A
      // missing count (-1) is recounted too: a rebuild already under way may
      // predate this message's read mark.
      if (senderCount > 0) this.publishUnread(doc.senderId, doc.conversationId, recipientId, 0)
      if (senderCount !== 0) this.recount(doc.senderId, doc.conversationId, recipientId, 0)
    }))
  }

  /**
   * Recounts one user's unread messages of a conversation from MongoDB, off
   * the answer path, then tells them unless the count is `told` already.
   */
  private recount (userId: number, conversationId: number, peerId: number, told?: number): void {
    // After the summaries: the sender's read mark this message moved is counted.
    const done: Promise<void> = this.ports.summaries.settled().then(() => this.ports.unread.recount(userId, conversationId)).then(
      (count) => { if (count !== told) this.publishUnread(userId, conversationId, peerId, count) },
      (err: unknown) => this.ports.logger.warn({ err, userId, conversationId }, 'unread recount failed')
    ).finally(() => this.recounting.delete(done))
    this.recounting.add(done)
  }

  private readonly recounting = new Set<Promise<void>>()

  /**
   * Resolves once the recounts started so far are done: a count read after
   * this never shows what an earlier rebuild stored before a send zeroed it.
   */
  async recountsSettled (): Promise<void> {
    await Promise.all([...this.recounting])
  }

  private publishUnread (userId: number, conversationId: number, peerId: number, count: number): void {
    const event: UnreadChangedEvent = { kind: 'unread.changed', userId, conversationId, peerId, count }
    this.ports.events.toUser(event)
  }
}

function refusal (reason: 'gone' | 'member' | 'missing' | 'room', byPeer: boolean): ChatError | null {
  switch (reason) {
    case 'room': return NOT_HERE
    // Named by the peer: the pair's conversation was deleted (or never
    // stored); the general path starts a new one.
    case 'gone':
    case 'missing': return byPeer ? NOT_HERE : new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    case 'member': return new ChatError('CHAT_NOT_MEMBER')
  }
}
