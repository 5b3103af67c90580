import type { FastifyError, FastifyInstance } from 'fastify'
import { ChatError, httpErrorCode } from '@chat/contracts'

/** Fastify's own error codes that mean the client sent something we refuse. */
const CLIENT_ERRORS: Record<string, ChatError['code']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'CHAT_CONTENT_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'CHAT_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'CHAT_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'CHAT_BAD_REQUEST',
  FST_ERR_VALIDATION: 'CHAT_BAD_REQUEST',
}

/** The JSON body of every HTTP error. */
export function errorBody (err: ChatError): { error: string, message: string } {
  return { error: httpErrorCode(err.code), message: err.message }
}

/**
 * Every HTTP error is `{"error": <code>, "message": <text>}` with the
 * catalogue's status, the code in its HTTP form (`room_full`); bad input is
 * never a 500.
 */
export function installErrorHandler (app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let failure: ChatError
    if (err instanceof ChatError) failure = err
    else if (err.validation) failure = new ChatError('CHAT_BAD_REQUEST', err.message)
    else if (err.code && CLIENT_ERRORS[err.code]) failure = new ChatError(CLIENT_ERRORS[err.code]!, err.message)
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) failure = new ChatError('CHAT_BAD_REQUEST', err.message)
    else {
      req.log.error({ err }, 'request failed')
      failure = new ChatError('CHAT_INTERNAL')
    }
    // A throttled login says when to come back (RFC 9110 Retry-After, in seconds).
    if (failure.retryAfterSeconds !== undefined) void reply.header('retry-after', String(failure.retryAfterSeconds))
    return reply.code(failure.status).send(errorBody(failure))
  })
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody(new ChatError('CHAT_NOT_FOUND', 'No such route'))))
}
