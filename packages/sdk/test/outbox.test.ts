// The outbox: sends made while disconnected, or unanswered when the
// connection dropped, are sent again with the same client message id.
import t from 'tap'
import type { Frame } from '../src/index.js'
import { SESSION, record, scriptedServer, testClient, until } from './helpers.js'

const ack = (f: Frame, seq: number) => ({ type: 'MESSAGE_RECEIVED_SELF', payload: { messageId: (f.payload as { messageId: string }).messageId, id: 5000 + seq, timestamp: '2026-12-03T10:00:00.000Z', conversationId: 7, seq } })
const sends = (frames: Frame[]) => frames.filter((f) => f.type === 'SEND_MESSAGE').map((f) => f.payload as { messageId: string, senderId: number, receiverId: number, content: string })

t.test('a send made while disconnected goes out after the next login', async (t) => {
  const server = await scriptedServer(t)
  server.on('SEND_MESSAGE', (f) => ack(f, 1))
  const client = testClient(t, server.url, { backoff: { initialMs: 300, maxMs: 300 }, random: () => 1 })
  const log = record(client)
  await client.connect({ token: 'tok-1' })
  server.dropAll(1001)
  await until(() => client.state === 'reconnecting')
  const sent = client.sendMessage(200, 'while away')
  t.equal(sends(server.frames).length, 0, 'nothing sent while disconnected')
  const m = await sent
  t.match(m, { id: 5001, senderId: SESSION.userId, receiverId: 200, content: 'while away', conversationId: 7, seq: 1, type: 'text', status: 'sent' })
  const [frame] = sends(server.frames)
  t.match(frame, { senderId: SESSION.userId, receiverId: 200, content: 'while away', messageId: /^[0-9a-f-]{36}$/ })
  t.same(log, ['m:1:while away'], 'emitted once, as sent')
})

t.test('a send unanswered when the connection dropped is sent again with the same messageId, and stored once', async (t) => {
  const server = await scriptedServer(t)
  let attempts = 0
  server.on('SEND_MESSAGE', (f, socket) => {
    // The first time the gateway dies after storing it, before answering.
    if (++attempts === 1) {
      socket.close(1001)
      return undefined
    }
    return ack(f, 1)
  })
  const client = testClient(t, server.url)
  const log = record(client)
  const stored: unknown[] = []
  client.on('message', (e) => stored.push(e.message.id))
  await client.connect({ token: 'tok-1' })
  const [a, b] = await Promise.all([client.sendMessage(200, 'one'), client.sendMessage(200, 'two')])
  const frames = sends(server.frames)
  t.ok(frames.length >= 3, `sent again after the drop (${frames.length} frames)`)
  const ids = (content: string) => new Set(frames.filter((f) => f.content === content).map((f) => f.messageId))
  t.equal(ids('one').size, 1, 'one messageId for every attempt of "one"')
  t.equal(ids('two').size, 1, 'and of "two"')
  t.not([...ids('one')][0], [...ids('two')][0], 'different messages, different ids')
  t.equal(a.content, 'one')
  t.equal(b.content, 'two')
  t.equal(log.filter((l) => l.endsWith(':one')).length, 1, 'emitted once')
  t.same(client.positions(), [{ conversationId: 7, lastSeq: 0 }], 'followed from just before the first send: own sends do not move the position past messages still on their way')
})

t.test('retryable failures and timeouts are retried with the same messageId; refusals and close() end the send', async (t) => {
  const server = await scriptedServer(t)
  let attempts = 0
  server.on('SEND_MESSAGE', (f) => {
    attempts++
    if (attempts === 1) return { type: 'MESSAGE_SEND_FAILURE', payload: { error: 'busy', code: 'CHAT_BUSY', retryAfter: 0, messageId: (f.payload as { messageId: string }).messageId } }
    if (attempts === 2) return { type: 'MESSAGE_SEND_FAILURE', payload: { error: 'unavailable', code: 'CHAT_UNAVAILABLE' } }
    if (attempts === 3) return undefined // no answer: the request times out
    return ack(f, 4)
  })
  const client = testClient(t, server.url, { requestTimeoutMs: 200 })
  await client.connect({ token: 'tok-1' })
  const m = await client.sendMessage(200, 'persistent', { messageId: 'mine-1' })
  t.equal(m.seq, 4)
  t.same(sends(server.frames).map((f) => f.messageId), ['mine-1', 'mine-1', 'mine-1', 'mine-1'])

  server.on('SEND_MESSAGE', () => undefined)
  const pending = client.sendMessage(200, 'never answered')
  await until(() => sends(server.frames).length === 5)
  client.close()
  await t.rejects(pending, { code: 'SDK_CLOSED' })
  await t.rejects(client.sendMessage(200, 'after close'), { code: 'SDK_CLOSED' })
})
