/**
 * What the message service's command families share: the ports they are
 * built over, the options, the events they publish, and the few helpers
 * more than one family needs. Each helper takes only the ports it uses.
 */
import { ChatError, type UnreadChangedEvent, type UserName } from '@chat/contracts'
import type { CacheFallback, Logger } from '@chat/runtime'
import type { ContentRules } from '../content.js'
import { peerOf, type ConversationDoc, type ConversationStore, type LastMessage, type Marks } from '../conversations.js'
import type { EventPublisher } from '../events.js'
import type { FileStore } from '../files.js'
import type { Locks } from '../locks.js'
import type { MessageDoc, MessageStore } from '../messages.js'
import type { RoomRoster } from '../room-roster.js'
import type { RoomStore } from '../rooms.js'
import type { DirectSender } from '../send/direct.js'
import type { SendState } from '../send/state.js'
import type { SummaryWriter } from '../send/summaries.js'
import type { UnreadCache, UnreadSource } from '../unread.js'

/** What the chat logic needs from the outside world; app.ts wires NATS in, tests fakes. */
export interface ChatPorts {
  conversations: ConversationStore
  messages: MessageStore
  files: FileStore
  unread: UnreadCache
  /** MongoDB counts, the fallback when Redis cannot answer. */
  unreadSource: UnreadSource
  /** What a Redis cache read that fails turns into (runtime cache-fallback.ts): the truth's answer, counted and logged. */
  cacheFallback: CacheFallback
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
  /** The Redis side of sending: sequence numbers, tombstones (send/state.ts). */
  state: SendState
  /** Rooms' member ids, cached in Redis (room-roster.ts). */
  roster: RoomRoster
  /** The hot path of direct messages (send/direct.ts). */
  direct: DirectSender
  /** Conversation summaries of direct and room messages, written after the answer (send/summaries.ts). */
  summaries: SummaryWriter
  /** The live events, on the subjects the gateways listen to (events.ts). */
  events: EventPublisher
  /** Joins a room if not a member yet (RoomService.join), for sends that ask to. */
  joinRoom: (actorId: number, roomId: number) => Promise<void>
  logger: Logger
}

/** How the chat commands are configured: the content rules and the reply size. */
export interface ChatOptions extends ContentRules {
  /**
   * Largest reply payload in bytes: below NATS max_payload, which a history
   * page of long multi-byte messages could otherwise exceed.
   */
  replyBudgetBytes: number
}

/** Refuses a request that names none or several of the alternatives in `what`. */
export function exactlyOne (what: string, ...values: unknown[]): void {
  if (values.filter((v) => v !== undefined).length !== 1) throw new ChatError('CHAT_BAD_REQUEST', `exactly one of ${what} is required`)
}

/** The stored summary of a message, for conversation lists. */
export function lastMessageOf (doc: MessageDoc): LastMessage {
  return { id: doc._id, seq: doc.seq, senderId: doc.senderId, kind: doc.kind, content: doc.content, createdAt: doc.createdAt }
}

// ---------------------------------------------------- conversation access

/** The direct conversation with `peerId`, or null when they never talked. */
export async function directWith (ports: Pick<ChatPorts, 'conversations'>, actorId: number, peerId: number): Promise<ConversationDoc | null> {
  if (peerId === actorId) throw new ChatError('CHAT_SELF_TARGET')
  return ports.conversations.byDirectKey(actorId, peerId)
}

/** A conversation the actor is a member of, with the actor's marks. */
export async function memberOf (
  ports: Pick<ChatPorts, 'conversations'>, actorId: number, conversationId: number
): Promise<{ conv: ConversationDoc, marks: Marks }> {
  const conv = await ports.conversations.byId(conversationId)
  if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
  const marks = await ports.conversations.marksOf(conv, actorId)
  if (!marks) throw new ChatError('CHAT_NOT_MEMBER')
  return { conv, marks }
}

// ----------------------------------------------------------------- unread

/** Tells a user their unread count in a conversation changed. */
export function publishUnread (ports: Pick<ChatPorts, 'events'>, userId: number, conv: Pick<ConversationDoc, '_id' | 'kind' | 'memberIds'>, count: number): void {
  const event: UnreadChangedEvent = { kind: 'unread.changed', userId, conversationId: conv._id, count }
  const peerId = peerOf(conv, userId)
  if (peerId !== undefined) event.peerId = peerId
  ports.events.toUser(event)
}

/** The recount after a mark moved; MongoDB alone answers if Redis cannot. */
export async function unreadRefresh (
  ports: Pick<ChatPorts, 'unread' | 'unreadSource' | 'cacheFallback'>, userId: number, conversationId: number
): Promise<number> {
  return ports.cacheFallback.read(
    'unread',
    () => ports.unread.refresh(userId, conversationId),
    () => ports.unreadSource.countOne(userId, conversationId),
    { userId, conversationId }
  )
}

// ------------------------------------------------------- background work

/**
 * Work a send leaves running after its answer, which reads on this replica
 * must wait for. One instance per ChatService, shared by every family: the
 * sending family adds to it and the reading and listing families wait on it.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>()

  constructor (private readonly ports: Pick<ChatPorts, 'summaries' | 'direct'>) {}

  /** Work after an answer that reads on this replica must wait for (see marksSettled). */
  inBackground (work: Promise<void>): void {
    this.running.add(work)
    void work.finally(() => this.running.delete(work))
  }

  /**
   * Waits for the summaries of this replica's sends so far (written after
   * their answers, see send/summaries.ts): what a user then reads, counts
   * or lists includes their own sends and the read marks those moved.
   * Called before any read-mark lock is taken, never under one: the
   * summary writes take those locks.
   */
  async marksSettled (): Promise<void> {
    await this.ports.summaries.settled()
    await Promise.all([this.ports.direct.recountsSettled(), ...this.running])
  }
}
