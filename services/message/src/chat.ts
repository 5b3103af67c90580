import type {
  ClearReply, ClearRequest, DeleteConversationReply, DeleteConversationRequest, DeleteMessageReply, DeleteMessageRequest,
  EditMessageReply, EditMessageRequest, HistoryReply, HistoryRequest, ListConversationsReply, ListConversationsRequest,
  OpenConversationReply, OpenConversationRequest, ReadReply, ReadRequest, SendMessageReply, SendMessageRequest,
  SyncReply, SyncRequest, TakeUnreadReply, TakeUnreadRequest, TypingRequest, UnreadReply, UnreadRequest,
} from '@chat/contracts'
import { Changing } from './chat/changing.js'
import { BackgroundWork, type ChatOptions, type ChatPorts } from './chat/context.js'
import { Listing } from './chat/listing.js'
import { Reading } from './chat/reading.js'
import { Sending } from './chat/sending.js'

export { EDITABLE_KINDS } from './chat/changing.js'
export type { ChatOptions, ChatPorts } from './chat/context.js'
export { CONVERSATION_LIST_DEFAULT } from './chat/listing.js'
export { TAKE_UNREAD_DEFAULT } from './chat/reading.js'

/**
 * The message service's behaviour, independent of NATS: each method is one
 * command, handed to the family of commands it belongs to (chat/*.ts).
 * Ordering rule throughout: MongoDB (the truth) is written first; Redis and
 * events follow only once the data they describe is stored.
 */
export class ChatService {
  private readonly sending: Sending
  private readonly reading: Reading
  private readonly changing: Changing
  private readonly listing: Listing

  /**
   * Every family gets the same `ports` object (not a copy: tests swap a
   * port on it) and one BackgroundWork, so the reads of every family wait
   * for the work any send left running.
   */
  constructor (ports: ChatPorts, opts: ChatOptions) {
    const background = new BackgroundWork(ports)
    this.sending = new Sending(ports, opts, background)
    this.reading = new Reading(ports, opts, background)
    this.changing = new Changing(ports, opts)
    this.listing = new Listing(ports, background)
  }

  /** message.send (chat/sending.ts). */
  send (req: SendMessageRequest): Promise<SendMessageReply> { return this.sending.send(req) }

  /** message.history (chat/reading.ts). */
  history (req: HistoryRequest): Promise<HistoryReply> { return this.reading.history(req) }

  /** message.read (chat/reading.ts). */
  read (req: ReadRequest): Promise<ReadReply> { return this.reading.read(req) }

  /** message.clear (chat/reading.ts). */
  clear (req: ClearRequest): Promise<ClearReply> { return this.reading.clear(req) }

  /** message.sync (chat/reading.ts). */
  sync (req: SyncRequest): Promise<SyncReply> { return this.reading.sync(req) }

  /** message.unread (chat/reading.ts). */
  unreadCounts (req: UnreadRequest): Promise<UnreadReply> { return this.reading.unreadCounts(req) }

  /** message.unread.take (chat/reading.ts). */
  takeUnread (req: TakeUnreadRequest): Promise<TakeUnreadReply> { return this.reading.takeUnread(req) }

  /** message.edit (chat/changing.ts). */
  edit (req: EditMessageRequest): Promise<EditMessageReply> { return this.changing.edit(req) }

  /** message.delete (chat/changing.ts). */
  deleteMessage (req: DeleteMessageRequest): Promise<DeleteMessageReply> { return this.changing.deleteMessage(req) }

  /** message.conversation.delete (chat/changing.ts). */
  deleteConversation (req: DeleteConversationRequest): Promise<DeleteConversationReply> { return this.changing.deleteConversation(req) }

  /** message.typing (chat/changing.ts). */
  typing (req: TypingRequest): Promise<Record<string, never>> { return this.changing.typing(req) }

  /** message.conversations.list (chat/listing.ts). */
  listConversations (req: ListConversationsRequest): Promise<ListConversationsReply> { return this.listing.listConversations(req) }

  /** message.conversation.open (chat/listing.ts). */
  openConversation (req: OpenConversationRequest): Promise<OpenConversationReply> { return this.listing.openConversation(req) }
}
