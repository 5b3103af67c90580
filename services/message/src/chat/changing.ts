/**
 * Changing what was said: editing and deleting a message, deleting a
 * direct conversation, and typing notices.
 */
import {
  ChatError,
  type ConversationDeletedEvent, type DeleteConversationReply, type DeleteConversationRequest,
  type DeleteMessageReply, type DeleteMessageRequest, type EditMessageReply, type EditMessageRequest,
  type MessageKind, type TypingRequest,
} from '@chat/contracts'
import type { ChangeDraft } from '../changes.js'
import { checkContent, type ContentRules } from '../content.js'
import { peerOf, readMark, type ConversationDoc } from '../conversations.js'
import type { ConversationHappening } from '../events.js'
import { toMessage, type MessageDoc } from '../messages.js'
import {
  directWith, exactlyOne, lastMessageOf, memberOf, publishUnread, unreadRefresh,
  type ChatPorts,
} from './context.js'

/** Message kinds whose content may be edited: text-like ones (not a file reference). */
export const EDITABLE_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>(['text', 'customize', 'sticker', 'location'])

/** Tries at finding a change its place; each failure means a lost counter handed a number out twice. */
const MAX_PLACE_ATTEMPTS = 8

/** The ports changing uses. */
export type ChangingPorts = Pick<ChatPorts,
  | 'conversations' | 'messages' | 'state' | 'unread' | 'unreadSource' | 'cacheFallback'
  | 'isBlocked' | 'events' | 'summaries' | 'logger'>

/** The commands that change or remove what was said, and typing. */
export class Changing {
  constructor (private readonly ports: ChangingPorts, private readonly opts: ContentRules) {}

  /** The actor's own message in a conversation they (still) belong to. */
  private async ownMessage (actorId: number, messageId: number): Promise<{ doc: MessageDoc, conv: ConversationDoc }> {
    const doc = await this.ports.messages.byId(messageId)
    if (!doc) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
    if (doc.senderId !== actorId) throw new ChatError('CHAT_FORBIDDEN', 'Only the sender may do this')
    const { conv } = await memberOf(this.ports, actorId, doc.conversationId)
    return { doc, conv }
  }

  // ------------------------------------------------------------------- edit

  /** Replaces the content of the actor's own text-like message and tells the conversation. */
  async edit (req: EditMessageRequest): Promise<EditMessageReply> {
    const { doc, conv } = await this.ownMessage(req.actorId, req.messageId)
    if (!EDITABLE_KINDS.has(doc.kind)) throw new ChatError('CHAT_BAD_REQUEST', `kind: a ${doc.kind} message cannot be edited`)
    checkContent(doc.kind, req.content, this.opts)
    // An edit reaches the peer as a push and new content, like a send: a
    // peer who blocked the editor refuses it the same way.
    const peerId = peerOf(conv, req.actorId)
    if (peerId !== undefined && await this.ports.isBlocked(peerId, req.actorId)) throw new ChatError('CHAT_BLOCKED')
    const editedAt = new Date()
    // Its place first, so its domain event carries it (a failed edit leaves the number unused).
    const seq = await this.reservePlace(conv._id)
    if (!await this.ports.messages.edit(doc, req.content, editedAt, seq)) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
    // Before the conversation's lastMessage: a summary of it still waiting is written with the new content.
    await this.ports.summaries.messageChanged(conv._id, doc._id, req.content).catch((err: unknown) => {
      this.ports.logger.warn({ err, messageId: doc._id }, 'after edit: amending waiting summaries failed')
    })
    const message = toMessage({ ...doc, content: req.content, editedAt })
    await this.keepPlace({ conversationId: conv._id, kind: 'edited', messageId: doc._id, messageSeq: doc.seq, senderId: doc.senderId, content: req.content, at: editedAt }, seq)
    await this.ports.conversations.editLastMessage(conv._id, doc._id, req.content).catch((err: unknown) => {
      this.ports.logger.error({ err, messageId: doc._id }, 'after edit: lastMessage failed')
    })
    const event: ConversationHappening = { kind: 'message.edited', message }
    if (req.originConnectionId !== undefined) event.originConnectionId = req.originConnectionId
    this.ports.events.toConversation(conv, event)
    return { message }
  }

  /**
   * An edit's or deletion's place in the conversation's order (catch-up,
   * SYNC, and its domain event): the next number from the counter messages
   * take theirs from, raised in MongoDB at once, so a counter rebuilt after
   * Redis lost it starts past it.
   */
  private async reservePlace (conversationId: number): Promise<number> {
    const seq = await this.ports.state.next(conversationId)
    if (seq === 'gone') throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    await this.ports.conversations.raiseSeq(conversationId, seq)
    return seq
  }

