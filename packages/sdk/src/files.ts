/**
 * File and image upload through the gateway's `POST /files?name=` (raw bytes
 * as the body, `Authorization: Bearer <token>`), which answers
 * `{id, url}`; the URL is then sent as an `image`, `file` or `audio`
 * message. HTTP errors are `{error: "file_not_found", message}`, turned back
 * into the catalogue's code (`CHAT_FILE_NOT_FOUND`).
 */
import { ChatSdkError } from './errors.js'

/** A Blob or File (browsers, Node 20), described by the little the upload reads of it. */
export interface BlobLike {
  readonly size: number
  readonly type: string
  arrayBuffer: () => Promise<ArrayBuffer>
}

/** The bytes of a file: a Blob or File, a Uint8Array / Buffer, an ArrayBuffer, or text. */
export type FileBody = BlobLike | ArrayBuffer | Uint8Array | string

/** The part of fetch the upload needs. */
export type FetchLike = (url: string, init: { method: string, headers: Record<string, string>, body: unknown }) => Promise<{
  status: number
  ok: boolean
  text: () => Promise<string>
}>

/** What `POST /files` answers. */
export interface UploadedFile {
  id: number
  /** `/files/<id>` (or absolute, when the server sets PUBLIC_URL): the content of the message that shares it. */
  url: string
}

/** The HTTP origin of a gateway WebSocket URL: `ws://h:8080/ws` → `http://h:8080`. */
export function httpBaseOf (wsUrl: string): string {
  const m = /^(wss?):\/\/([^/?#]+)/i.exec(wsUrl)
  if (m === null) throw new TypeError(`not a WebSocket URL: ${wsUrl}`)
  return `${(m[1] as string).toLowerCase() === 'wss' ? 'https' : 'http'}://${m[2] as string}`
}

/** Uploads one file; rejects with the server's code (`CHAT_CONTENT_TOO_LARGE`, ...) or `SDK_HTTP`. */
export async function uploadFile (fetchImpl: FetchLike, baseUrl: string, token: string, body: FileBody, opts: { name: string, contentType?: string }): Promise<UploadedFile> {
  const url = `${baseUrl.replace(/\/$/, '')}/files?name=${encodeURIComponent(opts.name)}`
  const type = opts.contentType ?? ((body as { type?: unknown }).type as string | undefined) ?? 'application/octet-stream'
  let res: Awaited<ReturnType<FetchLike>>
  try {
    res = await fetchImpl(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type || 'application/octet-stream' }, body })
  } catch (err) {
    throw new ChatSdkError('SDK_HTTP', `upload failed: ${(err as Error).message}`, { cause: err })
  }
  const text = await res.text()
  let json: { id?: unknown, url?: unknown, error?: unknown, message?: unknown } = {}
  try {
    json = JSON.parse(text) as typeof json
  } catch {
    // Not JSON (a proxy's error page): reported below with the status.
  }
  if (res.ok && typeof json.id === 'number' && typeof json.url === 'string') return { id: json.id, url: json.url }
  if (typeof json.error === 'string') {
    throw new ChatSdkError(`CHAT_${json.error.toUpperCase()}`, typeof json.message === 'string' ? json.message : json.error)
  }
  throw new ChatSdkError('SDK_HTTP', `upload failed with HTTP ${res.status}`)
}
