import type { HttpApi } from '../../http-api.js'
import { registerDirectRoutes } from './direct-routes.js'
import { registerRoomRoutes } from './room-routes.js'

/**
 * The `chats` API (document 001): `/chats…`, `/chats_v2…`, `/chat_rooms…`.
 * Every route authenticates (bearer token or session cookie), translates
 * the request into message-service commands and renders the reply in the
 * document's shapes; see docs/api-chats.md.
 */
export const chatsHttpApi: HttpApi = async (app, opts) => {
  // The document's bodiless POSTs (`/chat_rooms/:id/message/read`) are often
  // sent with `Content-Type: application/json` and no body; fastify's parser
  // refuses that. In this plugin only, an empty JSON body is no body (routes
  // that need one still answer 400); anything else goes to the default
  // parser, with its prototype-poisoning protection.
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text === '') {
      done(null, undefined)
      return
    }
    json(req, text, done)
  })

  registerDirectRoutes(app, opts, 'v1')
  registerDirectRoutes(app, opts, 'v2')
  registerRoomRoutes(app, opts)
}
