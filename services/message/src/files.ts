import { Binary, type Collection, type Db, type ObjectId } from 'mongodb'
import { ChatError, FILE_CHUNK_SIZE, type FileInfo } from '@chat/contracts'
import { chunkCount, decodeBase64Strict, expectedChunkLength } from './chunks.js'
import type { ConversationStore } from './conversations.js'
import { memberKey } from './keys.js'
import { retryOnDuplicate } from './retry.js'

/**
 * Files in GridFS layout (bucket `fs`), so standard GridFS tools can read
 * them, but written chunk by chunk through commands rather than a GridFS
 * stream: a NATS message is limited to 1 MB and any replica may take any
 * chunk, so no process holds an upload open.
 */
export interface FileDoc {
  _id: number
  /** The declared size in bytes; chunks must add up to exactly this. */
  length: number
  chunkSize: number
  uploadDate: Date
  filename: string
  metadata: {
    ownerId: number
    contentType: string
    /** Set by commit once every chunk is stored; only complete files can be sent or read. */
    complete: boolean
    /** Conversations a message referenced the file in; their members may read it. */
    conversationIds: number[]
  }
}

export interface ChunkDoc {
  _id?: ObjectId
  files_id: number
  n: number
  data: Binary
}

export function toFileInfo (doc: FileDoc): FileInfo {
  return {
    id: doc._id,
    ownerId: doc.metadata.ownerId,
    name: doc.filename,
    contentType: doc.metadata.contentType,
    size: doc.length,
    chunkSize: doc.chunkSize,
    chunks: chunkCount(doc.length, doc.chunkSize),
    createdAt: doc.uploadDate.toISOString(),
  }
}

/** Chunked file storage and its access rules. */
export class FileStore {
  readonly files: Collection<FileDoc>
  readonly chunks: Collection<ChunkDoc>

  constructor (
    db: Db,
    private readonly conversations: ConversationStore,
    private readonly opts: { maxBytes: number, chunkSize?: number }
  ) {
    this.files = db.collection<FileDoc>('fs.files')
    this.chunks = db.collection<ChunkDoc>('fs.chunks')
  }

  async init (): Promise<void> {
    await Promise.all([
      // The indexes the GridFS specification has drivers create.
      this.chunks.createIndex({ files_id: 1, n: 1 }, { unique: true, name: 'files_id_1_n_1' }),
      this.files.createIndex({ filename: 1, uploadDate: 1 }, { name: 'filename_1_uploadDate_1' }),
    ])
  }

  get chunkSize (): number {
    return this.opts.chunkSize ?? FILE_CHUNK_SIZE
  }

  byId (id: number): Promise<FileDoc | null> {
    return this.files.findOne({ _id: id })
  }

  /** Starts an upload; the client then puts every chunk and commits. */
  async create (id: number, ownerId: number, name: string, contentType: string, size: number): Promise<FileDoc> {
    if (size > this.opts.maxBytes) throw new ChatError('CHAT_CONTENT_TOO_LARGE', `size: larger than ${this.opts.maxBytes} bytes`)
    const doc: FileDoc = {
      _id: id,
      length: size,
      chunkSize: this.chunkSize,
      uploadDate: new Date(),
      filename: name,
      metadata: { ownerId, contentType, complete: false, conversationIds: [] },
    }
    await this.files.insertOne(doc)
    return doc
  }

  /** The file if the actor owns it and may still upload to it. */
  private async uploading (actorId: number, fileId: number): Promise<FileDoc> {
    const file = await this.byId(fileId)
    if (!file) throw new ChatError('CHAT_FILE_NOT_FOUND')
    if (file.metadata.ownerId !== actorId) throw new ChatError('CHAT_FORBIDDEN', 'Only the uploader may do this')
    return file
  }

  /**
   * Stores one chunk. Idempotent (an upsert on {files_id, n}), so a client
   * may resend a chunk whose reply it lost, to any replica.
   */
  async putChunk (actorId: number, fileId: number, n: number, base64: string): Promise<void> {
    const file = await this.uploading(actorId, fileId)
    if (file.metadata.complete) throw new ChatError('CHAT_BAD_REQUEST', 'The file is already committed')
    const expected = expectedChunkLength(file.length, file.chunkSize, n)
    const data = decodeBase64Strict(base64)
    if (data.length !== expected) throw new ChatError('CHAT_BAD_REQUEST', `data: chunk ${n} must be ${expected} bytes, got ${data.length}`)
    await retryOnDuplicate(() => this.chunks.updateOne(
      { files_id: fileId, n },
      { $set: { data: new Binary(data) } },
      { upsert: true }
    ))
  }

  /** Marks the file complete once every chunk is stored. Committing twice is fine. */
  async commit (actorId: number, fileId: number): Promise<FileDoc> {
    const file = await this.uploading(actorId, fileId)
    if (file.metadata.complete) return file
    const expected = chunkCount(file.length, file.chunkSize)
    // putChunk only accepts n in range and {files_id, n} is unique, so the
    // count alone proves every chunk is there.
    const stored = await this.chunks.countDocuments({ files_id: fileId })
    if (stored !== expected) throw new ChatError('CHAT_BAD_REQUEST', `${expected - stored} of ${expected} chunks are missing`)
    const done = await this.files.findOneAndUpdate({ _id: fileId }, { $set: { 'metadata.complete': true } }, { returnDocument: 'after' })
    if (!done) throw new ChatError('CHAT_FILE_NOT_FOUND')
    return done
  }

  /**
   * A complete file the sender may attach to a message: theirs. Anything
   * else reads as not found, so others' file ids are not probed this way.
   */
  async attachable (actorId: number, fileId: number): Promise<FileDoc> {
    const file = await this.byId(fileId)
    if (!file || !file.metadata.complete || file.metadata.ownerId !== actorId) throw new ChatError('CHAT_FILE_NOT_FOUND')
    return file
  }

  /** Lets members of a conversation read a file sent there. */
  async linkConversation (fileId: number, conversationId: number): Promise<void> {
    await this.files.updateOne({ _id: fileId }, { $addToSet: { 'metadata.conversationIds': conversationId } })
  }

  /**
   * A complete file the actor may read: the owner, or a member of any
   * conversation it was sent in.
   */
  async readable (actorId: number, fileId: number): Promise<FileDoc> {
    const file = await this.byId(fileId)
    if (!file || !file.metadata.complete) throw new ChatError('CHAT_FILE_NOT_FOUND')
    if (file.metadata.ownerId === actorId) return file
    const ids = file.metadata.conversationIds
    if (ids.length > 0) {
      const member = await this.conversations.members.countDocuments(
        { _id: { $in: ids.map((c) => memberKey(c, actorId)) } }, { limit: 1 })
      if (member > 0) return file
    }
    throw new ChatError('CHAT_FORBIDDEN', 'You may not read this file')
  }

  /** One chunk of a readable file, as base64. */
  async getChunk (actorId: number, fileId: number, n: number): Promise<string> {
    const file = await this.readable(actorId, fileId)
    expectedChunkLength(file.length, file.chunkSize, n) // range check
    const chunk = await this.chunks.findOne({ files_id: fileId, n })
    if (!chunk) throw new ChatError('CHAT_FILE_NOT_FOUND', `chunk ${n} is missing`)
    return Buffer.from(chunk.data.buffer).toString('base64')
  }
}
