import { ChatError, type MessageKind } from '@chat/contracts'

/**
 * Pure validation of message content per kind. It needs no I/O: what it
 * cannot decide alone (whether a referenced file exists, is complete and
 * belongs to the sender) it returns for the caller to check.
 */

/** What the caller still has to verify about valid content. */
export interface ContentCheck {
  /** The id of one of our files the content references. */
  fileId?: number
}

/**
 * A URL of one of our files: `…/files/<id>`, absolute or relative. The
 * gateway serves files under that path, and ids are plain integers.
 */
const FILE_URL = /(^|\/)files\/(\d+)$/

/** Number of characters (code points, so an emoji counts once). */
export function characterCount (s: string): number {
  return [...s].length
}

/**
 * The file id a content string references, or undefined when it does not
 * look like one of our file URLs. Throws when it does but the id is not a
 * valid id (zero, or too large to be exact).
 */
export function fileIdFromUrl (content: string): number | undefined {
  const match = FILE_URL.exec(content)
  if (!match) return undefined
  const id = Number(match[2])
  if (!Number.isSafeInteger(id) || id < 1) throw new ChatError('CHAT_BAD_REQUEST', 'content: not a valid file id')
  return id
}

function isCoordinate (value: unknown, limit: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= -limit && value <= limit
}

/**
 * A location is JSON `{"latitude": -90..90, "longitude": -180..180}`. Other
 * properties (a place name, an accuracy) are allowed and kept as sent, so
 * clients can add to the format without a server change.
 */
export function isLocation (content: string): boolean {
  let value: unknown
  try {
    value = JSON.parse(content)
  } catch {
    return false
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const { latitude, longitude } = value as { latitude?: unknown, longitude?: unknown }
  return isCoordinate(latitude, 90) && isCoordinate(longitude, 180)
}

/**
 * Checks content against its kind and the length limit; throws a ChatError
 * (CHAT_CONTENT_TOO_LARGE or CHAT_BAD_REQUEST) when it is not acceptable.
 */
export function checkContent (kind: MessageKind, content: string, maxLength: number): ContentCheck {
  // Cheap bound first: a string never has more code points than UTF-16 units.
  if (content.length > maxLength && characterCount(content) > maxLength) {
    throw new ChatError('CHAT_CONTENT_TOO_LARGE', `content: longer than ${maxLength} characters`)
  }
  if (content.length === 0) throw new ChatError('CHAT_BAD_REQUEST', 'content: must not be empty')
  switch (kind) {
    case 'text':
    case 'customize':
    case 'sticker':
      return {}
    case 'location':
      if (!isLocation(content)) {
        throw new ChatError('CHAT_BAD_REQUEST', 'content: a location is JSON {"latitude": -90..90, "longitude": -180..180}')
      }
      return {}
    case 'image':
    case 'file': {
      const fileId = fileIdFromUrl(content)
      if (fileId === undefined) throw new ChatError('CHAT_BAD_REQUEST', `content: a ${kind} message is the URL of an uploaded file (…/files/<id>)`)
      return { fileId }
    }
    case 'audio': {
      // Audio may also be an external reference (e.g. a voice-note service);
      // only when it points at one of our files do the file rules apply.
      const fileId = fileIdFromUrl(content)
      return fileId === undefined ? {} : { fileId }
    }
    default: {
      const never: never = kind
      throw new ChatError('CHAT_BAD_REQUEST', `kind: unknown message kind ${String(never)}`)
    }
  }
}
