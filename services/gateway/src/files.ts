import { Readable } from 'node:stream'
import { ChatError, Commands, type FileInfo } from '@chat/contracts'
import type { Actor } from './actor.js'

/** Uploads run this many chunk requests at once: enough to fill the pipe, few enough to stay polite. */
const UPLOAD_PARALLELISM = 4

/**
 * Moves file bytes between clients and the message service, chunk by chunk,
 * so no NATS message exceeds its payload limit and any service replica can
 * take any chunk. The gateway never holds more than one file in memory.
 */
export class FileStore {
  constructor (
    private readonly publicUrl: string,
    readonly maxBytes: number
  ) {}

  /** The URL under which a file is served, as put into file and image messages. */
  urlOf (fileId: number): string {
    return `${this.publicUrl}/files/${fileId}`
  }

  /**
   * The avatar a list shows for a user: their own short URL, else (a data
   * URI lists don't carry) where the gateway serves it, else empty.
   */
  avatarOf (userId: number, listed: { avatar: string, hasAvatar?: boolean }): string {
    if (listed.avatar !== '') return listed.avatar
    return listed.hasAvatar === true ? `${this.publicUrl}/users/${userId}/avatar` : ''
  }

  async upload (actor: Actor, name: string, contentType: string, body: Buffer): Promise<FileInfo> {
    if (body.length > this.maxBytes) throw new ChatError('CHAT_CONTENT_TOO_LARGE', `files are limited to ${this.maxBytes} bytes`)
    const { fileId, chunkSize } = await actor.call(Commands.message.fileCreate, { name, contentType, size: body.length })
    const count = Math.ceil(body.length / chunkSize)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < count) {
        const n = next++
        const data = body.subarray(n * chunkSize, (n + 1) * chunkSize).toString('base64')
        await actor.call(Commands.message.fileChunkPut, { fileId, n, data })
      }
    }
    await Promise.all(Array.from({ length: Math.min(UPLOAD_PARALLELISM, count) }, worker))
    const { file } = await actor.call(Commands.message.fileCommit, { fileId })
    return file
  }

  /** Checks access and returns the metadata plus a stream of the content. */
  async open (actor: Actor, fileId: number): Promise<{ file: FileInfo, stream: Readable }> {
    const { file } = await actor.call(Commands.message.fileOpen, { fileId })
    async function * chunks (): AsyncGenerator<Buffer> {
      for (let n = 0; n < file.chunks; n++) {
        const { data } = await actor.call(Commands.message.fileChunkGet, { fileId, n })
        yield Buffer.from(data, 'base64')
      }
    }
    return { file, stream: Readable.from(chunks()) }
  }
}

const EXTENSION_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  zip: 'application/zip',
}

/** A content type for a file that arrived without one (WebSocket uploads). */
export function contentTypeFor (name: string): string {
  const ext = /\.([A-Za-z0-9]{1,8})$/.exec(name)?.[1]?.toLowerCase()
  return (ext && EXTENSION_TYPES[ext]) ?? 'application/octet-stream'
}

/** Image types browsers render without running script (SVG is excluded on purpose). */
export function isInlineSafe (contentType: string): boolean {
  return /^image\/(png|jpeg|gif|webp|bmp)$/.test(contentType)
}

/**
 * Turns a client's base64 pieces into bytes. Clients either split one base64
 * string anywhere or encode each piece on its own (padding inside the list):
 * pieces that are all whole 4-character groups are decoded one by one, which
 * is right for both; otherwise the string is joined first. Anything that is
 * not base64 is refused (Buffer.from would silently skip bad characters).
 */
export function decodeBase64Parts (parts: string[], maxBytes: number): Buffer {
  const estimate = parts.reduce((sum, p) => sum + Math.floor(p.length * 3 / 4), 0)
  if (estimate > maxBytes + 2 * parts.length) {
    throw new ChatError('CHAT_CONTENT_TOO_LARGE', `files are limited to ${maxBytes} bytes`)
  }
  const wellFormed = (s: string) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 !== 1
  let bytes: Buffer
  if (parts.every((p) => p.length % 4 === 0 && wellFormed(p))) {
    bytes = Buffer.concat(parts.map((p) => Buffer.from(p, 'base64')))
  } else {
    const joined = parts.join('')
    if (!wellFormed(joined)) throw new ChatError('CHAT_BAD_REQUEST', 'file content must be base64')
    bytes = Buffer.from(joined, 'base64')
  }
  if (bytes.length > maxBytes) throw new ChatError('CHAT_CONTENT_TOO_LARGE', `files are limited to ${maxBytes} bytes`)
  return bytes
}
