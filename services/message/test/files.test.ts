/**
 * Chunked file storage (src/files.ts) and attaching files to messages,
 * against the real MongoDB-wire server and Redis.
 */
import t from 'tap'
import { code, createFixture } from './fixtures/world.js'

const fx = await createFixture('files', { publicUrl: 'https://chat.example/api' })
t.teardown(() => fx.close())
const { main, user } = fx
const { chat } = main
const { files } = main.ports

t.test('files: chunked upload, commit, attach, access rules', async (t) => {
  const a = user()
  const b = user()
  const c = user()
  const content = Buffer.from('hello, file!!') // 13 bytes: chunks of 4, 4, 4, 1
  const file = await files.create(main.ports.newId(), a, 'hello.txt', 'text/plain', content.length)
  const chunk = (n: number) => content.subarray(n * 4, n * 4 + 4).toString('base64')

  t.equal(await code(files.putChunk(b, file._id, 0, chunk(0))), 'CHAT_FORBIDDEN', 'owner only')
  t.equal(await code(files.putChunk(a, file._id, 4, chunk(0))), 'CHAT_BAD_REQUEST', 'n out of range')
  t.equal(await code(files.putChunk(a, file._id, 3, chunk(0))), 'CHAT_BAD_REQUEST', 'wrong length for the last chunk')
  t.equal(await code(files.putChunk(a, file._id, 0, '!!!!')), 'CHAT_BAD_REQUEST', 'not base64')
  await files.putChunk(a, file._id, 3, chunk(3))
  await files.putChunk(a, file._id, 0, chunk(0))
  await files.putChunk(a, file._id, 0, chunk(0)) // a resent chunk is fine
  t.equal(await code(files.commit(a, file._id)), 'CHAT_BAD_REQUEST', 'chunks missing')
  t.equal(await code(chat.send({ actorId: a, peerId: b, kind: 'file', content: `/files/${file._id}` })), 'CHAT_FILE_NOT_FOUND', 'incomplete file')
  await Promise.all([files.putChunk(a, file._id, 1, chunk(1)), files.putChunk(a, file._id, 2, chunk(2))])
  const done = await files.commit(a, file._id)
  t.equal(done.metadata.complete, true)
  t.equal((await files.commit(a, file._id)).metadata.complete, true, 'commit is idempotent')
  t.equal(await code(files.putChunk(a, file._id, 0, chunk(0))), 'CHAT_BAD_REQUEST', 'no writes after commit')

  t.equal(await code(files.readable(b, file._id)), 'CHAT_FORBIDDEN', 'not shared yet')
  t.equal(await code(chat.send({ actorId: b, peerId: a, kind: 'image', content: `/files/${file._id}` })), 'CHAT_FILE_NOT_FOUND', 'only the owner attaches')
  const sent = await chat.send({ actorId: a, peerId: b, kind: 'file', content: `https://chat.example/api/files/${file._id}` })
  t.equal(sent.message.kind, 'file')
  t.same((await files.byId(file._id))?.metadata.conversationIds, [sent.message.conversationId])
  await chat.send({ actorId: a, peerId: b, kind: 'audio', content: `/files/${file._id}` })
  t.same((await files.byId(file._id))?.metadata.conversationIds, [sent.message.conversationId], 'linked once')

  t.equal((await files.readable(b, file._id)).filename, 'hello.txt', 'the peer may read it now')
  const parts = await Promise.all([0, 1, 2, 3].map((n) => files.getChunk(b, file._id, n)))
  t.same(Buffer.concat(parts.map((p) => Buffer.from(p, 'base64'))), content)
  t.equal(await code(files.readable(c, file._id)), 'CHAT_FORBIDDEN', 'a stranger may not')
  t.equal(await code(files.getChunk(c, file._id, 0)), 'CHAT_FORBIDDEN')
  t.equal(await code(files.getChunk(b, file._id, 9)), 'CHAT_BAD_REQUEST')
  t.equal(await code(files.readable(a, 987654321)), 'CHAT_FILE_NOT_FOUND')
  t.equal(await code(files.create(main.ports.newId(), a, 'big', 'application/octet-stream', 1001)), 'CHAT_CONTENT_TOO_LARGE')

  const empty = await files.create(main.ports.newId(), a, 'empty', 'text/plain', 0)
  t.equal((await files.commit(a, empty._id)).metadata.complete, true, 'an empty file has nothing to upload')
})
