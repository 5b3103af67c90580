import type { Redis } from 'ioredis'
import { LuaScript } from '@chat/runtime'
import type { ConversationDoc, ConversationStore } from '../conversations.js'
import { directKey } from '../keys.js'
import type { MessageStore } from '../messages.js'

/*
 * What sending needs to know about a conversation, in Redis, so a send to
 * an existing conversation reads no database: one hash per conversation
 *
 *   conv:<id>   k  kind ("direct" | "room")
 *               m  the two members of a direct conversation, "a,b"
 *               s  the last sequence number handed out
 *               x  present once the conversation is deleted (tombstone)
 *
 * plus `dm:<a>:<b>` → the id of two users' direct conversation, and
 * `dd:<senderId>:<clientMessageId>` → the message id a client's id was
 * first given to (duplicate detection).
 *
 * MongoDB stays the truth. A missing hash is rebuilt from it: the
 * conversation document, and as the counter the highest of its persisted
 * `seq` and its newest stored message. Sends in flight while Redis lost
 * the counter may be handed a number already taken; the unique
 * {conversationId, seq} index refuses those and they take the next free
 * one, so a number is never stored twice. Hashes expire when unused.
 */

export const convStateKey = (conversationId: number) => `conv:${conversationId}`
export const directIdKey = (a: number, b: number) => `dm:${directKey(a, b)}`
export const dedupeStateKey = (senderId: number, clientMessageId: string) => `dd:${senderId}:${clientMessageId}`

/** How long an unused conversation's state stays in Redis. */
const STATE_TTL_SECONDS = 7 * 24 * 3600
/** A conversation without activity for this long has its persisted seq up to date (see load). */
const QUIET_AFTER_MS = 60_000
/** How long a tombstone outlives the deletion: far beyond any send in flight. */
const TOMBSTONE_TTL_SECONDS = 24 * 3600

/**
 * Admits a batch of sends, each one [conversation hash, dedupe key] in
 * KEYS and [actorId, has client id (0/1), message id] in ARGV after the
 * two TTLs. Per send: {1, seq, "a,b" (the members)}; {2, first message id} for a client id seen
 * before; {0, reason}: `missing` (load the state and ask again), `gone`
 * (deleted), `room` (not a direct conversation: rooms are sent another
 * way), `member` (the actor is not in this direct conversation).
 * Nothing is written for a send that is not admitted.
 */
const ADMIT = new LuaScript(`
local out = {}
local ttl = tonumber(ARGV[1])
local dttl = tonumber(ARGV[2])
local j = 0
for i = 3, #ARGV, 3 do
  j = j + 1
  local ck = KEYS[2 * j - 1]
  local actor = ARGV[i]
  local st = redis.call('HMGET', ck, 's', 'x', 'k', 'm')
  if st[2] then out[j] = {0, 'gone'}
  elseif not st[1] or not st[3] then out[j] = {0, 'missing'}
  elseif st[3] ~= 'direct' then out[j] = {0, 'room'}
  elseif not string.find(',' .. (st[4] or '') .. ',', ',' .. actor .. ',', 1, true) then out[j] = {0, 'member'}
  else
    local first = nil
    if ARGV[i + 1] == '1' then
      if not redis.call('SET', KEYS[2 * j], ARGV[i + 2], 'NX', 'EX', dttl) then first = redis.call('GET', KEYS[2 * j]) or '' end
    end
    if first then out[j] = {2, first}
    else
      out[j] = {1, redis.call('HINCRBY', ck, 's', 1), st[4]}
      redis.call('EXPIRE', ck, ttl)
    end
  end
end
return out`)

/** The next number of one conversation (-1: load the state first; -2: deleted). KEYS[1]; ARGV[1] ttl. */
const NEXT = new LuaScript(`
local st = redis.call('HMGET', KEYS[1], 's', 'x')
if st[2] then return -2 end
if not st[1] then return -1 end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HINCRBY', KEYS[1], 's', 1)`)

/**
 * Loads a conversation's state: the counter only ever rises (a concurrent
 * loader or sender may be ahead). KEYS[1]; ARGV: floor, kind, members, ttl.
 */
const LOAD = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], 'x') == 1 then return 0 end
local s = tonumber(redis.call('HGET', KEYS[1], 's') or '-1')
if s < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 's', ARGV[1]) end
redis.call('HSET', KEYS[1], 'k', ARGV[2], 'm', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`)

/** Raises the counter to at least ARGV[1] when the state is loaded. KEYS[1]. */
const RAISE = new LuaScript(`
local s = redis.call('HGET', KEYS[1], 's')
if s and tonumber(s) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 's', ARGV[1]) end
return 1`)

/** Claims KEYS[1] for ARGV[1] for ARGV[2] seconds; returns nil when claimed now, else the holder. */
const CLAIM = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])`)

