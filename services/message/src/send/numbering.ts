import { ChatError } from '@chat/contracts'
import { isDuplicateKeyError, type Logger } from '@chat/runtime'
import type { MessageDoc, MessageStore } from '../messages.js'
import type { SendState } from './state.js'

/**
 * Tries at storing one message before giving up. Each collision means
 * another message took the number (or Redis lost the counter); far fewer
 * than this ever happen in a row.
 */
const MAX_SEQ_ATTEMPTS = 32

export interface NumberingPorts {
  state: SendState
  messages: MessageStore
  logger: Logger
}

/** Whether a duplicate-key error is about the client's message id rather than the number. */
export function isDedupeCollision (err: unknown): boolean {
  const e = err as { keyPattern?: Record<string, unknown>, errmsg?: string, message?: string }
  if (e.keyPattern !== undefined) return 'dedupeKey' in e.keyPattern
  return /dedupe/i.test(e.errmsg ?? e.message ?? '')
}

/**
 * Stores a message under the next sequence number, `seq` if given (already
 * taken from the counter) or a fresh one. The unique index on
 * {conversationId, seq} decides: a number taken anyway (Redis lost the
 * counter, or a concurrent sender got it first after such a loss) makes
 * the message take the one after the highest stored, and the counter is
 * raised past it. A duplicate key that is our own dedupeKey means a
 * concurrent retry of this send was stored first: that one is the answer
 * (our number stays a gap). 'gone': the conversation was deleted.
 */
export async function storeNumbered (
  ports: NumberingPorts,
  draft: Omit<MessageDoc, 'seq'>,
  hasClientId: boolean,
  seq?: number
): Promise<{ doc: MessageDoc } | { duplicate: MessageDoc } | 'gone'> {
  const { state, messages } = ports
  let next = seq ?? await state.next(draft.conversationId)
  for (let attempt = 1; ; attempt++) {
    if (next === 'gone') return 'gone'
    const doc: MessageDoc = { ...draft, seq: next }
    try {
      await messages.insert(doc)
      if (attempt > 1) {
        await state.raise(draft.conversationId, next).catch((err: unknown) => {
          ports.logger.warn({ err, conversationId: draft.conversationId }, 'could not raise the seq counter')
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
      next = Math.max(next, await messages.latestSeq(draft.conversationId)) + 1
    }
  }
}

/**
 * The message that claimed a client id (a dedupe claim in Redis names it),
 * if it is stored as that sender's message with that id. A claim whose
 * message is not stored (its send failed, or is still being stored
 * elsewhere) is released, and null returned: MongoDB's unique dedupeKey
 * settles the rest.
 */
export async function storedUnderClaim (
  ports: { messages: MessageStore, state: SendState },
  senderId: number, clientMessageId: string, firstMessageId: number
): Promise<MessageDoc | null> {
  const doc = await ports.messages.byId(firstMessageId)
  if (doc && doc.senderId === senderId && doc.clientMessageId === clientMessageId) return doc
  await ports.state.release(senderId, clientMessageId, firstMessageId)
  return null
}
