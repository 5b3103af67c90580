import { Commands } from '@chat/contracts'
import {
  CacheFallback, createIdGenerator, openDomainOutbox, publishJson, replyBudgetBytes,
  type DomainEventSettings, type Outbox, type ServiceDeps, type ServiceParts,
} from '@chat/runtime'
import { confirmMessageEvents, recoverCreated } from './domain-events.js'
import type { MessageDoc } from './message-doc.js'
import { ChatService, type ChatPorts } from './chat.js'
import { EventPublisher } from './events.js'
import { ConversationStore, type ConversationDoc, type MemberDoc } from './conversations.js'
import { FileStore, toFileInfo } from './files.js'
import { RedisLocks } from './locks.js'
import { MessageStore } from './messages.js'
import { RoomService } from './room-service.js'
import { RoomRoster } from './room-roster.js'
import { RoomStore } from './rooms.js'
import { MongoUnreadSource, UnreadCache } from './unread.js'
import { RoomVisits } from './visits.js'
import { DirectSender } from './send/direct.js'
import { SendState } from './send/state.js'
import { LastMessageAmendments } from './send/amendments.js'
import { SummaryWriter } from './send/summaries.js'
import { LoadShedder } from './send/load-shedder.js'

export interface MessageOptions {
  /** Longest message content in characters (MESSAGE_MAX_LENGTH). */
  maxLength: number
  /** PUBLIC_URL without trailing slashes: file URLs under it are ours. */
  publicUrl: string
  /** How long Redis remembers a client message id (SEND_DEDUPE_TTL_SECONDS). */
  dedupeTtlSeconds: number
  /** Largest upload in bytes (FILE_MAX_BYTES). */
  fileMaxBytes: number
  /** Oldest queued send's wait above which new sends get CHAT_BUSY (SEND_QUEUE_LIMIT_MS). */
  sendQueueLimitMs: number
  /** Sends held at once above which new ones get CHAT_BUSY (SEND_MAX_PENDING). */
  sendMaxPending: number
  /** How long a conversation summary may wait for more messages (SUMMARY_FLUSH_MS). */
  summaryFlushMs: number
  /** How often at most a conversation's summary is written (SUMMARY_EVERY_MS); default 5 s. */
  summaryEveryMs?: number
  /** The domain-event stream (EVENTS_*) and outbox (OUTBOX_*) settings; NATS_PREFIX names them. */
  domainEvents: DomainEventSettings
}

/**
 * A room seat whose holder is not a member is taken back after this long:
 * far beyond the milliseconds a join holds a seat before its membership
 * exists, so only seats left by a crashed join or leave qualify.
 */
const ORPHAN_SEAT_GRACE_MS = 60_000

