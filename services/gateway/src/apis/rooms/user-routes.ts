import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Commands, type Session } from '@chat/contracts'
import { toChatError } from '@chat/runtime'
import { requiresSession, type HttpApiOptions } from '../../http-api.js'
import {
  errors, LoginBody, RegisterBody, Status, UsernameParams, UserView,
  type LoginBody as LoginBodyT, type RegisterBody as RegisterBodyT, type UsernameParams as UsernameParamsT,
} from './schemas.js'

const tags = ['rooms']

/** Failures that mean "this credential logs nobody in", as opposed to "auth could not answer". */
const DEAD_CREDENTIAL = new Set(['CHAT_TOKEN_INVALID', 'CHAT_UNAUTHENTICATED'])

/** `/User`, `/Login`, `/Logout` of document 002. */
export async function userRoutes (app: FastifyInstance, { services, auth, cookie }: HttpApiOptions): Promise<void> {
  const { commands } = services

  app.post<{ Body: RegisterBodyT }>('/User', {
    schema: {
      tags,
      summary: 'Create a user (does not log in)',
      body: RegisterBody,
      response: { 201: UserView, ...errors(400, 409, 429) },
    },
  }, async (req, reply) => {
    const { username, password, nickname } = req.body
    const session = await commands.call(Commands.auth.register, { username, password, nickname: nickname ?? '' })
    return reply.code(201).send({ username: session.user.username, nickname: session.user.nickname })
  })

  app.get<{ Params: UsernameParamsT }>('/User/:username', {
    schema: {
      tags,
      summary: 'A user\'s public profile',
      security: requiresSession,
      params: UsernameParams,
      response: { 200: UserView, ...errors(400, 401, 404, 429) },
    },
  }, async (req) => {
    await auth(req)
    const user = await services.users.require(req.params.username)
    return { username: user.username, nickname: user.nickname }
  })

  app.post<{ Body: LoginBodyT }>('/Login', {
    schema: {
      tags,
      summary: 'Log in: sets the session cookie; `{status: false}` for a wrong username or password',
      body: LoginBody,
      response: { 200: Status, ...errors(400, 429) },
    },
  }, async (req, reply) => {
    let session: Session
    try {
      session = await commands.call(Commands.auth.login, { login: req.body.username, password: req.body.password, clientAddress: req.ip })
    } catch (err) {
      if (toChatError(err).code === 'CHAT_BAD_CREDENTIALS') return { status: false }
      throw err
    }
    cookie.set(req, reply, session)
    return { status: true }
  })

  app.post('/Logout', {
    schema: {
      tags,
      summary: 'Log out: revokes the request\'s session on every replica and clears the cookie; `{status: true}` also without a live session',
      // A session is optional here (`{}`: none).
      security: [...requiresSession, {}],
      response: { 200: Status, ...errors(429) },
    },
  }, async (req, reply) => {
    const live = await liveSession(req)
    if (live) await services.act(live).call(Commands.auth.logout, { token: live.token })
    cookie.clear(req, reply)
    return { status: true }
  })

  /** The request's session, or undefined when its credential is missing, malformed, expired or revoked already. */
  async function liveSession (req: FastifyRequest): Promise<Session | undefined> {
    try {
      return await auth(req)
    } catch (err) {
      // An unavailable auth service must not be reported as a logout.
      if (DEAD_CREDENTIAL.has(toChatError(err).code)) return undefined
      throw err
    }
  }
}
