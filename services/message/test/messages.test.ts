import { MongoBulkWriteError, MongoNetworkError, type BulkWriteResult, type WriteError } from 'mongodb'
import t from 'tap'
import { ChatError } from '@chat/contracts'
import { asBatchRefusal } from '../src/messages.js'

const result = (writeConcernError?: object) => ({ getWriteConcernError: () => writeConcernError }) as unknown as BulkWriteResult
const duplicate = { index: 1, code: 11000, errmsg: 'E11000 duplicate key' } as unknown as WriteError

t.test('a bulk error naming refused documents stays what it is', async (t) => {
  const err = new MongoBulkWriteError({ message: 'E11000', code: 11000, writeErrors: [duplicate] }, result())
  t.equal(asBatchRefusal(err), err)
})

t.test('a driver error wrapped in a bulk error (server unreachable) is no refusal: CHAT_UNAVAILABLE', async (t) => {
  const err = new MongoBulkWriteError(new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:27017'), result())
  const mapped = asBatchRefusal(err)
  t.ok(mapped instanceof ChatError)
  t.match(mapped, { code: 'CHAT_UNAVAILABLE', cause: err })
})

t.test('a write concern error makes the whole batch unsure, also with refused documents', async (t) => {
  const err = new MongoBulkWriteError({ message: 'E11000', code: 11000, writeErrors: [duplicate] }, result({ code: 64, errmsg: 'waiting for replication timed out' }))
  t.match(asBatchRefusal(err), { code: 'CHAT_UNAVAILABLE' })
})

t.test('other errors pass through', async (t) => {
  const err = new Error('boom')
  t.equal(asBatchRefusal(err), err)
})