  /**
   * Records a change made at its reserved place. Should a lost counter have
   * handed the number out twice anyway, the change moves on to a new place:
   * two changes never share one (unique _id), and one that finds a message
   * in its place gives it up.
   */
  private async keepPlace (draft: ChangeDraft, reserved: number): Promise<void> {
    const { state, conversations, messages } = this.ports
    let seq: number | 'gone' = reserved
    for (let attempt = 1; attempt <= MAX_PLACE_ATTEMPTS; attempt++) {
      if (seq === 'gone') return // deleted meanwhile: nobody catches up on it
      if (await messages.changes.insert(draft, seq)) {
        if (!await messages.hasSeq(draft.conversationId, seq)) return
        await messages.changes.remove(draft.conversationId, seq)
      }
      await state.raise(draft.conversationId, Math.max(seq, await messages.changes.latestSeq(draft.conversationId)))
      seq = await state.next(draft.conversationId)
      if (seq !== 'gone') await conversations.raiseSeq(draft.conversationId, seq)
    }
    throw new ChatError('CHAT_UNAVAILABLE', 'could not record the change; try again')
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
    const seq = await this.reservePlace(conv._id)
    const at = new Date()
    // The delete decides between concurrent deletes: one does the rest.
    if (!await this.ports.messages.deleteOwn(doc, at, seq)) throw new ChatError('CHAT_MESSAGE_NOT_FOUND')
    // Before lastMessage is re-pointed: a summary of it still waiting is not written.
    await this.ports.summaries.messageChanged(conv._id, doc._id, null).catch((err: unknown) => {
      this.ports.logger.warn({ err, messageId: doc._id }, 'after delete: amending waiting summaries failed')
    })
    await this.keepPlace({ conversationId: conv._id, kind: 'deleted', messageId: doc._id, messageSeq: doc.seq, senderId: doc.senderId, at }, seq).catch((err: unknown) => {
      // The message is gone, so a retry would find nothing to delete: answer
      // the deletion; a client that was away keeps the message until it
      // reads the history again.
      this.ports.logger.error({ err, messageId: doc._id, conversationId: conv._id }, 'after delete: catch-up record failed')
    })
    await this.afterDelete(conv, doc).catch((err: unknown) => {
      this.ports.logger.error({ err, messageId: doc._id, conversationId: conv._id }, 'after delete: bookkeeping failed')
    })
    const event: ConversationHappening = { kind: 'message.deleted', conversationId: conv._id, messageId: doc._id }
    if (req.originConnectionId !== undefined) event.originConnectionId = req.originConnectionId
    this.ports.events.toConversation(conv, event)
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
    // Read afresh: a summary written since the command read it may name the deleted message.
    const now = await conversations.byId(conv._id)
    if (now?.lastMessage?.id === doc._id) {
      const newest = await messages.newest(conv._id)
      await conversations.replaceLastMessage(conv._id, doc._id, newest ? lastMessageOf(newest) : null)
    }
    await this.repointFirst(conv._id, doc._id)
    if (conv.kind === 'direct') {
      const peerId = peerOf(conv, doc.senderId)
      if (peerId === undefined) return
      const marks = await conversations.marksOf(conv, peerId)
      if (marks && readMark(marks) < doc.seq) publishUnread(this.ports, peerId, conv, await unreadRefresh(this.ports, peerId, conv._id))
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
      if (count !== undefined) publishUnread(this.ports, userId, conv, count)
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
    exactlyOne('conversationId, peerId', req.conversationId, req.peerId)
    let conv: ConversationDoc | null
    if (req.peerId !== undefined) {
      conv = await directWith(this.ports, req.actorId, req.peerId)
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
    const deleted = await conversations.deleteConversation({ _id: conv._id, kind: 'direct' }, req.actorId)
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
        this.ports.events.toUser(event)
        if ((old.get(userId) ?? 0) > 0) publishUnread(this.ports, userId, conv, 0)
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
    exactlyOne('conversationId, peerId', req.conversationId, req.peerId)
    if (req.peerId !== undefined) {
      const conv = await directWith(this.ports, req.actorId, req.peerId)
      if (!conv) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
      await this.publishTyping(req.actorId, req.peerId, conv._id, req.typing)
      return {}
    }
    const conversationId = req.conversationId as number
    const member = await this.ports.conversations.member(conversationId, req.actorId)
    if (member?.kind === 'room') {
      const room = { _id: conversationId, kind: 'room', memberIds: [] } as const
      this.ports.events.toConversation(room, { kind: 'typing', conversationId, fromUserId: req.actorId, typing: req.typing })
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
    const conv = { _id: conversationId, kind: 'direct', memberIds: [fromUserId, userId] } as const
    this.ports.events.toConversation(conv, { kind: 'typing', conversationId, fromUserId, typing }, [userId])
  }
}
