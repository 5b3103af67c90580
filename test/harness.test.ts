// Smoke test of the test harness itself: needs redis-server on PATH but none
// of our services.
import net from 'node:net'
import t from 'tap'
import { WebSocketServer } from 'ws'
import { freePort, portAnswers } from './helpers/net.js'
import { spawnManaged, stopProcess } from './helpers/proc.js'
import { redisCommand, startPrivateRedisServer } from './helpers/redis.js'
import { connectWs } from './helpers/ws.js'

t.test('freePort hands out distinct bindable ports', async (t) => {
  const ports = await Promise.all([freePort(), freePort(), freePort()])
  t.equal(new Set(ports).size, 3)
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(ports[0], '127.0.0.1', resolve))
  t.ok(await portAnswers(ports[0]!))
  await new Promise((resolve) => srv.close(resolve))
  t.notOk(await portAnswers(ports[0]!))
})

t.test('private redis starts, answers and is torn down', async (t) => {
  let port = 0
  await t.test('inner', async (t) => {
    const redis = await startPrivateRedisServer(t)
    port = redis.port
    t.equal(redis.url, `redis://127.0.0.1:${port}`)
    t.equal(await redisCommand(redis.url, 'PING'), 'PONG')
    t.equal(await redisCommand(redis.url, 'SET', 'k', 'héllo wörld'), 'OK')
    t.equal(await redisCommand(redis.url, 'GET', 'k'), 'héllo wörld')
    t.equal(await redisCommand(redis.url, 'INCR', 'n'), 1)
    t.equal(await redisCommand(redis.url, 'FLUSHALL'), 'OK')
    t.equal(await redisCommand(redis.url, 'GET', 'k'), null)
    await t.rejects(redisCommand(redis.url, 'NOSUCHCOMMAND'), /ERR/)
  })
  t.notOk(await portAnswers(port), 'stopped after its test ended')
})

t.test('stopProcess escalates to SIGKILL and keeps output', async (t) => {
  const script = 'process.on("SIGTERM", () => console.log("ignoring TERM")); console.log("up"); setInterval(() => {}, 1000)'
  const p = spawnManaged('stubborn', process.execPath, ['-e', script])
  // Wait until its SIGTERM handler is installed (node may start slowly under load).
  for (let i = 0; i < 200 && !p.lines.includes('up'); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const exit = await stopProcess(p, 'SIGTERM', 500)
  t.equal(exit.signal, 'SIGKILL')
  t.match(p.tail(), /up/)
  t.match(p.tail(), /ignoring TERM/)
})

t.test('ws client: request, buffering, noFrame, raw input, close', async (t) => {
  const port = await freePort()
  const wss = new WebSocketServer({ port, host: '127.0.0.1' })
  t.teardown(() => new Promise((resolve) => wss.close(resolve)))
  wss.on('connection', (sock) => {
    sock.send(JSON.stringify({ type: 'hello', payload: { n: 1 } }))
    sock.on('message', (data) => {
      let msg: { type: string, payload: unknown, id?: string }
      try { msg = JSON.parse(data.toString()) } catch {
        return sock.send(JSON.stringify({ type: 'error', payload: { code: 'BAD_FRAME' } }))
      }
      if (msg.type === 'bye') return sock.close(4000, 'bye')
      sock.send(JSON.stringify({ type: 'noise', payload: {} }))
      sock.send(JSON.stringify({ type: `${msg.type}.ok`, payload: msg.payload, id: msg.id }))
    })
  })

  const ws = await connectWs(`ws://127.0.0.1:${port}/ws`)
  await new Promise((resolve) => setTimeout(resolve, 100)) // hello arrives before we ask
  t.same((await ws.next('hello')).payload, { n: 1 }, 'buffered frame')
  const reply = await ws.request('echo', { a: 1 })
  t.equal(reply.type, 'echo.ok')
  t.same(reply.payload, { a: 1 })
  t.equal((await ws.next((f) => f.type === 'noise')).type, 'noise')
  await ws.noFrame('hello', 100)
  ws.sendRaw('{not json')
  t.same((await ws.next('error')).payload, { code: 'BAD_FRAME' })
  await t.rejects(ws.next('never', 100), /timeout/)
  ws.send({ type: 'bye', payload: {} })
  t.same(await ws.closed, { code: 4000, reason: 'bye' })
  await t.rejects(ws.next('anything', 1000), /closed/)

  // A handshake the server refuses surfaces its HTTP status.
  const refusing = await freePort()
  const srv = net.createServer((s) => s.once('data', () => s.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n')).resume())
  await new Promise<void>((resolve) => srv.listen(refusing, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => srv.close(resolve)))
  const err = await connectWs(`ws://127.0.0.1:${refusing}/ws`).then(() => null, (e: unknown) => e)
  t.match(err, { statusCode: 401 })
})
