/**
 * The client's engine: one connection (reconnecting), the login on every
 * socket, request correlation, the outbox and the catch-up after each
 * login. ChatClient (client.ts) adds the API methods on top.
 */
import type { BackoffOptions } from './backoff.js'
import { catchUp, discoverUnread } from './catch-up.js'
import { Connection, type WebSocketConstructor } from './connection.js'
import { TypedEmitter } from './emitter.js'
import { ChatSdkError } from './errors.js'
import type { ChatEvents, ConnectionState } from './events.js'
import { Outbox } from './outbox.js'
import { routePush } from './pushes.js'
import { RequestTracker } from './requests.js'
import { Timeline, type Position } from './timeline.js'
import type { Frame, Session, SyncConversation } from './wire-types.js'

/** How to log in: a token, a username (or e-mail) and password, or a new account. */
export type Credentials =
  | { token: string, username?: undefined, password?: undefined }
  | { username: string, password: string, token?: undefined }

/** A new account (REGISTER). */
export interface Registration {
  username: string
  password: string
  email?: string
  avatar?: string
}

export interface ChatClientOptions {
  /** The gateway's WebSocket URL(s), e.g. `ws://host:8080/ws`; after a drop the next one is tried. */
  url: string | string[]
  /** A WebSocket constructor; default `globalThis.WebSocket` (Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructor
  /** Per-request timeout; default 10 000 ms. */
  requestTimeoutMs?: number
  /** Reconnect backoff; defaults 250 ms doubling up to 10 s, with jitter. */
  backoff?: BackoffOptions
  /** Random numbers in [0, 1) for the jitter (tests make it predictable). */
  random?: () => number
  /** Positions saved from an earlier session (`positions()`), caught up from at the first login. */
  positions?: Position[]
  /** The HTTP base URL for `POST /files`; default derived from the WebSocket URL in use. */
  httpUrl?: string
  /** A fetch function for uploads; default `globalThis.fetch`. */
  fetch?: unknown
}

type Auth = { kind: 'token', token: string, password?: { username: string, password: string } } | { kind: 'password', username: string, password: string } | { kind: 'register', registration: Registration }

export class ClientCore extends TypedEmitter<ChatEvents> {
  protected readonly options: ChatClientOptions
  protected readonly timeline: Timeline
  protected readonly outbox: Outbox
  readonly #tracker = new RequestTracker()
  readonly #connection: Connection
  #auth: Auth | null = null
  #session: Session | null = null
  #state: ConnectionState = 'idle'
  #loggedIn = false
  /** Counts logins, so a catch-up of an older socket stops. */
  #generation = 0
  #loginWaiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  #firstLogin: { resolve: (s: Session) => void, reject: (err: unknown) => void } | null = null

