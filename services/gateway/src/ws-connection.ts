import type { WebSocket } from 'ws'
import { ChatError, type RoomEvent, type Session, type UserEvent } from '@chat/contracts'
import { toChatError, type Logger } from '@chat/runtime'
import type { ConnectionHub, HubMember } from './hub.js'
import { TokenBucket } from './rate-limit.js'
import type { ApiServices, ConnectionContext, Frame, WsApi } from './ws-api.js'

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
} as const

export interface ConnectionLimits {
  ratePerSecond: number
  rateBurst: number
  authTimeoutMs: number
  /** Requests waiting behind the one in progress before new ones are refused. */
  maxQueued: number
  /** Unsent bytes above which a client is considered stuck and dropped. */
  maxBufferedBytes: number
}

/**
 * One client socket, whatever API it speaks. Requests are handled one at a
 * time in arrival order, so a client's messages are stored in the order it
 * sent them and APIs without request ids get answers in request order;
 * pushes are sent as they come.
 */
export class WsConnection<Req> implements HubMember, ConnectionContext {
  session: Session | undefined
  readonly local: Record<string, unknown> = {}
  private queue: Promise<void> = Promise.resolve()
  private queued = 0
  private readonly bucket: TokenBucket
  private expiryTimer: NodeJS.Timeout | undefined
  private authTimer: NodeJS.Timeout | undefined
  private closed = false

  constructor (
    readonly id: string,
    private readonly socket: WebSocket,
    private readonly api: WsApi<Req>,
    readonly services: ApiServices,
    private readonly hub: ConnectionHub,
    private readonly limits: ConnectionLimits,
    readonly logger: Logger
  ) {
    this.bucket = new TokenBucket(limits.ratePerSecond, limits.rateBurst)
    socket.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary))
    socket.on('close', () => this.onClose())
    socket.on('error', (err) => this.logger.debug({ err }, 'socket error'))
    this.authTimer = setTimeout(() => {
      if (!this.session) this.close(CloseCodes.authTimeout, 'login timeout')
    }, limits.authTimeoutMs)
    this.authTimer.unref()
  }

  get userId (): number {
    return this.session?.user.id ?? 0
  }

  get sessionId (): string {
    return this.session?.sessionId ?? ''
  }

  requireSession (): Session {
    if (!this.session) throw new ChatError('CHAT_UNAUTHENTICATED')
    return this.session
  }

  async login (session: Session): Promise<void> {
    if (this.session) this.hub.detach(this)
    this.session = session
    clearTimeout(this.authTimer)
    clearTimeout(this.expiryTimer)
    const ttl = Date.parse(session.expiresAt) - Date.now()
    this.expiryTimer = setTimeout(() => this.close(CloseCodes.sessionExpired, 'session expired'), Math.max(0, Math.min(ttl, 2 ** 31 - 1)))
    this.expiryTimer.unref()
    if (!this.closed) await this.hub.attach(this)
  }

  logout (): void {
    if (!this.session) return
    this.hub.detach(this)
    clearTimeout(this.expiryTimer)
    this.session = undefined
  }

  updateSession (patch: Partial<Session['user']>): void {
    if (this.session) this.session = { ...this.session, user: { ...this.session.user, ...patch } }
  }

  send (frame: Frame): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.close(CloseCodes.policy, 'client too slow')
      return
    }
    this.socket.send(JSON.stringify(frame))
  }

  deliver (event: UserEvent): void {
    if (!this.session) return
    for (const frame of this.api.render(this, event)) this.send(frame)
  }

  deliverRoom (event: RoomEvent): void {
    if (!this.session) return
    for (const frame of this.api.renderRoom(this, event)) this.send(frame)
  }

  revoke (): void {
    const last = this.api.revoked(this)
    if (last) this.send(last)
    this.close(CloseCodes.sessionRevoked, 'session revoked')
  }

  close (code: number, reason: string): void {
    if (this.closed) return
    this.socket.close(code, reason)
    this.onClose()
  }

  private onFrame (data: Buffer, isBinary: boolean): void {
    // Every answer, failures included, goes through the queue: clients of
    // APIs without request ids match answers to requests by order alone.
    if (this.queued >= 2 * this.limits.maxQueued) {
      this.close(CloseCodes.policy, 'too many requests')
      return
    }
    const limited = !this.bucket.take() || this.queued >= this.limits.maxQueued
    this.queued++
    this.queue = this.queue
      .then(() => this.process(data, isBinary, limited))
      .finally(() => { this.queued-- })
  }

  private async process (data: Buffer, isBinary: boolean, limited: boolean): Promise<void> {
    let parsed: unknown
    let req: Req | undefined
    try {
      if (isBinary) throw new ChatError('CHAT_BAD_REQUEST', 'frames must be UTF-8 JSON text')
      try {
        parsed = JSON.parse(data.toString('utf8'))
      } catch {
        throw new ChatError('CHAT_BAD_REQUEST', 'frame is not valid JSON')
      }
      req = this.api.decode(parsed)
      if (limited) throw new ChatError('CHAT_RATE_LIMITED')
      const out = await this.api.handle(this, req)
      if (out === undefined) return
      for (const frame of Array.isArray(out) ? out : [out]) this.send(frame)
    } catch (err) {
      const failure = toChatError(err)
      if (failure.code === 'CHAT_INTERNAL') this.logger.error({ err }, 'request failed')
      this.reply(req, parsed, failure)
    }
  }

  private reply (req: Req | undefined, parsed: unknown, err: ChatError): void {
    this.send(this.api.failure(req, parsed, err))
  }

  private onClose (): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.authTimer)
    clearTimeout(this.expiryTimer)
    try {
      this.api.closed?.(this)
    } catch (err) {
      this.logger.error({ err }, 'close hook failed')
    }
    if (this.session) this.hub.detach(this)
  }
}
