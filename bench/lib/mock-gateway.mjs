// A stand-in for the system (BENCH_TARGET=mock): one process serving two
// "gateways" that speak just enough of the typed API for the `direct`
// scenario (REGISTER, login with ?token=, LOAD_UNREAD, SEND_MESSAGE with
// its answer and the recipient's push), answering at once. It measures
// what the load generator itself can offer, with nothing else limiting it.
//
// Run as a child: `node mock-gateway.mjs`; prints {"ports":[a,b]} when ready.
import { WebSocketServer } from 'ws'

const sockets = new Map() // userId → Set of sockets
let nextUser = 1
let nextMessage = 1

function serve () {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  wss.on('connection', (ws, req) => {
    const token = new URL(req.url, 'http://x').searchParams.get('token')
    let userId = token ? Number(token.slice(1)) : 0
    const attach = () => {
      if (!sockets.has(userId)) sockets.set(userId, new Set())
      sockets.get(userId).add(ws)
    }
    if (userId) attach()
    ws.on('close', () => sockets.get(userId)?.delete(ws))
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString())
      const answer = (type, payload) => ws.send(JSON.stringify({ type, id: f.id, payload }))
      switch (f.type) {
        case 'REGISTER':
          userId = nextUser++
          attach()
          answer('REGISTER_SUCCESS', { userId, username: f.payload.username, email: '', avatar: '', token: `t${userId}` })
          break
        case 'LOAD_UNREAD':
          answer('UNREAD_LOADED', { conversations: [] })
          break
        case 'SEND_MESSAGE': {
          const id = nextMessage++
          const timestamp = new Date().toISOString()
          answer('MESSAGE_RECEIVED_SELF', { messageId: f.payload.messageId, id, timestamp, conversationId: 1, seq: id })
          const push = JSON.stringify({
            type: 'MESSAGE_RECEIVED_OTHER',
            payload: { id, senderId: userId, receiverId: f.payload.receiverId, content: f.payload.content, timestamp, status: 'sent', type: 'text', conversationId: 1, seq: id },
          })
          for (const s of sockets.get(f.payload.receiverId) ?? []) s.send(push)
          break
        }
        default:
          answer('ERROR', { error: `mock: ${f.type} not supported`, code: 'CHAT_UNKNOWN_TYPE' })
      }
    })
  })
  return new Promise((resolve) => wss.on('listening', () => resolve(wss.address().port)))
}

const ports = await Promise.all([serve(), serve()])
console.log(JSON.stringify({ ports }))
process.on('SIGTERM', () => process.exit(0))
