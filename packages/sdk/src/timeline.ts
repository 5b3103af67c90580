/**
 * The one "apply" step every message, edit and deletion goes through, live
 * or caught up. Per conversation it keeps the highest `seq` applied (the
 * position a catch-up resumes from) and the recent message ids and change
 * keys already emitted, so the application sees each once:
 *
 * - a message already emitted (live, then again in SYNC) is not emitted again;
 * - an edit or deletion already emitted (a live push carries no place, SYNC
 *   returns the same change in its place) is not emitted again: an edit is
 *   known by its message and time (`editedAt` live = `timestamp` in SYNC),
 *   a deletion by its message;
 * - while a catch-up runs, live events wait, and are applied after the
 *   catch-up's, so catch-up and live never interleave out of order.
 *
 * A live message with a gap in `seq` is emitted at once: `seq` skips numbers
 * (edits, deletions and failed sends take places), so a gap proves nothing.
 */
import type { ChatEvents, EventSource } from './events.js'
import type { Change, Message, SyncConversation } from './wire-types.js'

/** A conversation's position: everything up to `lastSeq` has been applied. */
export interface Position {
  conversationId: number
  lastSeq: number
}

interface ConversationState {
  lastSeq: number
  /** Message ids emitted, oldest first (a Set keeps insertion order). */
  ids: Set<number>
  /** Edits and deletions emitted: `e:<messageId>:<editedAt>`, `d:<messageId>`. */
  changes: Set<string>
}

type Emit = <K extends 'message' | 'messageEdited' | 'messageDeleted'>(event: K, value: ChatEvents[K]) => void

/** How many ids and change keys each conversation remembers; a SYNC page is at most 1000 entries. */
const DEFAULT_MEMORY = 2000

export class Timeline {
  readonly #conversations = new Map<number, ConversationState>()
  readonly #emit: Emit
  readonly #memory: number
  #catchingUp = false
  #waiting: Array<() => void> = []

  constructor (emit: Emit, opts: { positions?: Position[], memory?: number } = {}) {
    this.#emit = emit
    this.#memory = opts.memory ?? DEFAULT_MEMORY
    for (const p of opts.positions ?? []) this.#state(p.conversationId, p.lastSeq)
  }

