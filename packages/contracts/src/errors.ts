/**
 * The error catalogue. Every failure that crosses a process boundary carries
 * one of these codes; codes are stable and never reused for a new meaning.
 * `status` is the HTTP status the gateway answers with for HTTP APIs and the
 * NATS service error code (nats.js services convention) on the wire.
 */
export const ErrorCatalogue = {
  CHAT_BAD_REQUEST: { status: 400, message: 'The request is malformed or has invalid fields' },
  CHAT_UNKNOWN_TYPE: { status: 400, message: 'Unknown request type' },
  CHAT_CONTENT_TOO_LARGE: { status: 413, message: 'Content exceeds the configured limit' },
  CHAT_UNAUTHENTICATED: { status: 401, message: 'Login required' },
  CHAT_TOKEN_INVALID: { status: 401, message: 'The token is invalid, expired or revoked' },
  CHAT_BAD_CREDENTIALS: { status: 401, message: 'Wrong username or password' },
  CHAT_CURRENT_PASSWORD_INVALID: { status: 403, message: 'Changing the password requires the correct current password' },
  CHAT_FORBIDDEN: { status: 403, message: 'Not allowed' },
  CHAT_ID_MISMATCH: { status: 403, message: 'A user id in the request is not the logged-in user' },
  CHAT_NOT_MEMBER: { status: 403, message: 'Not a member of this conversation' },
  CHAT_BLOCKED: { status: 403, message: 'The user does not accept this from you' },
  CHAT_ROOM_FULL: { status: 403, message: 'The room is full' },
  CHAT_NOT_FOUND: { status: 404, message: 'No such resource' },
  CHAT_USER_NOT_FOUND: { status: 404, message: 'No such user' },
  CHAT_CONVERSATION_NOT_FOUND: { status: 404, message: 'No such conversation' },
  CHAT_MESSAGE_NOT_FOUND: { status: 404, message: 'No such message' },
  CHAT_FILE_NOT_FOUND: { status: 404, message: 'No such file' },
  CHAT_CONTACT_NOT_FOUND: { status: 404, message: 'No such contact' },
  CHAT_USERNAME_TAKEN: { status: 409, message: 'The username is taken' },
  CHAT_EMAIL_TAKEN: { status: 409, message: 'The e-mail address is taken' },
  CHAT_CONTACT_EXISTS: { status: 409, message: 'Already exists' },
  CHAT_SELF_TARGET: { status: 400, message: 'You cannot do this with yourself' },
  CHAT_RATE_LIMITED: { status: 429, message: 'Too many requests' },
  CHAT_LOGIN_THROTTLED: { status: 429, message: 'Too many failed logins; try again later' },
  CHAT_UNAVAILABLE: { status: 503, message: 'The service is unavailable, try again' },
  CHAT_BUSY: { status: 503, message: 'The service is busy; try again shortly' },
  CHAT_TIMEOUT: { status: 504, message: 'The service did not answer in time, try again' },
  CHAT_INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>

/** A stable error code from {@link ErrorCatalogue}. */
export type ErrorCode = keyof typeof ErrorCatalogue

/** Codes a client may retry unchanged: the failure was ours, not the request's. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['CHAT_UNAVAILABLE', 'CHAT_BUSY', 'CHAT_TIMEOUT', 'CHAT_INTERNAL'])

/** The serialisable form of an error, as it crosses NATS. */
export interface ErrorData {
  code: ErrorCode
  message: string
  /** Seconds until the same request may succeed, when the error says (HTTP `Retry-After`). */
  retryAfterSeconds?: number
}

/**
 * A domain error with a stable code. Thrown by services, sent over NATS as
 * data, rebuilt by the caller, and mapped by each API adapter to its own
 * failure shape.
 */
export class ChatError extends Error {
  override name = 'ChatError'
  readonly code: ErrorCode
  readonly status: number
  /** Seconds until the same request may succeed (CHAT_LOGIN_THROTTLED, CHAT_BUSY), for HTTP `Retry-After`. */
  readonly retryAfterSeconds?: number

  constructor (code: ErrorCode, message?: string, options?: { cause?: unknown, retryAfterSeconds?: number }) {
    super(message ?? ErrorCatalogue[code].message, options)
    this.code = code
    this.status = ErrorCatalogue[code].status
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds
  }

  /** Whether the same request may succeed when sent again. */
  get retryable (): boolean {
    return RETRYABLE.has(this.code)
  }

  toData (): ErrorData {
    const data: ErrorData = { code: this.code, message: this.message }
    if (this.retryAfterSeconds !== undefined) data.retryAfterSeconds = this.retryAfterSeconds
    return data
  }

  static fromData (data: { code?: unknown, message?: unknown, retryAfterSeconds?: unknown }): ChatError {
    const code = isErrorCode(data.code) ? data.code : 'CHAT_INTERNAL'
    const retry = data.retryAfterSeconds
    // Only a sane whole number of seconds is passed on (it becomes an HTTP header).
    const retryAfterSeconds = Number.isSafeInteger(retry) && (retry as number) >= 0 ? retry as number : undefined
    return new ChatError(code, typeof data.message === 'string' ? data.message : undefined, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds })
  }
}

/**
 * The `error` field of an HTTP error body: the code without its `CHAT_`
 * prefix, in lower case (`CHAT_ROOM_FULL` → `room_full`), the form the HTTP
 * documents show. One rule, so both forms are equally stable.
 */
export function httpErrorCode (code: ErrorCode): string {
  return code.replace(/^CHAT_/, '').toLowerCase()
}

/** Type guard for codes in the catalogue. */
export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCatalogue, value)
}