/** Deletes KEYS[1] only while it holds ARGV[1]. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

/** One send as admission sees it. */
export interface AdmitItem {
  conversationId: number
  actorId: number
  messageId: number
  clientMessageId?: string
}

export type Admission =
  | { kind: 'admitted', seq: number, memberIds: number[] }
  | { kind: 'duplicate', firstMessageId: number }
  | { kind: 'refused', reason: 'gone' | 'member' | 'missing' | 'room' }

export interface SendStateOptions {
  /** How long a client message id is remembered in Redis (MongoDB's unique index catches later retries). */
  dedupeTtlSeconds: number
}

/** The Redis side of sending; see the comment at the top of this file. */
export class SendState {
  constructor (
    private readonly redis: Redis,
    private readonly conversations: ConversationStore,
    private readonly messages: MessageStore,
    private readonly opts: SendStateOptions
  ) {}

  /** The id of two users' direct conversation (null: they never talked). Read from MongoDB only on a miss. */
  async directId (a: number, b: number): Promise<number | null> {
    const key = directIdKey(a, b)
    const cached = await this.redis.get(key)
    if (cached !== null) return Number(cached)
    const conv = await this.conversations.byDirectKey(a, b)
    if (!conv) return null
    await this.redis.set(key, String(conv._id), 'EX', STATE_TTL_SECONDS)
    return conv._id
  }

  /**
   * Admits sends in one round trip; sends whose state was missing are
   * loaded from MongoDB and asked about again, once.
   */
  async admit (items: readonly AdmitItem[]): Promise<Admission[]> {
    const out = await this.admitOnce(items)
    const missing = [...new Set(items.filter((_, i) => isMissing(out[i])).map((it) => it.conversationId))]
    if (missing.length === 0) return out
    await this.load(missing)
    const again = items.map((it, i) => ({ it, i })).filter(({ i }) => isMissing(out[i]))
    const retried = await this.admitOnce(again.map(({ it }) => it))
    again.forEach(({ i }, k) => { out[i] = retried[k] as Admission })
    return out
  }

  private async admitOnce (items: readonly AdmitItem[]): Promise<Admission[]> {
    if (items.length === 0) return []
    const keys: string[] = []
    const args: Array<string | number> = [STATE_TTL_SECONDS, this.opts.dedupeTtlSeconds]
    for (const it of items) {
      const convKey = convStateKey(it.conversationId)
      keys.push(convKey, it.clientMessageId === undefined ? convKey : dedupeStateKey(it.actorId, it.clientMessageId))
      args.push(it.actorId, it.clientMessageId === undefined ? 0 : 1, it.messageId)
    }
    const rows = await ADMIT.run(this.redis, keys, args) as Array<[number, string | number, string?]>
    return rows.map(([code, value, members]): Admission => {
      if (code === 1) return { kind: 'admitted', seq: Number(value), memberIds: (members ?? '').split(',').map(Number) }
      if (code === 2) return { kind: 'duplicate', firstMessageId: Number(value) }
      return { kind: 'refused', reason: value as 'gone' | 'member' | 'missing' | 'room' }
    })
  }