/** Builds the message service's command handlers over its open connections. */
export async function buildMessageService (deps: ServiceDeps, opts: MessageOptions): Promise<ServiceParts> {
  const { nc, subjects } = deps
  const outbox = await messageOutbox(deps, opts.domainEvents)
  const conversations = new ConversationStore(deps.db, outbox)
  const messages = new MessageStore(deps.db, outbox)
  const files = new FileStore(deps.db, conversations, { maxBytes: opts.fileMaxBytes })
  const rooms = new RoomStore(deps.db, conversations, { orphanGraceMs: ORPHAN_SEAT_GRACE_MS, outbox })
  await Promise.all([conversations.init(), messages.init(), files.init(), rooms.init()])
  const ids = await createIdGenerator(deps.redis, deps.logger)
  const locks = new RedisLocks(deps.redis)
  const amendments = new LastMessageAmendments(deps.redis)
  const summaries = new SummaryWriter(conversations, messages, locks, deps.logger, { flushMs: opts.summaryFlushMs, everyMs: opts.summaryEveryMs, amendments })
  const unreadSource = new MongoUnreadSource(conversations, messages)
  const unread = new UnreadCache(deps.redis, unreadSource)
  const cacheFallback = new CacheFallback({ logger: deps.logger, registry: deps.registry })
  const state = new SendState(deps.redis, conversations, messages, { dedupeTtlSeconds: opts.dedupeTtlSeconds })
  const roster = new RoomRoster(deps.redis, (roomId) => conversations.memberIdsOf({ _id: roomId, kind: 'room', memberIds: [] }), cacheFallback)
  const events = new EventPublisher({
    user: (userId, event) => publishJson(nc, subjects.userEvent(userId, event.kind), event),
    room: (roomId, event) => publishJson(nc, subjects.roomEvent(roomId, event.kind), event),
  })
  const isBlocked = async (blockerId: number, blockedId: number) =>
    (await deps.client.call(Commands.contact.checkBlocked, { blockerId, blockedId })).blocked
  const direct = new DirectSender({
    redis: deps.redis, state, messages, unread, summaries, isBlocked, cacheFallback, newId: () => ids.next(), events, logger: deps.logger,
  })

  const ports: ChatPorts = {
    conversations,
    messages,
    files,
    rooms,
    unread,
    state,
    roster,
    direct,
    summaries,
    unreadSource,
    cacheFallback,
    locks,
    newId: () => ids.next(),
    async userExists (userId) {
      const { users } = await deps.client.call(Commands.auth.getNames, { ids: [userId] })
      return users.some((u) => u.id === userId)
    },
    async users (userIds) {
      return (await deps.client.call(Commands.auth.getNames, { ids: userIds })).users
    },
    isBlocked,
    events,
    async joinRoom (actorId, roomId) {
      await roomService.join({ actorId, roomId })
    },
    logger: deps.logger,
  }
  const shedder = new LoadShedder({
    maxPending: opts.sendMaxPending,
    queueLimitMs: opts.sendQueueLimitMs,
    queueAgeMs: () => direct.queueAgeMs(),
    registry: deps.registry,
  })
  const budget = replyBudgetBytes(nc)
  const chat = new ChatService(ports, { maxLength: opts.maxLength, publicUrl: opts.publicUrl, replyBudgetBytes: budget })
  const roomService = new RoomService(ports, new RoomVisits(deps.redis), { replyBudgetBytes: budget })

  return {
    close: async () => {
      await summaries.drain()
      await outbox.close()
      await ids.close()
    },
    checks: { ids: () => ids.worker !== undefined },
    handlers: {
      [Commands.message.send]: (req) => shedder.run(() => chat.send(req)),
      [Commands.message.history]: (req) => chat.history(req),
      [Commands.message.read]: (req) => chat.read(req),
      [Commands.message.clear]: (req) => chat.clear(req),
      [Commands.message.sync]: (req) => chat.sync(req),
      [Commands.message.unread]: (req) => chat.unreadCounts(req),
      [Commands.message.edit]: (req) => chat.edit(req),
      [Commands.message.delete]: (req) => chat.deleteMessage(req),
      [Commands.message.deleteConversation]: (req) => chat.deleteConversation(req),
      [Commands.message.typing]: (req) => chat.typing(req),
      [Commands.message.listConversations]: (req) => chat.listConversations(req),
      [Commands.message.openConversation]: (req) => chat.openConversation(req),
      [Commands.message.takeUnread]: (req) => chat.takeUnread(req),

      [Commands.message.roomCreate]: (req) => roomService.create(req),
      [Commands.message.roomGet]: (req) => roomService.get(req),
      [Commands.message.roomList]: (req) => roomService.list(req),
      [Commands.message.roomJoin]: (req) => roomService.join(req),
      [Commands.message.roomLeave]: (req) => roomService.leave(req),
      [Commands.message.roomDelete]: (req) => roomService.delete(req),
      [Commands.message.roomMembers]: (req) => roomService.members(req),
      [Commands.message.roomMemberships]: (req) => roomService.memberships(req),
      [Commands.message.roomEnter]: (req) => roomService.enter(req),
      [Commands.message.roomExit]: (req) => roomService.exit(req),

      [Commands.message.fileCreate]: async (req) => {
        const file = await files.create(ids.next(), req.actorId, req.name, req.contentType, req.size)
        return { fileId: file._id, chunkSize: file.chunkSize }
      },
      [Commands.message.fileChunkPut]: async (req) => {
        await files.putChunk(req.actorId, req.fileId, req.n, req.data)
        return {}
      },
      [Commands.message.fileCommit]: async (req) => ({ file: toFileInfo(await files.commit(req.actorId, req.fileId)) }),
      [Commands.message.fileOpen]: async (req) => ({ file: toFileInfo(await files.readable(req.actorId, req.fileId)) }),
      [Commands.message.fileChunkGet]: async (req) => ({ data: await files.getChunk(req.actorId, req.fileId, req.n) }),
    },
  }
}

/**
 * Creates or updates the stream of message events, and the outbox that
 * feeds it. Its entries stay in `outbox` (the collection it had before
 * other owners had outboxes), so entries left by an older replica are
 * still taken over.
 */
async function messageOutbox (deps: ServiceDeps, opts: MessageOptions['domainEvents']): Promise<Outbox> {
  const messages = deps.db.collection<MessageDoc>('messages')
  return await openDomainOutbox(deps, 'message', opts, (events) => confirmMessageEvents({
    messages,
    conversations: deps.db.collection<ConversationDoc>('conversations'),
    members: deps.db.collection<MemberDoc>('members'),
  }, events), {
    collection: 'outbox',
    recover: (writer, fromMs, after, limit) => recoverCreated(messages, writer, fromMs, after, limit),
  })
}
