import type { WebSocket } from 'ws'
import { ChatError, type LiveEvent, type Session } from '@chat/contracts'
import { toChatError, type Logger } from '@chat/runtime'
import type { Actor } from './actor.js'
import type { ConnectionCaps } from './connection-caps.js'
import type { ConnectionHub, HubMember } from './hub.js'
import { TokenBucket } from './rate-limit.js'
import { RequestPipeline, type PipelinedRequest } from './request-pipeline.js'
import type { ApiServices, ConnectionContext, Frame, PushWork, WsApi, WsHandler, WsRequest } from './ws-api.js'

/** WebSocket close codes we use beyond the standard ones. */
export const CloseCodes = {
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  sessionRevoked: 4001,
  sessionExpired: 4002,
  authTimeout: 4003,
  /** The room this socket was in is gone (the `rooms` API). */
  roomGone: 4004,
  // A peer that stops answering pings is terminated without a close frame
  // (it would not read one): its client sees 1006.
} as const

/**
 * Frames encoded ahead: a frame object many sockets get (a room message's
 * push) is turned into JSON once, by `sharedFrames`; any other frame is
 * encoded as it is sent. Frames are never changed after they are made.
 */
const encoded = new WeakMap<Frame, string>()

/** Marks frames that many sockets will be sent: each is encoded once, now. */
export function sharedFrames (frames: Frame[]): Frame[] {
  for (const frame of frames) encoded.set(frame, JSON.stringify(frame))
  return frames
}

/** What a handler answers: frames to send, or nothing. */
type Answer = Frame | Frame[] | undefined

export interface ConnectionLimits {
  ratePerSecond: number
  rateBurst: number
  authTimeoutMs: number
  /** Requests waiting or in progress before new ones are refused. */
  maxQueued: number
  /** Sends (see WsApi.pipelineKey) one socket may have in progress at once. */
  maxInFlight: number
  /** Longest a send may wait behind the socket's earlier sends to its conversation before it is refused with CHAT_BUSY. */
  maxSendWaitMs: number
  /** Bytes of received frames waiting to be handled before the socket is closed (1008). */
  maxQueuedBytes: number
  /** Largest frame before login (1009 above it); after login, the server's maxPayload applies. */
  maxLoginFrameBytes: number
  /** Largest frame after login: the server's maxPayload. */
  maxFrameBytes: number
  /** Unsent bytes above which a client is considered stuck and dropped. */
  maxBufferedBytes: number
  /** Pushes waiting in a socket's queue before the client is considered stuck and dropped. */
  maxPendingPushes: number
  /** How often the server pings; a peer that has not answered the previous ping by then is closed. 0: never. */
  pingIntervalMs: number
}

/** What the connection needs of ws's internal frame reader to bound frames per socket. */
interface ReceiverLimit { _receiver?: { _maxPayload?: unknown } }

/**
 * One client socket, whatever API it speaks. Requests start in arrival
 * order and are answered in arrival order, so APIs without request ids
 * match answers by position; sends overlap (up to `maxInFlight`), one
 * conversation's in the order sent (RequestPipeline). While a request
 * waits to start, the socket stops reading (TCP pushes back on the client)
 * and the bytes received frames hold are capped. Pushes go through one
 * ordered, bounded queue.
 */
export class WsConnection<Req extends WsRequest, State> implements HubMember, ConnectionContext<State> {
  actor: Actor | undefined
  readonly state: State
  private readonly pipeline: RequestPipeline<Answer>
  private queued = 0
  private queuedBytes = 0
  private paused = false
  private pushes: Promise<void> = Promise.resolve()
  private pendingPushes = 0
  private readonly bucket: TokenBucket
  private expiryTimer: NodeJS.Timeout | undefined
  private authTimer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private alive = true
  private closed = false

