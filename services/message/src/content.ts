import { ChatError, NAME_FORBIDDEN_CHARS, type MessageKind } from '@chat/contracts'

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

/** What content is checked against. */
export interface ContentRules {
  /** Longest content, in characters (MESSAGE_MAX_LENGTH). */
  maxLength: number
  /**
   * The gateways' PUBLIC_URL without trailing slashes ('' when they hand out
   * relative file URLs): `<publicUrl>/files/<id>` is one of our files.
   */
  publicUrl: string
}

/** Our file URL as a gateway without PUBLIC_URL hands it out. */
const RELATIVE_FILE_URL = /^\/files\/(\d+)$/

/** The id part of `<publicUrl>/files/<id>`. */
const FILE_ID = /^\d+$/

/**
 * Characters no URL we accept may contain: whitespace, a backslash (which
 * browsers read as `/` while other parsers do not, so the host a user sees
 * could differ from the one fetched), and the controls and bidi marks no
 * name may contain either (they make a URL display as another one).
 */
const URL_FORBIDDEN_CHAR = new RegExp(`[\\s\\\\${NAME_FORBIDDEN_CHARS}]`, 'u')

/**
 * `http://` or `https://` (any case) and then a host: the URL parser would
 * read `https:///x` as the host `x`, which the sender did not write.
 */
const WEB_URL_START = /^https?:\/\/[^/?#]/i

/** Number of characters (code points, so an emoji counts once). */
export function characterCount (s: string): number {
  return [...s].length
}

function fileId (digits: string): number {
  const id = Number(digits)
  if (!Number.isSafeInteger(id) || id < 1) throw new ChatError('CHAT_BAD_REQUEST', 'content: not a valid file id')
  return id
}

/**
 * The file id when `content` is one of our file URLs (`/files/<id>`, or
 * `<publicUrl>/files/<id>`), else undefined. Throws when it is one but the
 * id is not a valid id (zero, or too large to be exact).
 */
export function ourFileId (content: string, publicUrl: string): number | undefined {
  const relative = RELATIVE_FILE_URL.exec(content)
  if (relative) return fileId(relative[1] as string)
  const prefix = `${publicUrl}/files/`
  if (publicUrl !== '' && content.startsWith(prefix)) {
    const rest = content.slice(prefix.length)
    if (FILE_ID.test(rest)) return fileId(rest)
  }
  return undefined
}

/**
 * Whether `content` is an absolute http(s) URL we store and pass on as
 * sent: it names a host, carries no `user:password@` (which makes
 * `https://bank.example@evil.example/` look like the bank), and has none of
 * {@link URL_FORBIDDEN_CHAR}. Every other scheme (`javascript:`, `data:`,
 * `file:`, …) and every relative reference is refused: clients render these
 * as links and images.
 */
export function isWebUrl (content: string): boolean {
  if (!WEB_URL_START.test(content) || URL_FORBIDDEN_CHAR.test(content)) return false
  let url: URL
  try {
    url = new URL(content)
  } catch {
    return false
  }
  return url.hostname !== '' && url.username === '' && url.password === ''
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
 *
 * Image, file and audio content is a URL: one of our files (the caller then
 * checks the file, see ContentCheck), or any web URL, kept as sent. Clients
 * of APIs without an upload call can only send a URL they already have.
 */
export function checkContent (kind: MessageKind, content: string, rules: ContentRules): ContentCheck {
  const { maxLength } = rules
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
    case 'file':
    case 'audio': {
      const fileId = ourFileId(content, rules.publicUrl)
      if (fileId !== undefined) return { fileId }
      if (isWebUrl(content)) return {}
      throw new ChatError('CHAT_BAD_REQUEST', `content: ${kind === 'image' ? 'an' : 'a'} ${kind} message is an http(s) URL or the /files/<id> URL of an uploaded file`)
    }
    default: {
      const never: never = kind
      throw new ChatError('CHAT_BAD_REQUEST', `kind: unknown message kind ${String(never)}`)
    }
  }
}
