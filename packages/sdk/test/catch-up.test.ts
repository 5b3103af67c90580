// The catch-up after a reconnect: SYNC from the last position, messages and
// changes applied in seq order, paged while hasMore, and nothing emitted
// twice when the same message or change arrives live and in SYNC.
import t from 'tap'
import type { Frame } from '../src/index.js'
import { msg, record, scriptedServer, testClient, until } from './helpers.js'

const other = (m: object): Frame => ({ type: 'MESSAGE_RECEIVED_OTHER', payload: m })

t.test('a reconnect catches up from the last position, messages and changes merged in seq order, page by page', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  const log = record(client)
  const sources: string[] = []
  client.on('message', (e) => sources.push(e.source))
  await client.connect({ token: 'tok-1' })
  server.push(other(msg(1)))
  server.push(other(msg(2)))
  await until(() => log.length === 2)
  t.same(client.positions(), [{ conversationId: 7, lastSeq: 2 }])

  const cursors: unknown[] = []
  server.on('SYNC', (f) => {
    const c = (f.payload as { cursors: Array<{ lastSeq: number }> }).cursors
    cursors.push(c)
    // Each list oldest first, as the server sends them; the SDK merges them.
    return (c[0] as { lastSeq: number }).lastSeq === 2
      ? { type: 'SYNC_RESULT', payload: { conversations: [{ conversationId: 7, hasMore: true, messages: [msg(3)], changes: [{ seq: 4, change: 'edited', messageId: 1001, messageSeq: 1, senderId: 200, content: 'm1 edited', timestamp: '2026-12-03T10:01:00.000Z' }] }] } }
      : { type: 'SYNC_RESULT', payload: { conversations: [{ conversationId: 7, hasMore: false, messages: [msg(6), msg(8)], changes: [{ seq: 5, change: 'deleted', messageId: 1002, messageSeq: 2, senderId: 200, timestamp: '2026-12-03T10:02:00.000Z' }, { seq: 7, change: 'edited', messageId: 1006, messageSeq: 6, senderId: 200, content: 'm6 edited', timestamp: '2026-12-03T10:03:00.000Z' }] }] } }
  })
  const caughtUp = new Promise((resolve) => client.once('caughtUp', resolve))
  server.dropAll(1001)
  t.same(await caughtUp, { conversations: 2 })
  t.same(cursors, [[{ conversationId: 7, lastSeq: 2 }], [{ conversationId: 7, lastSeq: 4 }]], 'from the last position, then from the highest seq of the first page (a change\'s)')
  t.same(log, ['m:1:m1', 'm:2:m2', 'm:3:m3', 'e:1001:m1 edited', 'd:1002', 'm:6:m6', 'e:1006:m6 edited', 'm:8:m8'], 'in seq order')
  t.same(sources, ['live', 'live', 'sync', 'sync', 'sync'])
  t.same(client.positions(), [{ conversationId: 7, lastSeq: 8 }])
})

t.test('a message or change seen live is not emitted again from SYNC; live events during the catch-up wait for it', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  const log = record(client)
  await client.connect({ token: 'tok-1' })
  const editedAt = '2026-12-03T10:05:00.000Z'
  server.push(other(msg(1)))
  server.push({ type: 'MESSAGE_EDITED', payload: { ...msg(1), content: 'm1 edited', editedAt } })
  await until(() => log.length === 2)

  server.on('SYNC', (_f, socket) => {
    // The gateway delivers new pushes as soon as the socket is logged in: m2
    // and m4 arrive before the SYNC answer, which has m2 (and the edit, in its place) too.
    socket.send(JSON.stringify(other(msg(2))))
    socket.send(JSON.stringify(other(msg(4))))
    return { type: 'SYNC_RESULT', payload: { conversations: [{ conversationId: 7, hasMore: false, messages: [msg(2)], changes: [{ seq: 3, change: 'edited', messageId: 1001, messageSeq: 1, senderId: 200, content: 'm1 edited', timestamp: editedAt }] }] } }
  })
  const caughtUp = new Promise((resolve) => client.once('caughtUp', resolve))
  server.dropAll(1001)
  await caughtUp
  await until(() => log.length >= 4)
  t.same(log, ['m:1:m1', 'e:1001:m1 edited', 'm:2:m2', 'm:4:m4'], 'each once, the catch-up\'s before what came live meanwhile')

  // A later edit of the same message (another time) is a new event; a repeated deletion is not.
  server.push({ type: 'MESSAGE_EDITED', payload: { ...msg(1), content: 'm1 again', editedAt: '2026-12-03T10:06:00.000Z' } })
  server.push({ type: 'MESSAGE_DELETED', payload: { messageId: 1002, conversationId: 7 } })
  server.push({ type: 'MESSAGE_DELETED', payload: { messageId: 1002, conversationId: 7 } })
  server.push(other(msg(2)))
  server.push(other(msg(5)))
  await until(() => log.length >= 7)
  t.same(log.slice(4), ['e:1001:m1 again', 'd:1002', 'm:5:m5'], 'a deleted message seen again is not emitted again')
})

