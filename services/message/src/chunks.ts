import { ChatError } from '@chat/contracts'

/** Pure arithmetic of a file split into fixed-size chunks (GridFS layout). */

/** How many chunks a file of `length` bytes has. */
export function chunkCount (length: number, chunkSize: number): number {
  return Math.ceil(length / chunkSize)
}

/** The exact byte length chunk `n` must have: full, except possibly the last. */
export function expectedChunkLength (length: number, chunkSize: number, n: number): number {
  const count = chunkCount(length, chunkSize)
  if (!Number.isInteger(n) || n < 0 || n >= count) throw new ChatError('CHAT_BAD_REQUEST', `n: chunk ${n} is out of range 0..${count - 1}`)
  return n < count - 1 ? chunkSize : length - (count - 1) * chunkSize
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Decodes standard padded base64, refusing anything else. Node's decoder
 * silently skips invalid characters, which would turn a corrupted upload into
 * a wrong file instead of an error.
 */
export function decodeBase64Strict (data: string): Buffer {
  if (!BASE64.test(data)) throw new ChatError('CHAT_BAD_REQUEST', 'data: not valid base64')
  return Buffer.from(data, 'base64')
}
