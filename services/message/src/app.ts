import { Commands } from '@chat/contracts'
import { createIdGenerator, publishJson, type ServiceDeps, type ServiceParts } from '@chat/runtime'
import { ChatService, type ChatEvent } from './chat.js'
import { ConversationStore } from './conversations.js'
import { FileStore, toFileInfo } from './files.js'
import { MessageStore } from './messages.js'
import { MongoUnreadSource, UnreadCache } from './unread.js'

export interface MessageOptions {
  /** Longest message content in characters (MESSAGE_MAX_LENGTH). */
  maxLength: number
  /** Largest upload in bytes (FILE_MAX_BYTES). */
  fileMaxBytes: number
}

/** NATS' own default max_payload, used until the server has said its own. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024

/** Builds the message service's command handlers over its open connections. */
export async function buildMessageService (deps: ServiceDeps, opts: MessageOptions): Promise<ServiceParts> {
  const { nc, subjects } = deps
  const conversations = new ConversationStore(deps.db)
  const messages = new MessageStore(deps.db)
  const files = new FileStore(deps.db, conversations, { maxBytes: opts.fileMaxBytes })
  await Promise.all([conversations.init(), messages.init(), files.init()])
  const ids = await createIdGenerator(deps.redis, deps.logger)
  const unreadSource = new MongoUnreadSource(conversations, messages)

  const chat = new ChatService({
    conversations,
    messages,
    files,
    unread: new UnreadCache(deps.redis, unreadSource),
    unreadSource,
    newId: () => ids.next(),
    async userExists (userId) {
      const { users } = await deps.client.call(Commands.auth.getUsers, { ids: [userId] })
      return users.some((u) => u.id === userId)
    },
    publish (event: ChatEvent) {
      publishJson(nc, subjects.userEvent(event.userId, event.kind), event)
    },
    logger: deps.logger,
  }, {
    maxLength: opts.maxLength,
    // Headroom for the reply's envelope and headers.
    replyBudgetBytes: Math.floor((nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) * 0.9),
  })

  return {
    close: () => ids.close(),
    checks: { ids: () => ids.worker !== undefined },
    handlers: {
      [Commands.message.send]: (req) => chat.send(req),
      [Commands.message.history]: (req) => chat.history(req),
      [Commands.message.read]: (req) => chat.read(req),
      [Commands.message.clear]: (req) => chat.clear(req),
      [Commands.message.sync]: (req) => chat.sync(req),
      [Commands.message.unread]: (req) => chat.unreadCounts(req),

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