  /** Every conversation seen, with the position a catch-up resumes from. */
  positions (): Position[] {
    return [...this.#conversations].map(([conversationId, s]) => ({ conversationId, lastSeq: s.lastSeq }))
  }

  /**
   * Starts following a conversation from `lastSeq` (what the application
   * already has, e.g. the newest message of a history page), unless it is
   * followed already.
   */
  follow (conversationId: number, lastSeq: number): void {
    this.#state(conversationId, lastSeq)
  }

  /** Whether a conversation is followed. */
  follows (conversationId: number): boolean {
    return this.#conversations.has(conversationId)
  }

  /** Stops following a conversation (deleted, or a room left): a catch-up would be refused. */
  forget (conversationId: number): void {
    this.#conversations.delete(conversationId)
  }

  /** A pushed message (MESSAGE_RECEIVED_OTHER, MESSAGE_SENT). */
  live (message: Message): void {
    this.#later(() => this.#applyMessage(message, 'live'))
  }

  /**
   * A message this client sent, now stored. It does not move the position:
   * a message of the peer's numbered before it may still be on its way, and
   * a catch-up from past ours would skip it.
   */
  sent (message: Message): void {
    this.#later(() => this.#applyMessage(message, 'sent'))
  }

  /** A live edit (MESSAGE_EDITED push, or this client's own edit). */
  edited (message: Message, source: EventSource = 'live'): void {
    this.#later(() => this.#applyEdit(message.conversationId, message.id, message.senderId, message.content, message.editedAt ?? message.timestamp, source))
  }

  /** A live deletion (MESSAGE_DELETED push, or this client's own). */
  deleted (conversationId: number, messageId: number, source: EventSource = 'live'): void {
    this.#later(() => this.#applyDelete(conversationId, messageId, source))
  }

  /** From now until finishCatchUp, live events wait. */
  beginCatchUp (): void {
    this.#catchingUp = true
  }

  /** Applies one SYNC answer: each conversation's messages and changes together, in `seq` order. */
  applySync (conversations: SyncConversation[]): void {
    for (const c of conversations) {
      const entries: Array<{ seq: number, apply: () => void }> = [
        ...c.messages.map((m) => ({ seq: m.seq, apply: () => this.#applyMessage(m, 'sync') })),
        ...c.changes.map((x) => ({ seq: x.seq, apply: () => this.#applyChange(c.conversationId, x) })),
      ]
      entries.sort((a, b) => a.seq - b.seq)
      for (const e of entries) e.apply()
    }
  }

  /** Ends the catch-up and applies the live events that waited, in the order they came. */
  finishCatchUp (): void {
    this.#catchingUp = false
    const waiting = this.#waiting
    this.#waiting = []
    for (const apply of waiting) apply()
  }

  /**
   * The connection dropped during a catch-up. What waited is kept and
   * applied after the next catch-up (duplicates of it are then skipped).
   */
  abortCatchUp (): void {
    this.#catchingUp = false
  }

  #later (apply: () => void): void {
    if (this.#catchingUp) this.#waiting.push(apply)
    else apply()
  }

  #state (conversationId: number, lastSeq: number): ConversationState {
    let s = this.#conversations.get(conversationId)
    if (s === undefined) {
      s = { lastSeq, ids: new Set(), changes: new Set() }
      this.#conversations.set(conversationId, s)
    }
    return s
  }

  #applyMessage (m: Message, source: EventSource): void {
    // A conversation first seen through a message is followed from just before it.
    const s = this.#state(m.conversationId, m.seq - 1)
    if (source !== 'sent' && m.seq > s.lastSeq) s.lastSeq = m.seq
    if (s.changes.has(`d:${m.id}`)) return
    if (s.ids.has(m.id)) {
      // Caught up again as it is now: an edit made since shows only here
      // (SYNC lists changes only of messages at or before the position, and
      // this client's own sends do not move the position).
      if (source === 'sync' && m.editedAt !== undefined) this.#applyEdit(m.conversationId, m.id, m.senderId, m.content, m.editedAt, 'sync')
      return
    }
    remember(s.ids, m.id, this.#memory)
    this.#emit('message', { message: m, source })
  }

  #applyChange (conversationId: number, c: Change): void {
    const s = this.#state(conversationId, c.seq)
    if (c.seq > s.lastSeq) s.lastSeq = c.seq
    if (c.change === 'deleted') this.#applyDelete(conversationId, c.messageId, 'sync')
    else this.#applyEdit(conversationId, c.messageId, c.senderId, c.content ?? '', c.timestamp, 'sync')
  }

  #applyEdit (conversationId: number, messageId: number, senderId: number, content: string, editedAt: string, source: EventSource): void {
    // An edit in a conversation not followed is passed on without starting to
    // follow it (that would catch up its whole history).
    const s = this.#conversations.get(conversationId)
    const key = `e:${messageId}:${editedAt}`
    if (s !== undefined) {
      if (s.changes.has(key) || s.changes.has(`d:${messageId}`)) return
      remember(s.changes, key, this.#memory)
    }
    this.#emit('messageEdited', { conversationId, messageId, senderId, content, editedAt, source })
  }

  #applyDelete (conversationId: number, messageId: number, source: EventSource): void {
    const s = this.#conversations.get(conversationId)
    const key = `d:${messageId}`
    if (s !== undefined) {
      if (s.changes.has(key)) return
      remember(s.changes, key, this.#memory)
    }
    this.#emit('messageDeleted', { conversationId, messageId, source })
  }
}

/** Adds `key`, dropping the oldest entries past `max`. */
function remember<T> (set: Set<T>, key: T, max: number): void {
  set.add(key)
  while (set.size > max) {
    const oldest = set.values().next()
    if (oldest.done === true) break
    set.delete(oldest.value)
  }
}