  constructor (options: ChatClientOptions) {
    super()
    this.options = options
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocketImpl === undefined) throw new TypeError('no WebSocket: pass the `WebSocket` option (e.g. the `ws` package) outside browsers')
    this.timeline = new Timeline((event, value) => this.emit(event, value), { positions: options.positions ?? [] })
    this.outbox = new Outbox({
      request: (type, payload) => this.#send(type, { ...payload, senderId: this.#session?.userId }, this.requestTimeoutMs),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.random === undefined ? {} : { random: options.random }),
    })
    this.#connection = new Connection({
      urls: Array.isArray(options.url) ? options.url : [options.url],
      WebSocket: WebSocketImpl,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.random === undefined ? {} : { random: options.random }),
      onOpen: () => { void this.#login() },
      onFrame: (frame) => this.#onFrame(frame),
      onClose: (code, reason) => this.#onClose(code, reason),
    })
  }

  /** The logged-in user (kept across reconnects), or null. */
  get session (): Session | null {
    return this.#session
  }

  /** The connection's state. */
  get state (): ConnectionState {
    return this.#state
  }

  /** The WebSocket URL in use (or last used). */
  get url (): string {
    return this.#connection.url
  }

  /** The position of every conversation followed; save it to resume a later session (option `positions`). */
  positions (): Position[] {
    return this.timeline.positions()
  }

  protected get requestTimeoutMs (): number {
    return this.options.requestTimeoutMs ?? 10_000
  }

  /**
   * Connects and logs in (with a token, or a username and password), then
   * stays connected until close() or logout(). Resolves with the session
   * at the first login; rejects if that login is refused.
   */
  connect (credentials: Credentials): Promise<Session> {
    if (credentials.token !== undefined) {
      this.#auth = { kind: 'token', token: credentials.token }
    } else {
      this.#auth = { kind: 'password', username: credentials.username, password: credentials.password }
    }
    return this.#start()
  }

  /** Registers a new account and stays connected as it (REGISTER logs the socket in). */
  register (registration: Registration): Promise<Session> {
    this.#auth = { kind: 'register', registration }
    return this.#start()
  }

  /** Closes the connection for good: waiting requests and unsent messages fail with `SDK_CLOSED`. */
  close (): void {
    this.#end(new ChatSdkError('SDK_CLOSED', 'the client was closed'), false)
  }

  /**
   * Sends a request and resolves with its answer frame; rejects with the
   * server's code, `SDK_TIMEOUT` or `SDK_CONNECTION_LOST`. Before the login
   * (or while reconnecting) it waits for it, within the same timeout.
   * `payload` may be a function of the caller's user id.
   */
  async request (type: string, payload: unknown = {}, timeoutMs = this.requestTimeoutMs): Promise<Frame> {
    const started = Date.now()
    if (!this.#loggedIn) await this.#waitForLogin(type, timeoutMs)
    // A payload naming the caller is built once the caller is known.
    const body = typeof payload === 'function' ? (payload as (me: number) => unknown)((this.#session as Session).userId) : payload
    return await this.#send(type, body, Math.max(1, timeoutMs - (Date.now() - started)))
  }

  /** Resolves with the session once logged in (at once when it is); rejects after `timeoutMs`. */
  protected async loggedIn (timeoutMs = this.requestTimeoutMs): Promise<Session> {
    if (!this.#loggedIn) await this.#waitForLogin('login', timeoutMs)
    return this.#session as Session
  }

  /** Drops the socket as a network failure would (the client reconnects); for tests and "retry now" buttons. */
  reconnect (): void {
    this.#connection.drop()
  }

  #start (): Promise<Session> {
    if (this.#state === 'closed') return Promise.reject(new ChatSdkError('SDK_CLOSED', 'the client was closed'))
    return new Promise<Session>((resolve, reject) => {
      this.#firstLogin = { resolve, reject }
      this.#setState('connecting')
      if (this.#connection.open) void this.#login()
      else this.#connection.start()
    })
  }

  #send (type: string, payload: unknown, timeoutMs: number): Promise<Frame> {
    const { id, answer } = this.#tracker.track(type, timeoutMs)
    if (!this.#connection.send({ type, id, payload })) {
      this.#tracker.settle({ type: 'ERROR', id, payload: { code: 'SDK_CONNECTION_LOST', error: `${type}: not connected` } })
    }
    return answer
  }

  #waitForLogin (type: string, timeoutMs: number): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ChatSdkError('SDK_CLOSED', `${type}: the client was closed`))
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => { clearTimeout(timer); resolve() },
        reject: (err: unknown) => { clearTimeout(timer); reject(err) },
      }
      const timer = setTimeout(() => {
        this.#loginWaiters = this.#loginWaiters.filter((w) => w !== waiter)
        reject(new ChatSdkError('SDK_TIMEOUT', `${type}: not connected within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#loginWaiters.push(waiter)
    })
  }

  /** Logs the new socket in, then resumes: waiting requests, the outbox, the catch-up. */
  async #login (): Promise<void> {
    const auth = this.#auth
    if (auth === null) return
    const [type, payload] = auth.kind === 'token'
      ? ['LOGIN_BY_TOKEN', { token: auth.token }]
      : auth.kind === 'password' ? ['LOGIN', { username: auth.username, password: auth.password }] : ['REGISTER', auth.registration]
    let session: Session
    try {
      session = (await this.#send(type, payload, this.requestTimeoutMs)).payload as Session
    } catch (err) {
      this.#loginFailed(err)
      return
    }
    const password = auth.kind === 'password' ? { username: auth.username, password: auth.password } : auth.kind === 'token' ? auth.password : { username: auth.registration.username, password: auth.registration.password }
    // Later sockets log in with the token; the password, if we have it, logs in again when the token expires.
    this.#auth = { kind: 'token', token: session.token, ...(password === undefined ? {} : { password }) }
    this.#session = session
    this.#loggedIn = true
    const generation = ++this.#generation
    this.#connection.markHealthy()
    this.timeline.beginCatchUp()
    this.#setState('connected')
    this.emit('connected', session)
    this.#firstLogin?.resolve(session)
    this.#firstLogin = null
    for (const w of this.#loginWaiters.splice(0)) w.resolve()
    this.outbox.setOnline(true)
    await this.#catchUp(generation)
  }

  #loginFailed (err: unknown): void {
    if (err instanceof ChatSdkError && err.retryable) {
      // The server could not answer (or the socket went): try again on the next socket.
      this.#connection.drop(4000, 'login failed')
      return
    }
    const auth = this.#auth
    if (err instanceof ChatSdkError && err.code === 'CHAT_TOKEN_INVALID' && auth?.kind === 'token' && auth.password !== undefined) {
      this.#auth = { kind: 'password', ...auth.password }
      void this.#login()
      return
    }
    this.#end(err instanceof ChatSdkError ? err : new ChatSdkError('SDK_SESSION_ENDED', 'login failed', { cause: err }), true)
  }

  /** Catches up, then lets the live events that waited through; a failure other than a lost connection means a new socket. */
  async #catchUp (generation: number): Promise<void> {
    let conversations: number | null
    try {
      conversations = await catchUp(this.timeline, (cursors) => this.#sync(cursors), () => generation === this.#generation)
      // After a reconnect (or when resuming saved positions), conversations
      // started while away are found by their unread counts.
      if (conversations !== null && (generation > 1 || this.options.positions !== undefined)) {
        const send = (type: string, payload: unknown) => this.#send(type, payload, this.requestTimeoutMs)
        conversations += await discoverUnread(this.timeline, send, (this.#session as Session).userId, () => generation === this.#generation)
      }
    } catch (err) {
      if (generation !== this.#generation) return
      if (err instanceof ChatSdkError && err.code === 'SDK_CONNECTION_LOST') return
      // What was missed is not known: start over on a new socket rather than go on with a hole.
      this.emit('error', err)
      this.#connection.drop(4000, 'catch-up failed')
      return
    }
    if (conversations === null) return
    this.timeline.finishCatchUp()
    this.emit('caughtUp', { conversations })
  }

  async #sync (cursors: Position[]): Promise<SyncConversation[]> {
    const frame = await this.#send('SYNC', { cursors, limit: 1000 }, this.requestTimeoutMs)
    return (frame.payload as { conversations: SyncConversation[] }).conversations
  }

  #onFrame (frame: Frame): void {
    if (this.#tracker.settle(frame)) return
    if (frame.id !== undefined) return // a late answer to a request given up on
    routePush(frame, this.timeline, this)
  }

  #onClose (code: number, reason: string): void {
    this.#loggedIn = false
    this.outbox.setOnline(false)
    this.timeline.abortCatchUp()
    this.#tracker.failAll('SDK_CONNECTION_LOST', `the connection closed (${code})`)
    if (this.#state === 'closed') return
    this.emit('disconnected', { code, reason })
    const auth = this.#auth
    if (code === 4001) {
      this.#end(new ChatSdkError('SDK_SESSION_ENDED', 'the session was revoked'), true)
    } else if (code === 4002 && auth?.kind === 'token') {
      if (auth.password === undefined) this.#end(new ChatSdkError('SDK_SESSION_ENDED', 'the token expired'), true)
      else this.#auth = { kind: 'password', ...auth.password }
    }
    if ((this.#state as ConnectionState) !== 'closed') this.#setState('reconnecting')
  }

  /** Stops for good; `sessionEnded` tells the application when it did not ask for it. */
  #end (err: ChatSdkError, sessionEnded: boolean): void {
    if (this.#state === 'closed') return
    this.#setState('closed')
    this.#loggedIn = false
    this.#connection.stop()
    this.#tracker.failAll('SDK_CLOSED', err.message)
    const closed = new ChatSdkError('SDK_CLOSED', err.message, { cause: err })
    this.outbox.failAll(closed)
    for (const w of this.#loginWaiters.splice(0)) w.reject(closed)
    this.#firstLogin?.reject(err)
    this.#firstLogin = null
    if (sessionEnded) this.emit('sessionEnded', err)
  }

  #setState (state: ConnectionState): void {
    if (this.#state === state) return
    this.#state = state
    this.emit('state', state)
  }
}
