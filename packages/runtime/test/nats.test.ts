// The command server and client over a real NATS server (127.0.0.1:4222).
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { connect, headers } from '@nats-io/transport-node'
import { ChatError, Commands, createSubjects } from '@chat/contracts'
import { createCommandClient, createLogger, createMetricsRegistry, serveCommands, DEADLINE_HEADER } from '../src/index.js'

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'

t.test('commands: replies, errors as data, validation, deadlines, timeouts', async (t) => {
  const prefix = `t${randomBytes(4).toString('hex')}`
  const nc = await connect({ servers: NATS_URL })
  t.teardown(() => nc.close())
  const registry = createMetricsRegistry('test')
  let calls = 0
  const server = serveCommands(nc, {
    prefix,
    queue: 'auth',
    logger: createLogger('test', 'silent'),
    registry,
    handlers: {
      [Commands.auth.getUsers]: async (req) => {
        calls++
        if (req.ids?.[0] === 404) throw new ChatError('CHAT_USER_NOT_FOUND')
        if (req.ids?.[0] === 500) throw new Error('database exploded: secret details')
        if (req.ids?.[0] === 777) await new Promise((resolve) => setTimeout(resolve, 500))
        return { users: [{ id: req.ids?.[0] ?? 1, username: 'ann', nickname: '', avatar: '' }] }
      },
    },
  })
  t.teardown(() => server.stop())
  await nc.flush()
  const client = createCommandClient(nc, { prefix, timeoutMs: 2000, registry })

  t.same(await client.call(Commands.auth.getUsers, { ids: [7] }), { users: [{ id: 7, username: 'ann', nickname: '', avatar: '' }] })
  await t.rejects(client.call(Commands.auth.getUsers, { ids: [404] }), { name: 'ChatError', code: 'CHAT_USER_NOT_FOUND' })
  const internal = await client.call(Commands.auth.getUsers, { ids: [500] }).then(() => new ChatError('CHAT_BAD_REQUEST', 'resolved'), (e: unknown) => e as ChatError)
  t.equal(internal.code, 'CHAT_INTERNAL')
  t.notMatch(internal.message, /secret/, 'internals do not leak to callers')
  await t.rejects(client.call(Commands.auth.getUsers, { ids: ['x' as unknown as number] }), { code: 'CHAT_BAD_REQUEST' }, 'the service validates against the contract')
  await t.rejects(client.call(Commands.auth.login, { login: 'a', password: 'b' }), { code: 'CHAT_UNAVAILABLE' }, 'no responders')
  await t.rejects(client.call(Commands.auth.getUsers, { ids: [777] }, { timeoutMs: 100 }), { code: 'CHAT_TIMEOUT' })

  const subject = createSubjects(prefix).command(Commands.auth.getUsers)
  const before = calls
  const late = headers()
  late.set(DEADLINE_HEADER, String(Date.now() - 1))
  await t.rejects(nc.request(subject, JSON.stringify({ ids: [1] }), { timeout: 300, headers: late }), 'a command past its deadline gets no answer')
  t.equal(calls, before, 'and is not run')
  t.match(await registry.metrics(), /chat_command_expired_total\{command="auth.users.get",service="test"\} 1/)
  const raw = await nc.request(subject, 'not json', { timeout: 1000 })
  t.equal(raw.headers?.get('Chat-Error-Code'), 'CHAT_BAD_REQUEST')
  t.equal(raw.headers?.get('Nats-Service-Error-Code'), '400')
})

t.test('stop() lets commands already taken finish', async (t) => {
  const prefix = `t${randomBytes(4).toString('hex')}`
  const nc = await connect({ servers: NATS_URL })
  t.teardown(() => nc.close())
  let finished = 0
  const server = serveCommands(nc, {
    prefix,
    queue: 'auth',
    logger: createLogger('test', 'silent'),
    handlers: {
      [Commands.auth.getUsers]: async () => {
        await new Promise((resolve) => setTimeout(resolve, 300))
        finished++
        return { users: [] }
      },
    },
  })
  await nc.flush()
  const client = createCommandClient(nc, { prefix, timeoutMs: 2000 })
  const pending = Promise.all([1, 2, 3].map(() => client.call(Commands.auth.getUsers, {})))
  await new Promise((resolve) => setTimeout(resolve, 50))
  await server.stop()
  t.equal(finished, 3, 'stop waited for the handlers')
  t.same(await pending, [{ users: [] }, { users: [] }, { users: [] }], 'and their replies went out')
})

t.test('stop() does not wait for a command past the moment its caller gave up', async (t) => {
  const prefix = `t${randomBytes(4).toString('hex')}`
  const nc = await connect({ servers: NATS_URL })
  t.teardown(() => nc.close())
  let release!: () => void
  const stuck = new Promise<void>((resolve) => { release = resolve })
  t.teardown(() => release())
  const server = serveCommands(nc, {
    prefix,
    queue: 'auth',
    logger: createLogger('test', 'silent'),
    handlers: {
      [Commands.auth.getUsers]: async () => {
        await stuck // a query that outlasts everything
        return { users: [] }
      },
    },
  })
  await nc.flush()
  const client = createCommandClient(nc, { prefix, timeoutMs: 200 })
  await t.rejects(client.call(Commands.auth.getUsers, {}), { code: 'CHAT_TIMEOUT' })
  const started = Date.now()
  await server.stop()
  t.ok(Date.now() - started < 1000, 'stopped without waiting for the stuck command')
})
