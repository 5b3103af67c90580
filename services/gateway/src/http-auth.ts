import type { FastifyRequest } from 'fastify'
import { ChatError, type Session } from '@chat/contracts'
import { tokenFromRequest, type Authenticate } from './session.js'

/** Authenticates an HTTP request, or throws CHAT_UNAUTHENTICATED / CHAT_TOKEN_INVALID. */
export type HttpAuth = (req: FastifyRequest) => Promise<Session>

export function createHttpAuth (authenticate: Authenticate): HttpAuth {
  return async (req) => {
    const token = tokenFromRequest(req.query, req.headers)
    if (token === undefined) throw new ChatError('CHAT_UNAUTHENTICATED')
    return authenticate(token)
  }
}
