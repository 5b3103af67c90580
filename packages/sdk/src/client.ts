/**
 * ChatClient: the `typed` API's requests as methods returning promises
 * (docs/api-typed.md has every request, answer and failure code). Sends go
 * through the outbox; message changes this client makes go through the
 * timeline like everyone else's, so the application renders from events
 * alone.
 */
import { ClientCore } from './client-core.js'
import { ChatSdkError } from './errors.js'
import { httpBaseOf, uploadFile, type FetchLike, type FileBody, type UploadedFile } from './files.js'
import type { Contact, ConversationSummary, FoundUser, HistoryPage, Message, MessageKind, Room, SendAck, Session, UnreadCount } from './wire-types.js'

/** Options of a send. */
export interface SendOptions {
  /** The message's kind; default `text`. */
  type?: MessageKind
  /** The client message id; default a new random UUID. Reuse one only to resend the same message. */
  messageId?: string
}

/** A new client message id (unique per send; the server stores a message once per id and sender). */
export function newMessageId (): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (c?.randomUUID !== undefined) return c.randomUUID()
  // Old runtimes: 122 random bits are as good for an id that is only ever compared.
  return Array.from({ length: 4 }, () => Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0')).join('-')
}

export class ChatClient extends ClientCore {
  /** Logs out (the token stops working everywhere) and closes the client. */
  async logout (): Promise<void> {
    try {
      await this.request('LOGOUT', (me: number) => ({ userId: me }))
    } finally {
      this.close()
    }
  }

  /**
   * Sends a direct message and resolves with it as stored. Made while
   * disconnected, or unanswered when the connection drops, it is sent again
   * with the same client message id until the server stores or refuses it.
   * It is also emitted as a `message` event (source `sent`).
   */
  sendMessage (receiverId: number, content: string, opts: SendOptions = {}): Promise<Message> {
    return this.#send('SEND_MESSAGE', { receiverId, content }, opts, { receiverId })
  }

  /** Sends a message into a room; as sendMessage. */
  sendRoomMessage (roomId: number, content: string, opts: SendOptions = {}): Promise<Message> {
    return this.#send('SEND_ROOM_MESSAGE', { roomId, content }, opts, { receiverId: null, roomId })
  }

  /**
   * Uploads a file (`POST /files`) and sends its URL as an `image`, `file`
   * or `audio` message to a user (`{ userId }`) or a room (`{ roomId }`).
   */
  async sendFile (to: { userId: number } | { roomId: number }, body: FileBody, opts: { name: string, contentType?: string, kind?: 'image' | 'file' | 'audio' }): Promise<Message> {
    const file = await this.uploadFile(body, opts)
    const send = { type: opts.kind ?? 'file' }
    return 'roomId' in to ? await this.sendRoomMessage(to.roomId, file.url, send) : await this.sendMessage(to.userId, file.url, send)
  }

  /** Uploads a file through `POST /files`; send its `url` as an image, file or audio message. */
  async uploadFile (body: FileBody, opts: { name: string, contentType?: string }): Promise<UploadedFile> {
    const fetchImpl = (this.options.fetch ?? (globalThis as { fetch?: unknown }).fetch) as FetchLike | undefined
    if (fetchImpl === undefined) throw new TypeError('no fetch: pass the `fetch` option')
    const { token } = await this.loggedIn()
    return await uploadFile(fetchImpl, this.options.httpUrl ?? httpBaseOf(this.url), token, body, opts)
  }

  /** Edits one of your messages; resolves with it as edited (also emitted as `messageEdited`, source `sent`). */
  async editMessage (messageId: number, content: string): Promise<Message> {
    const m = (await this.request('EDIT_MESSAGE', { messageId, content })).payload as Message
    this.timeline.edited(m, 'sent')
    return m
  }

  /** Deletes one of your messages for everyone (also emitted as `messageDeleted`, source `sent`). */
  async deleteMessage (messageId: number): Promise<{ messageId: number, conversationId: number }> {
    const p = (await this.request('DELETE_MESSAGE', { messageId })).payload as { messageId: number, conversationId: number }
    this.timeline.deleted(p.conversationId, p.messageId, 'sent')
    return p
  }

  /** Marks a message and everything before it as read; resolves with your unread count left there. */
  async markRead (messageId: number): Promise<{ messageId: number, conversationId: number, unread: number }> {
    return (await this.request('MARK_READ', { messageId })).payload as { messageId: number, conversationId: number, unread: number }
  }

