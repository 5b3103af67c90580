import type { FastifyPluginAsync } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ChatError, Commands, Id } from '@chat/contracts'
import type { HttpAuth } from './http-auth.js'
import { requiresSession } from './http-api.js'
import type { ApiServices } from './ws-api.js'

/** Image types an avatar data URI may be served as; anything else is not served. */
const IMAGE_DATA_URI = /^data:(image\/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/]+={0,2})$/

/**
 * `GET /users/:id/avatar`: a user's avatar, for the lists that carry only
 * short avatar URLs (contacts, search). A data-URI avatar is served as its
 * image; a URL avatar is a redirect to it; none is 404. Any logged-in user
 * may see anyone's avatar, as they may see it in a profile.
 */
export const avatarRoute: FastifyPluginAsync<{ services: ApiServices, auth: HttpAuth }> = async (app, { services, auth }) => {
  app.get<{ Params: { id: number } }>('/users/:id/avatar', {
    schema: {
      tags: ['users'],
      summary: 'A user\'s avatar (lists carry only its URL)',
      security: requiresSession,
      params: Type.Object({ id: Id }),
    },
  }, async (req, reply) => {
    await auth(req)
    const { users } = await services.commands.call(Commands.auth.getUsers, { ids: [req.params.id] })
    const avatar = users[0]?.avatar ?? ''
    const image = IMAGE_DATA_URI.exec(avatar)
    if (image) {
      return reply
        .header('content-type', image[1])
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cache-control', 'private, max-age=300')
        .send(Buffer.from(image[2] ?? '', 'base64'))
    }
    if (/^https?:\/\//i.test(avatar)) return reply.redirect(avatar, 302)
    throw new ChatError('CHAT_NOT_FOUND', 'This user has no avatar to serve')
  })
}