t.test('a conversation no longer ours is dropped from the catch-up instead of failing it', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  const log = record(client)
  await client.connect({ token: 'tok-1' })
  server.push(other(msg(1, { conversationId: 7 })))
  server.push(other(msg(1, { conversationId: 8, id: 2001 })))
  await until(() => log.length === 2)
  server.on('SYNC', (f) => {
    const cursors = (f.payload as { cursors: Array<{ conversationId: number }> }).cursors
    if (cursors.some((c) => c.conversationId === 8)) return { type: 'SYNC_FAILURE', payload: { error: 'Not a member', code: 'CHAT_NOT_MEMBER' } }
    return { type: 'SYNC_RESULT', payload: { conversations: [{ conversationId: 7, hasMore: false, messages: [msg(2)], changes: [] }] } }
  })
  const caughtUp = new Promise((resolve) => client.once('caughtUp', resolve))
  server.dropAll(1001)
  await caughtUp
  t.same(client.positions(), [{ conversationId: 7, lastSeq: 2 }])
  t.same(log.slice(2), ['m:2:m2'])
})

t.test('positions saved from an earlier session are caught up from at the first login', async (t) => {
  const server = await scriptedServer(t)
  const cursors: unknown[] = []
  server.on('SYNC', (f) => {
    cursors.push((f.payload as { cursors: unknown }).cursors)
    return { type: 'SYNC_RESULT', payload: { conversations: [{ conversationId: 7, hasMore: false, messages: [msg(11)], changes: [] }] } }
  })
  const client = testClient(t, server.url, { positions: [{ conversationId: 7, lastSeq: 10 }] })
  const log = record(client)
  const caughtUp = new Promise((resolve) => client.once('caughtUp', resolve))
  await client.connect({ token: 'tok-1' })
  await caughtUp
  t.same(cursors, [[{ conversationId: 7, lastSeq: 10 }]])
  t.same(log, ['m:11:m11'])
  t.same(client.positions(), [{ conversationId: 7, lastSeq: 11 }])
})

t.test('after a reconnect, a conversation started while away is found by its unread count and followed', async (t) => {
  const server = await scriptedServer(t)
  const client = testClient(t, server.url)
  const log = record(client)
  server.on('LOAD_UNREAD', () => ({ type: 'UNREAD_LOADED', payload: { conversations: [{ conversationId: 9, peerId: 300, count: 2 }, { conversationId: 7, peerId: 200, count: 1 }] } }))
  server.on('LOAD_MESSAGES', (f) => {
    t.match(f.payload, { userId: 100, targetId: 300, limit: 2 })
    return { type: 'MESSAGES_LOADED', payload: [msg(1, { conversationId: 9, id: 3001, senderId: 300 }), msg(2, { conversationId: 9, id: 3002, senderId: 300 })], meta: { conversationId: 9, hasMore: false } }
  })
  await client.connect({ token: 'tok-1' })
  server.push(other(msg(1)))
  await until(() => log.length === 1)
  t.notOk(server.frames.some((f) => f.type === 'LOAD_UNREAD'), 'not at the first login')
  const caughtUp = new Promise((resolve) => client.once('caughtUp', resolve))
  server.dropAll(1001)
  t.same(await caughtUp, { conversations: 1 })
  t.same(log, ['m:1:m1', 'm:1:m1', 'm:2:m2'])
  t.same(client.positions(), [{ conversationId: 7, lastSeq: 1 }, { conversationId: 9, lastSeq: 2 }], 'the conversation already followed is left to SYNC')
  t.equal(server.frames.filter((f) => f.type === 'LOAD_MESSAGES').length, 1)
})

t.test('an own message edited elsewhere while away comes back edited in SYNC: emitted as an edit', async (t) => {
  const server = await scriptedServer(t)
  server.on('SEND_MESSAGE', (f) => ({ type: 'MESSAGE_RECEIVED_SELF', payload: { messageId: (f.payload as { messageId: string }).messageId, id: 1003, timestamp: '2026-12-03T10:00:00.000Z', conversationId: 7, seq: 3 } }))
  const client = testClient(t, server.url)
  const log = record(client)
  await client.connect({ token: 'tok-1' })
  server.push(other(msg(2)))
  await until(() => log.length === 1)
  await client.sendMessage(200, 'mine')
  server.on('SYNC', () => ({ type: 'SYNC_RESULT', payload: { conversations: [{ conversationId: 7, hasMore: false, messages: [{ ...msg(3, { senderId: 100, content: 'mine, edited' }), editedAt: '2026-12-03T10:09:00.000Z' }], changes: [] }] } }))
  const caughtUp = new Promise((resolve) => client.once('caughtUp', resolve))
  server.dropAll(1001)
  await caughtUp
  t.same(log, ['m:2:m2', 'm:3:mine', 'e:1003:mine, edited'])
})
