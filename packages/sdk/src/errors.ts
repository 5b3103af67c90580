/**
 * Errors the SDK rejects with. A failure the server answered carries the
 * server's stable `code` from its error catalogue (docs/errors.md); failures
 * the SDK itself detects carry an `SDK_` code, so one `switch (err.code)`
 * handles both.
 */

/** Codes the SDK raises itself (never sent by the server). */
export const SdkErrorCodes = {
  /** No answer within the request timeout; the request may or may not have been done. */
  SDK_TIMEOUT: 'SDK_TIMEOUT',
  /** The connection dropped before the answer came; the request may or may not have been done. */
  SDK_CONNECTION_LOST: 'SDK_CONNECTION_LOST',
  /** The client was closed (close() or logout()) before the request was answered. */
  SDK_CLOSED: 'SDK_CLOSED',
  /** The session ended (revoked, expired without a password to log in again, or a refused login). */
  SDK_SESSION_ENDED: 'SDK_SESSION_ENDED',
  /** The HTTP upload failed without a JSON error body (network, proxy). */
  SDK_HTTP: 'SDK_HTTP',
} as const

/** Server codes a client may send again unchanged (docs/api-typed.md, Errors). */
const RETRYABLE_SERVER_CODES: ReadonlySet<string> = new Set(['CHAT_UNAVAILABLE', 'CHAT_TIMEOUT', 'CHAT_INTERNAL', 'CHAT_BUSY'])

/** A failed request: the server's failure payload, or an SDK condition. */
export class ChatSdkError extends Error {
  override name = 'ChatSdkError'
  /** A server code (`CHAT_…`, see the server's error catalogue) or an `SDK_…` code. */
  readonly code: string
  /** Seconds until the same request may succeed, when the server said (`retryAfter`). */
  readonly retryAfter?: number
  /** The client message id a failed send carried, echoed by the server. */
  readonly messageId?: string | number
  /** The failure frame's type (`MESSAGE_SEND_FAILURE`, ...), when the server answered. */
  readonly frameType?: string

  constructor (code: string, message: string, details: { retryAfter?: number, messageId?: string | number, frameType?: string, cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter
    if (details.messageId !== undefined) this.messageId = details.messageId
    if (details.frameType !== undefined) this.frameType = details.frameType
  }

  /**
   * Whether sending the same request again may succeed: the server's
   * retryable codes, a timeout and a lost connection (for sends, safe
   * because the retry carries the same client message id).
   */
  get retryable (): boolean {
    return RETRYABLE_SERVER_CODES.has(this.code) || this.code === 'SDK_TIMEOUT' || this.code === 'SDK_CONNECTION_LOST'
  }

  /** Builds the error from a failure frame's payload `{error, code, retryAfter?, messageId?}`. */
  static fromFailure (frameType: string, payload: unknown): ChatSdkError {
    const p = (payload ?? {}) as { error?: unknown, code?: unknown, retryAfter?: unknown, messageId?: unknown }
    const code = typeof p.code === 'string' ? p.code : 'CHAT_INTERNAL'
    const message = typeof p.error === 'string' ? p.error : frameType
    const details: { retryAfter?: number, messageId?: string | number, frameType: string } = { frameType }
    if (typeof p.retryAfter === 'number') details.retryAfter = p.retryAfter
    if (typeof p.messageId === 'string' || typeof p.messageId === 'number') details.messageId = p.messageId
    return new ChatSdkError(code, message, details)
  }
}

/** The retryable server codes, exported for the test that keeps them in step with the catalogue. */
export const retryableServerCodes = (): string[] => [...RETRYABLE_SERVER_CODES]