  constructor (
    readonly id: string,
    private readonly socket: WebSocket,
    private readonly api: WsApi<Req, State>,
    readonly services: ApiServices,
    private readonly hub: ConnectionHub,
    private readonly limits: ConnectionLimits,
    readonly logger: Logger,
    readonly clientAddress: string,
    private readonly caps: ConnectionCaps
  ) {
    this.state = api.createState()
    this.bucket = new TokenBucket(limits.ratePerSecond, limits.rateBurst)
    this.pipeline = new RequestPipeline(limits.maxInFlight, () => this.updateReading(), {
      maxWaitMs: limits.maxSendWaitMs,
      error: () => new ChatError('CHAT_BUSY', 'too many of your sends wait for this conversation; send more slowly', { retryAfterSeconds: 1 }),
    })
    this.setFrameLimit(limits.maxLoginFrameBytes)
    socket.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary))
    socket.on('close', () => this.onClose())
    socket.on('error', (err) => this.logger.debug({ err }, 'socket error'))
    socket.on('pong', () => { this.alive = true })
    this.authTimer = setTimeout(() => {
      if (!this.actor) this.close(CloseCodes.authTimeout, 'login timeout')
    }, limits.authTimeoutMs)
    this.authTimer.unref()
    if (limits.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.ping(), limits.pingIntervalMs)
      this.pingTimer.unref()
    }
  }

  get session (): Session | undefined {
    return this.actor?.session
  }

  get userId (): number {
    return this.actor?.userId ?? 0
  }

  get sessionId (): string {
    return this.actor?.session.sessionId ?? ''
  }

  async login (session: Session): Promise<Actor> {
    if (this.closed) throw new ChatError('CHAT_UNAVAILABLE', 'the socket is closed')
    const previous = this.actor
    if (previous?.userId !== session.user.id) {
      if (!this.caps.admitUser(session.user.id)) throw new ChatError('CHAT_RATE_LIMITED', 'too many connections for this user')
      if (previous) this.caps.releaseUser(previous.userId)
    }
    if (previous) this.hub.detach(this)
    const actor = this.services.act(session)
    this.actor = actor
    this.setFrameLimit(this.limits.maxFrameBytes)
    clearTimeout(this.authTimer)
    clearTimeout(this.expiryTimer)
    const ttl = Date.parse(session.expiresAt) - Date.now()
    this.expiryTimer = setTimeout(() => this.close(CloseCodes.sessionExpired, 'session expired'), Math.max(0, Math.min(ttl, 2 ** 31 - 1)))
    this.expiryTimer.unref()
    if (!this.closed) await this.hub.attach(this)
    return actor
  }

  logout (): void {
    if (!this.actor) return
    this.hub.detach(this)
    this.caps.releaseUser(this.actor.userId)
    clearTimeout(this.expiryTimer)
    this.actor = undefined
    this.setFrameLimit(this.limits.maxLoginFrameBytes)
  }

  updateSession (patch: Partial<Session['user']>): void {
    const actor = this.actor
    if (!actor) return
    const session = { ...actor.session, user: { ...actor.session.user, ...patch } }
    this.actor = this.services.act(session)
  }

  send (frame: Frame): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.close(CloseCodes.policy, 'client too slow')
      return
    }
    this.socket.send(encoded.get(frame) ?? JSON.stringify(frame))
  }

  push (work: PushWork): void {
    if (this.closed) return
    if (Array.isArray(work) && this.pendingPushes === 0) {
      for (const frame of work) this.send(frame)
      return
    }
    if (this.pendingPushes >= this.limits.maxPendingPushes) {
      this.close(CloseCodes.policy, 'client too slow')
      return
    }
    this.pendingPushes++
    this.pushes = this.pushes
      .then(async () => {
        if (this.closed) return
        if (Array.isArray(work)) for (const frame of work) this.send(frame)
        else await work()
      })
      .catch((err: unknown) => { this.logger.warn({ err, connectionId: this.id }, 'push failed') })
      .finally(() => { this.pendingPushes-- })
  }

  exclusive<T> (work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pendingPushes++
      this.pushes = this.pushes
        .then(() => work().then(resolve, reject))
        .finally(() => { this.pendingPushes-- })
    })
  }

  joinRoom<T> (roomId: number, join: () => Promise<T>): Promise<T> {
    return this.hub.joinRoom(this.userId, roomId, join)
  }

  deliver (event: LiveEvent): void {
    if (this.actor) this.api.render(this, event)
  }

  revoke (): void {
    const last = this.api.revoked(this)
    if (last) this.send(last)
    this.close(CloseCodes.sessionRevoked, 'session revoked')
  }

  close (code: number, reason: string): void {
    if (this.closed) return
    this.socket.close(code, reason)
    // Read again, or the client's answering close frame would wait unread
    // (and the socket linger) until ws gives up on the handshake.
    this.resume()
    this.onClose()
  }

  /** Bounds the next frames' size in ws's reader itself, so an oversized frame is never buffered. */
  private setFrameLimit (bytes: number): void {
    const receiver = (this.socket as unknown as ReceiverLimit)._receiver
    if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes
  }

  private ping (): void {
    if (this.closed) return
    // While its requests are handled the socket is paused and its pongs wait
    // unread: the silence is ours, not a dead peer's.
    if (this.paused) {
      this.alive = true
      return
    }
    if (!this.alive) {
      // A vanished peer: stop counting it online and holding its memory now.
      this.logger.debug({ connectionId: this.id }, 'no pong; closing')
      this.socket.terminate()
      this.onClose()
      return
    }
    this.alive = false
    this.socket.ping()
  }

  private onFrame (data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    const limit = this.actor ? this.limits.maxFrameBytes : this.limits.maxLoginFrameBytes
    if (data.length > limit) {
      this.close(CloseCodes.tooBig, 'frame too large')
      return
    }
    // Every answer, failures included, goes through the pipeline: clients of
    // APIs without request ids match answers to requests by order alone.
    if (this.queued >= 2 * this.limits.maxQueued || this.queuedBytes + data.length > this.limits.maxQueuedBytes) {
      this.close(CloseCodes.policy, 'too many requests')
      return
    }
    const limited = !this.bucket.take() || this.queued >= this.limits.maxQueued
    this.queued++
    this.queuedBytes += data.length
    const seen: { frame?: unknown, req?: Req } = {}
    void this.pipeline.add(
      () => this.prepare(data, isBinary, limited, seen),
      (outcome) => {
        if (outcome.ok) this.answer(outcome.value)
        else this.fail(seen.req, seen.frame, outcome.error)
      }
    ).catch((err: unknown) => {
      this.logger.error({ err, connectionId: this.id }, 'answer failed')
    }).finally(() => {
      this.queued--
      this.queuedBytes -= data.length
    })
  }

  /** Reads only while a new request could start at once (see RequestPipeline.busy). */
  private updateReading (): void {
    if (this.pipeline.busy) this.pause()
    else this.resume()
  }

  /** Stops reading from the client: TCP pushes back instead of our memory growing. */
  private pause (): void {
    if (this.paused || this.closed || this.socket.readyState !== this.socket.OPEN) return
    this.paused = true
    this.socket.pause()
  }

  private resume (): void {
    if (!this.paused) return
    this.paused = false
    this.socket.resume()
  }

  /** Decodes one frame into the work it asks for (in arrival order, after the requests before it started). */
  private prepare (data: Buffer, isBinary: boolean, limited: boolean, seen: { frame?: unknown, req?: Req }): PipelinedRequest<Answer> {
    if (isBinary) throw new ChatError('CHAT_BAD_REQUEST', 'frames must be UTF-8 JSON text')
    try {
      seen.frame = JSON.parse(data.toString('utf8'))
    } catch {
      throw new ChatError('CHAT_BAD_REQUEST', 'frame is not valid JSON')
    }
    const req = this.api.decode(seen.frame)
    seen.req = req
    if (limited) throw new ChatError('CHAT_RATE_LIMITED')
    // Only a logged-in socket's requests overlap; before login, order is everything.
    const key = this.actor ? this.api.pipelineKey?.(req) : undefined
    return { key, run: () => this.dispatch(req) }
  }

  private answer (out: Answer): void {
    if (out === undefined) return
    for (const frame of Array.isArray(out) ? out : [out]) this.send(frame)
  }

  private fail (req: Req | undefined, frame: unknown, err: unknown): void {
    const failure = toChatError(err)
    if (failure.code === 'CHAT_INTERNAL') this.logger.error({ err }, 'request failed')
    this.send(this.api.failure(req, frame, failure))
    this.api.afterFailure?.(this, failure)
  }

  /**
   * The one dispatcher every WebSocket API goes through: a request that
   * needs a session is refused here before any handler runs, and handlers
   * get the acting user from the session, never from the frame.
   */
  private async dispatch (req: Req): Promise<Answer> {
    const handler = this.api.handlers[req.type as Req['type']] as WsHandler<State, Req, Req['type'], Actor | undefined>
    const actor = this.actor
    if (!actor && !this.api.publicTypes.has(req.type)) throw new ChatError('CHAT_UNAUTHENTICATED')
    return handler(this, req.payload, actor, req as Extract<Req, { type: Req['type'] }>)
  }

  private onClose (): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.authTimer)
    clearTimeout(this.expiryTimer)
    clearInterval(this.pingTimer)
    try {
      this.api.closed?.(this)
    } catch (err) {
      this.logger.error({ err }, 'close hook failed')
    }
    this.caps.releaseAddress(this.clientAddress)
    if (this.actor) {
      this.hub.detach(this)
      this.caps.releaseUser(this.actor.userId)
    }
  }
}