  /** Tells a user (`{ userId }`) or a room (`{ roomId }`) that you are typing, or stopped. */
  async setTyping (to: { userId: number } | { roomId: number }, typing: boolean): Promise<void> {
    await this.request('TYPING', 'roomId' in to ? { roomId: to.roomId, typing } : { targetId: to.userId, typing })
  }

  /**
   * A page of a direct conversation's history, oldest first (the newest
   * `limit`, or those before `beforeId`). Loading the newest page starts
   * following the conversation, so a reconnect catches it up from there.
   */
  async loadMessages (peerId: number, opts: { beforeId?: number, offset?: number, limit?: number } = {}): Promise<HistoryPage> {
    const frame = await this.request('LOAD_MESSAGES', (me: number) => ({ userId: me, targetId: peerId, ...opts }))
    return this.#page(frame.payload as Message[], frame.meta, opts.beforeId === undefined && opts.offset === undefined)
  }

  /** A page of a room's history; as loadMessages. */
  async loadRoomMessages (roomId: number, opts: { beforeId?: number, limit?: number } = {}): Promise<HistoryPage> {
    const frame = await this.request('LOAD_ROOM_MESSAGES', { roomId, ...opts })
    return this.#page(frame.payload as Message[], frame.meta, opts.beforeId === undefined)
  }

  /** Your conversations and rooms, most recently active first; pass `next` as `cursor` for the next page. */
  async loadConversations (opts: { limit?: number, cursor?: string } = {}): Promise<{ conversations: ConversationSummary[], next: string | null }> {
    return (await this.request('LOAD_CONVERSATIONS', opts)).payload as { conversations: ConversationSummary[], next: string | null }
  }

  /** Gets or creates the direct conversation with a user, without sending anything. */
  async openConversation (targetId: number): Promise<{ conversationId: number, targetId: number, created: boolean }> {
    return (await this.request('OPEN_CONVERSATION', (me: number) => ({ userId: me, targetId }))).payload as { conversationId: number, targetId: number, created: boolean }
  }

  /** Clears a direct conversation from your own history (the other side keeps theirs). */
  async clearMessages (targetUserId: number): Promise<void> {
    await this.request('CLEAR_MESSAGES', (me: number) => ({ requesterUserId: me, targetUserId }))
  }

  /** Deletes a direct conversation for both sides. */
  async deleteConversation (targetUserId: number): Promise<void> {
    const p = (await this.request('DELETE_CONVERSATION', (me: number) => ({ userId: me, targetUserId }))).payload as { conversationId: number }
    this.timeline.forget(p.conversationId)
  }

  /** Your non-zero unread counts. */
  async loadUnread (): Promise<UnreadCount[]> {
    return ((await this.request('LOAD_UNREAD')).payload as { conversations: UnreadCount[] }).conversations
  }

  /** Takes up to `limit` unread messages of a conversation, marking them read. */
  async takeUnread (conversationId: number, limit?: number): Promise<{ messages: Message[], remaining: number }> {
    return (await this.request('TAKE_UNREAD', { conversationId, ...(limit === undefined ? {} : { limit }) })).payload as { messages: Message[], remaining: number }
  }

  /** Creates a room; you become its owner and first member. */
  async createRoom (room: { name: string, capacity?: number, geolocation?: { latitude: number, longitude: number }, visibility?: 'public' | 'private' }): Promise<Room> {
    return ((await this.request('CREATE_ROOM', room)).payload as { room: Room }).room
  }

  /** Lists rooms: `visible` (public and yours, default), `mine` or `public`; newest first. */
  async loadRooms (opts: { scope?: 'visible' | 'mine' | 'public', beforeId?: number, limit?: number } = {}): Promise<{ rooms: Room[], hasMore: boolean }> {
    return (await this.request('LOAD_ROOMS', opts)).payload as { rooms: Room[], hasMore: boolean }
  }

  /** Joins a room; from the answer on, its messages reach this client (and a reconnect catches it up). */
  async joinRoom (roomId: number): Promise<{ room: Room, joinedAt: string, joined: boolean }> {
    return (await this.request('JOIN_ROOM', { roomId })).payload as { room: Room, joinedAt: string, joined: boolean }
  }