  /**
   * The last number handed out in a conversation, from Redis (its state
   * loaded first when missing); 0 when it has none. Reads no history.
   */
  /**
   * What a conversation is, from its hash (loaded from MongoDB when
   * missing): 'gone' once deleted, undefined when there is no such
   * conversation.
   */
  async kindOf (conversationId: number): Promise<ConversationDoc['kind'] | 'gone' | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const [kind, gone] = await this.redis.hmget(convStateKey(conversationId), 'k', 'x')
      if (gone !== null) return 'gone'
      if (kind === 'direct' || kind === 'room') return kind
      if (attempt === 0) await this.load([conversationId])
    }
    return undefined
  }

  async lastSeq (conversationId: number): Promise<number> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const s = await this.redis.hget(convStateKey(conversationId), 's')
      if (s !== null) return Number(s)
      await this.load([conversationId])
    }
    return 0
  }

  /** The next sequence number of one conversation (for sends outside a batch). */
  async next (conversationId: number): Promise<number | 'gone'> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const n = Number(await NEXT.run(this.redis, [convStateKey(conversationId)], [STATE_TTL_SECONDS]))
      if (n === -2) return 'gone'
      if (n >= 0) return n
      await this.load([conversationId])
    }
    return 'gone' // still missing after a load: no such conversation
  }

  /**
   * Loads conversations' state from MongoDB. One that does not exist stays
   * missing (no key is made for an id a client made up).
   */
  async load (conversationIds: readonly number[]): Promise<void> {
    const docs = await this.conversations.byIds(conversationIds)
    await Promise.all(conversationIds.map(async (id) => {
      const conv = docs.get(id)
      if (!conv) return
      // MongoDB's `seq` is persisted behind the counter (summaries.ts, within
      // SUMMARY_FLUSH_MS); for a conversation active lately the newest stored
      // message covers the difference. A quiet one's is written by now, so
      // its messages are not read: on FerretDB that read scans every stored
      // message, and a cold start (Redis lost or new) would make one per
      // conversation. Only a writer that crashed before writing leaves it
      // behind; then the unique {conversationId, seq} index refuses the
      // numbers already taken and the send takes the next free one.
      const quiet = Date.now() - conv.lastActivityAt.getTime() > QUIET_AFTER_MS
      const floor = quiet ? conv.seq : Math.max(conv.seq, await this.messages.latestSeq(id))
      await LOAD.run(this.redis, [convStateKey(id)], [floor, conv.kind, membersOf(conv), STATE_TTL_SECONDS])
    }))
  }

  /**
   * The state of a direct conversation this process has just created (its
   * unique insert said so): no messages yet, so nothing is read, and the
   * pair's next sends take the hot path at once. A concurrent load only
   * raises the counter (LOAD keeps the higher).
   */
  async seedCreated (conv: ConversationDoc): Promise<void> {
    const [a, b] = conv.memberIds as [number, number]
    await Promise.all([
      LOAD.run(this.redis, [convStateKey(conv._id)], [0, conv.kind, membersOf(conv), STATE_TTL_SECONDS]),
      this.redis.set(directIdKey(a, b), String(conv._id), 'EX', STATE_TTL_SECONDS),
    ])
  }

  /** Raises a conversation's counter after a number proved taken. */
  async raise (conversationId: number, seq: number): Promise<void> {
    await RAISE.run(this.redis, [convStateKey(conversationId)], [seq])
  }

  /**
   * Marks a conversation deleted before its documents go: a send admitted
   * earlier whose message lands after the deleter's sweep sees the mark
   * right after storing and withdraws its message (see `goneAmong`).
   */
  async tombstone (conversationId: number, direct?: readonly [number, number]): Promise<void> {
    const key = convStateKey(conversationId)
    const multi = this.redis.multi().hset(key, 'x', '1').expire(key, TOMBSTONE_TTL_SECONDS)
    if (direct) multi.del(directIdKey(direct[0], direct[1]))
    await multi.exec()
  }

  /** Which of these conversations are deleted, in one round trip. */
  async goneAmong (conversationIds: readonly number[]): Promise<Set<number>> {
    const unique = [...new Set(conversationIds)]
    const pipeline = this.redis.pipeline()
    for (const id of unique) pipeline.hexists(convStateKey(id), 'x')
    const res = await pipeline.exec() ?? []
    const gone = new Set<number>()
    res.forEach(([err, v], i) => {
      if (err) throw err
      if (v === 1) gone.add(unique[i] as number)
    })
    return gone
  }

  /** Forgets a client message id given to `messageId` (its send was not stored). */
  /**
   * Claims a client message id for a send outside a batch (as admission
   * does for a batch): null when this send is the first with it, else the
   * id of the message that claimed it first.
   */
  async claimClientId (senderId: number, clientMessageId: string, messageId: number): Promise<number | null> {
    const first = await CLAIM.run(this.redis, [dedupeStateKey(senderId, clientMessageId)], [String(messageId), this.opts.dedupeTtlSeconds])
    return typeof first === 'string' ? Number(first) : null
  }

  async release (senderId: number, clientMessageId: string, messageId: number): Promise<void> {
    await RELEASE.run(this.redis, [dedupeStateKey(senderId, clientMessageId)], [String(messageId)])
  }
}

function isMissing (a: Admission | undefined): boolean {
  return a?.kind === 'refused' && a.reason === 'missing'
}

function membersOf (conv: ConversationDoc): string {
  return conv.kind === 'direct' ? conv.memberIds.join(',') : ''
}
