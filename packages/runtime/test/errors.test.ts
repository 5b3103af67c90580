// A store that cannot be reached is CHAT_UNAVAILABLE (retryable), not
// CHAT_INTERNAL: the errors are made by the real drivers against a port
// nothing listens on.
import { createServer } from 'node:net'
import t from 'tap'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import { ChatError } from '@chat/contracts'
import { toChatError } from '../src/errors.js'

async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

t.test('MongoDB unreachable: CHAT_UNAVAILABLE', async (t) => {
  const client = new MongoClient(`mongodb://127.0.0.1:${await closedPort()}`, { serverSelectionTimeoutMS: 200 })
  t.teardown(() => client.close())
  const err = await client.db('x').collection('y').findOne({}).catch((e: unknown) => e)
  t.equal(toChatError(err).code, 'CHAT_UNAVAILABLE', String(err))
})

t.test('Redis unreachable: CHAT_UNAVAILABLE', async (t) => {
  const redis = new Redis({ host: '127.0.0.1', port: await closedPort(), maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true })
  redis.on('error', () => undefined) // the refused connection; the command's rejection is what is tested
  t.teardown(() => redis.disconnect())
  const err = await redis.get('k').catch((e: unknown) => e)
  t.equal(toChatError(err).code, 'CHAT_UNAVAILABLE', String(err))
})

t.test('anything else: CHAT_INTERNAL, and a ChatError stays itself', async (t) => {
  t.equal(toChatError(new TypeError('x is undefined')).code, 'CHAT_INTERNAL')
  t.equal(toChatError('a string').code, 'CHAT_INTERNAL')
  const own = new ChatError('CHAT_BLOCKED')
  t.equal(toChatError(own), own)
})
