import type { ChatError, LiveEvent, Session } from '@chat/contracts'
import type { Logger } from '@chat/runtime'
import type { Actor, PublicCommands } from './actor.js'
import type { Authenticate } from './session.js'
import type { FileStore } from './files.js'
import type { UserDirectory } from './user-directory.js'

/** One outgoing JSON frame. */
export type Frame = Record<string, unknown>

/** What every API adapter may call: the same services, whatever the dialect. */
export interface ApiServices {
  /** The commands that work before login (register, login, tickets, names): none acts as a user. */
  commands: PublicCommands
  /** Binds a verified session: the only way an adapter acts as a user (see actor.ts). */
  act(session: Session): Actor
  authenticate: Authenticate
  files: FileStore
  /** Usernames ↔ ids, for the APIs that name users by username. */
  users: UserDirectory
}

/** Work a socket's push queue runs in turn: frames to send, or a job that sends them itself. */
export type PushWork = Frame[] | (() => Promise<void> | void)

/** What an adapter sees of the socket it serves. */
export interface ConnectionContext<State = unknown> {
  /** Cluster-unique socket id (`<gatewayId>:<n>`). */
  readonly id: string
  /** The client's address (after TRUST_PROXY), for login throttling. */
  readonly clientAddress: string
  /** The logged-in user, acting; undefined before login. */
  readonly actor: Actor | undefined
  readonly services: ApiServices
  /** This socket's logger, for work nobody can be answered about (receipts, pushes). */
  readonly logger: Logger
  /** The adapter's per-socket state, made by its `createState` at connect. */
  readonly state: State
  /** Binds the socket to a session: it starts receiving that user's events and counts as online. */
  login(session: Session): Promise<Actor>
  /** Unbinds the socket from its session; it may log in again. */
  logout(): void
  /** Updates the profile fields cached in the session after a change. */
  updateSession(patch: Partial<Session['user']>): void
  /** Sends an answer now. */
  send(frame: Frame): void
  /**
   * Queues a push behind the earlier ones, so a socket sees pushes in the
   * order their events came even when some wait for lookups. The queue is
   * bounded: a client that cannot keep up is closed (it reconnects and
   * catches up) rather than silently missing events.
   */
  push(work: PushWork): void
  /**
   * Runs an answer that is sent in several frames in the push queue's turn,
   * so no push interleaves with it, and resolves when it is done.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>
  /**
   * Runs this user's join of a room (the command) so that their sockets
   * here miss none of the room's events stored after the join, and get
   * none if it fails.
   */
  joinRoom<T>(roomId: number, join: () => Promise<T>): Promise<T>
  /** Closes the socket (see CloseCodes); the adapter's `closed` hook still runs. */
  close(code: number, reason: string): void
}

/** A decoded request: its type picks the handler, its payload is what the handler gets. */
export interface WsRequest {
  readonly type: string
  readonly payload: unknown
}

/** The payload type of one request type. */
export type PayloadOf<Req extends WsRequest, T extends Req['type']> = Extract<Req, { type: T }>['payload']

/**
 * Answers one request. `actor` is the logged-in user: the dispatcher
 * refuses a request that needs a session before its handler runs, so only
 * handlers of public requests see `undefined`.
 */
export type WsHandler<State, Req extends WsRequest, T extends Req['type'], A extends Actor | undefined = Actor> =
  (ctx: ConnectionContext<State>, payload: PayloadOf<Req, T>, actor: A, req: Extract<Req, { type: T }>) =>
  Promise<Frame | Frame[] | undefined>

/** Handlers by request type; public ones (listed in `publicTypes`) may run without a session. */
export type WsHandlers<State, Req extends WsRequest> = {
  [T in Req['type']]: WsHandler<State, Req, T, Actor> | WsHandler<State, Req, T, Actor | undefined>
}

/**
 * A WebSocket API dialect. Adapters only translate: frame → command →
 * frame, event → frame. Anything that decides (authorization beyond "is this
 * id yours", validation of content, state) lives in the services.
 */
export interface WsApi<Req extends WsRequest, State = undefined> {
  readonly name: string
  /** A fresh socket's state. */
  createState(): State
  /** Validates one parsed JSON frame into a request; throws a ChatError. */
  decode(frame: unknown): Req
  /** One handler per request type, called by the connection's dispatcher. */
  readonly handlers: WsHandlers<State, Req>
  /** Request types that work before login. */
  readonly publicTypes: ReadonlySet<string>
  /**
   * For requests that may run while the socket's earlier requests still do
   * (sends): a key naming what must keep its order (the conversation), so
   * one client's messages there are stored in the order sent. Requests
   * without a key wait for everything before them to be answered.
   */
  pipelineKey?(req: Req): string | undefined
  /** The frame that answers a failed request (`req` is undefined when it didn't decode). */
  failure(req: Req | undefined, frame: unknown, err: ChatError): Frame
  /** Runs after a failure was answered (e.g. to close a socket whose protocol allows no second try). */
  afterFailure?(ctx: ConnectionContext<State>, err: ChatError): void
  /**
   * Pushes (through ctx.push) what an event shows: one addressed to this
   * socket's user, or one of a room they belong to (a conversation's events
   * have one shape for both, see contracts/events.ts).
   */
  render(ctx: ConnectionContext<State>, event: LiveEvent): void
  /** The last frame before a socket is closed because its session was revoked. */
  revoked(ctx: ConnectionContext<State>): Frame | undefined
  /** Runs once when the socket has closed, for whatever reason, while the session is still known. */
  closed?(ctx: ConnectionContext<State>): void
}
