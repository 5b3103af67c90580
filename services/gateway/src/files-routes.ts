import type { FastifyPluginAsync } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Id } from '@chat/contracts'
import type { FileStore } from './files.js'
import { isInlineSafe } from './files.js'
import type { HttpAuth } from './http-auth.js'
import type { ApiServices } from './ws-api.js'
import { requiresSession } from './http-api.js'

/**
 * `POST /files` (raw body, `Content-Type`, `?name=`) → 201 `{id, url}`;
 * `GET /files/:id` streams the file to its uploader and to members of the
 * conversations it was sent in. Both require a session (checked before the
 * body is read, see http-guard.ts); an upload's `Content-Length` is checked
 * against FILE_MAX_BYTES before it is read too.
 */
export const filesRoutes: FastifyPluginAsync<{ files: FileStore, auth: HttpAuth, act: ApiServices['act'] }> = async (app, { files, auth, act }) => {
  // In this plugin only, every body is raw bytes, whatever its type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: files.maxBytes }, (_req, body, done) => done(null, body))

  app.post('/files', {
    bodyLimit: files.maxBytes,
    schema: { security: requiresSession, querystring: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }) },
  }, async (req, reply) => {
    const session = await auth(req)
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
    const { name } = req.query as { name?: string }
    const contentType = (req.headers['content-type'] ?? 'application/octet-stream').slice(0, 255)
    const file = await files.upload(act(session), name ?? 'file', contentType, body)
    return reply.code(201).send({ id: file.id, url: files.urlOf(file.id) })
  })

  app.get('/files/:id', {
    schema: { security: requiresSession, params: Type.Object({ id: Id }) },
  }, async (req, reply) => {
    const session = await auth(req)
    const { id } = req.params as { id: number }
    const { file, stream } = await files.open(act(session), id)
    const disposition = isInlineSafe(file.contentType) ? 'inline' : 'attachment'
    return reply
      .header('content-type', file.contentType)
      .header('content-length', String(file.size))
      .header('content-disposition', `${disposition}; filename*=UTF-8''${encodeURIComponent(file.name)}`)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, max-age=3600')
      .send(stream)
  })
}