  /** Leaves a room. */
  async leaveRoom (roomId: number): Promise<void> {
    await this.request('LEAVE_ROOM', { roomId })
    this.timeline.forget(roomId)
  }

  /** Deletes a room you own, with its messages. */
  async deleteRoom (roomId: number): Promise<void> {
    await this.request('DELETE_ROOM', { roomId })
    this.timeline.forget(roomId)
  }

  /** A page of a room's members in join order; pass `next` as `after` for the next page. */
  async loadRoomMembers (roomId: number, opts: { after?: string, limit?: number } = {}): Promise<{ members: Array<{ userId: number, joinedAt: string }>, next: string | null }> {
    return (await this.request('LOAD_ROOM_MEMBERS', { roomId, ...opts })).payload as { members: Array<{ userId: number, joinedAt: string }>, next: string | null }
  }

  /** Your contacts, with whether each is online. */
  async loadContacts (): Promise<Contact[]> {
    return ((await this.request('LOAD_CONTACTS', (me: number) => ({ userId: me }))).payload as { contacts: Contact[] }).contacts
  }

  /** Adds a contact (one-way); you then get their `presence` events. */
  async addContact (targetId: number): Promise<{ contactId: number, userName: string, online: boolean, avatar: string }> {
    return (await this.request('ADD_CONTACT', (me: number) => ({ userId: me, targetId }))).payload as { contactId: number, userName: string, online: boolean, avatar: string }
  }

  /** Removes a contact. */
  async deleteContact (targetId: number): Promise<void> {
    await this.request('DELETE_CONTACT', (me: number) => ({ userId: me, targetId }))
  }

  /** Blocks a user (one-way). */
  async blockUser (targetId: number): Promise<void> {
    await this.request('BLOCK_USER', (me: number) => ({ userId: me, targetId }))
  }

  /** Unblocks a user. */
  async unblockUser (targetId: number): Promise<void> {
    await this.request('UNBLOCK_USER', (me: number) => ({ userId: me, targetId }))
  }

  /** The users you blocked. */
  async loadBlocked (): Promise<number[]> {
    return ((await this.request('LOAD_BLOCKED')).payload as { userIds: number[] }).userIds
  }

  /** Users whose username contains `query` (any case), ordered by username. */
  async searchUsers (query: string, opts: { limit?: number, offset?: number } = {}): Promise<{ users: FoundUser[], hasMore: boolean }> {
    return (await this.request('SEARCH_USERS', { query, ...opts })).payload as { users: FoundUser[], hasMore: boolean }
  }

  /** Changes your profile; a new password needs `currentPassword`. */
  async updateProfile (changes: { username?: string, email?: string, avatar?: string, password?: string, currentPassword?: string }): Promise<Omit<Session, 'token'>> {
    return (await this.request('UPDATE_PROFILE', (me: number) => ({ userId: me, ...changes }))).payload as Omit<Session, 'token'>
  }

  async #send (type: string, fields: Record<string, unknown>, opts: SendOptions, to: { receiverId: number | null, roomId?: number }): Promise<Message> {
    if (this.state === 'closed') throw new ChatSdkError('SDK_CLOSED', `${type}: the client was closed`)
    const kind = opts.type ?? 'text'
    const payload = { messageId: opts.messageId ?? newMessageId(), ...fields, type: kind }
    const ack = (await this.outbox.add(type, payload)).payload as SendAck
    const message: Message = {
      id: ack.id,
      senderId: (this.session as Session).userId,
      receiverId: to.receiverId,
      content: fields.content as string,
      timestamp: ack.timestamp,
      status: 'sent',
      type: kind,
      conversationId: ack.conversationId,
      seq: ack.seq,
      ...(to.roomId === undefined ? {} : { roomId: to.roomId }),
    }
    // Follow a conversation this send started from just before it.
    this.timeline.follow(ack.conversationId, ack.seq - 1)
    this.timeline.sent(message)
    return message
  }

  #page (messages: Message[], meta: unknown, newest: boolean): HistoryPage {
    const m = (meta ?? {}) as { conversationId?: number | null, hasMore?: boolean }
    const conversationId = m.conversationId ?? null
    const last = messages[messages.length - 1]
    if (newest && conversationId !== null) this.timeline.follow(conversationId, last?.seq ?? 0)
    return { messages, conversationId, hasMore: m.hasMore === true }
  }
}
