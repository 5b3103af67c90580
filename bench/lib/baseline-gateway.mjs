// One replica of the plain design the issue compares us with
// (BENCH_TARGET=baseline): a Socket.IO + Redis-adapter chat that stores every
// message with one `insertOne`. Here over plain `ws` (no Socket.IO framing),
// speaking just the typed-API subset of the `direct` scenario: REGISTER,
// login with ?token=, LOAD_UNREAD, SEND_MESSAGE with its answer and the
// recipient's push. run.mjs starts two of these.
//
// Per message, as the plain design does it: await one insertOne into
// MongoDB, answer, PUBLISH the push on the recipient's Redis channel; every
// replica pattern-subscribes to all users' channels (as the Socket.IO Redis
// adapter subscribes to every room) and writes the push to its own sockets
// of that user. No batching, no caches, no sequence numbers: the generator
// matches answers by request id and pushes by content, so it needs neither.
// Handlers run concurrently, as Socket.IO event handlers do: one sender's
// messages are not serialised, so under load they may be stored and
// delivered out of order (the report counts that).
//
// Run as a child: `node baseline-gateway.mjs`, with MONGO_URL, REDIS_URL,
// BASELINE_DB and BASELINE_PREFIX set; prints {"port":n} when ready.
import { createRequire } from 'node:module'
import path from 'node:path'
import { WebSocketServer } from 'ws'
import { ROOT } from './util.mjs'

// The root package has neither driver; the services' ones (as system.mjs).
const require = createRequire(path.join(ROOT, 'services', 'message', 'package.json'))
const { MongoClient } = require('mongodb')
const Redis = require('ioredis').default ?? require('ioredis')

const prefix = process.env.BASELINE_PREFIX
const mongo = new MongoClient(process.env.MONGO_URL)
await mongo.connect()
const messages = mongo.db(process.env.BASELINE_DB).collection('messages')
const redis = new Redis(process.env.REDIS_URL)
const sub = new Redis(process.env.REDIS_URL)

const sockets = new Map() // userId → Set of this replica's sockets
await sub.psubscribe(`${prefix}user:*`)
sub.on('pmessage', (_pattern, channel, push) => {
  for (const ws of sockets.get(Number(channel.slice(prefix.length + 5))) ?? []) ws.send(push)
})

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
wss.on('connection', (ws, req) => {
  // Login is not what is measured: the token is just "t<userId>".
  const token = new URL(req.url, 'http://x').searchParams.get('token')
  let userId = token ? Number(token.slice(1)) : 0
  const attach = () => {
    if (!sockets.has(userId)) sockets.set(userId, new Set())
    sockets.get(userId).add(ws)
  }
  if (userId) attach()
  ws.on('close', () => sockets.get(userId)?.delete(ws))
  ws.on('message', async (data) => {
    const f = JSON.parse(data.toString())
    const answer = (type, payload) => ws.send(JSON.stringify({ type, id: f.id, payload }))
    switch (f.type) {
      case 'REGISTER':
        userId = await redis.incr(`${prefix}users`)
        attach()
        answer('REGISTER_SUCCESS', { userId, username: f.payload.username, email: '', avatar: '', token: `t${userId}` })
        break
      case 'LOAD_UNREAD':
        answer('UNREAD_LOADED', { conversations: [] })
        break
      case 'SEND_MESSAGE': {
        const { messageId, receiverId, content } = f.payload
        const doc = { senderId: userId, receiverId, content, type: 'text', messageId, createdAt: new Date() }
        try {
          await messages.insertOne(doc)
        } catch (err) {
          answer('MESSAGE_SEND_FAILURE', { error: err.message, code: 'CHAT_UNAVAILABLE', messageId })
          return
        }
        const id = doc._id.toHexString()
        const timestamp = doc.createdAt.toISOString()
        answer('MESSAGE_RECEIVED_SELF', { messageId, id, timestamp })
        const push = { id, senderId: userId, receiverId, content, timestamp, status: 'sent', type: 'text' }
        redis.publish(`${prefix}user:${receiverId}`, JSON.stringify({ type: 'MESSAGE_RECEIVED_OTHER', payload: push }))
          .catch((err) => console.error(`publish failed: ${err.message}`))
        break
      }
      default:
        answer('ERROR', { error: `baseline: ${f.type} not supported`, code: 'CHAT_UNKNOWN_TYPE' })
    }
  })
})
await new Promise((resolve) => wss.on('listening', resolve))
console.log(JSON.stringify({ port: wss.address().port }))
process.on('SIGTERM', async () => {
  wss.close()
  for (const c of wss.clients) c.terminate()
  await Promise.allSettled([mongo.close(), redis.quit(), sub.quit()])
  process.exit(0)
})
