import type { ChatError, RoomEvent, Session, UserEvent } from '@chat/contracts'
import type { CommandClient, Logger } from '@chat/runtime'
import type { Authenticate } from './session.js'
import type { FileStore } from './files.js'
import type { UserDirectory } from './user-directory.js'

/** One outgoing JSON frame. */
export type Frame = Record<string, unknown>

/** What every API adapter may call: the same services, whatever the dialect. */
export interface ApiServices {
  commands: CommandClient
  authenticate: Authenticate
  files: FileStore
  /** Usernames ↔ ids, for the APIs that name users by username. */
  users: UserDirectory
}

/** What an adapter sees of the socket it serves. */
export interface ConnectionContext {
  /** Cluster-unique socket id (`<gatewayId>:<n>`). */
  readonly id: string
  readonly session: Session | undefined
  readonly services: ApiServices
  /** This socket's logger, for work nobody can be answered about (receipts, pushes). */
  readonly logger: Logger
  /** Per-socket state of the adapter (e.g. the `events` API's current chat); empty at connect. */
  readonly local: Record<string, unknown>
  /** The logged-in session; throws CHAT_UNAUTHENTICATED otherwise. */
  requireSession(): Session
  /** Binds the socket to a session: it starts receiving that user's events and counts as online. */
  login(session: Session): Promise<void>
  /** Unbinds the socket from its session; it may log in again. */
  logout(): void
  /** Updates the profile fields cached in the session after a change. */
  updateSession(patch: Partial<Session['user']>): void
  send(frame: Frame): void
  /** Closes the socket (see CloseCodes); the adapter's `closed` hook still runs. */
  close(code: number, reason: string): void
}

/**
 * A WebSocket API dialect. Adapters only translate: frame → command →
 * frame, event → frame. Anything that decides (authorization beyond "is this
 * id yours", validation of content, state) lives in the services.
 */
export interface WsApi<Req> {
  readonly name: string
  /** Validates one parsed JSON frame into a request; throws a ChatError. */
  decode(frame: unknown): Req
  /** Answers a request with zero or more frames. */
  handle(ctx: ConnectionContext, req: Req): Promise<Frame | Frame[] | undefined>
  /** The frame that answers a failed request (`req` is undefined when it didn't decode). */
  failure(req: Req | undefined, frame: unknown, err: ChatError): Frame
  /** Frames (possibly none) for an event addressed to this socket's user. */
  render(ctx: ConnectionContext, event: UserEvent): Frame[]
  /** Frames (possibly none) for an event of a room this socket's user belongs to. */
  renderRoom(ctx: ConnectionContext, event: RoomEvent): Frame[]
  /** The last frame before a socket is closed because its session was revoked. */
  revoked(ctx: ConnectionContext): Frame | undefined
  /** Runs once when the socket has closed, for whatever reason, while the session is still known. */
  closed?(ctx: ConnectionContext): void
}
