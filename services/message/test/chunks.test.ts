import t from 'tap'
import { ChatError } from '@chat/contracts'
import { chunkCount, decodeBase64Strict, expectedChunkLength } from '../src/chunks.js'

t.test('chunkCount', async (t) => {
  t.equal(chunkCount(0, 4), 0)
  t.equal(chunkCount(1, 4), 1)
  t.equal(chunkCount(4, 4), 1)
  t.equal(chunkCount(5, 4), 2)
})

t.test('expectedChunkLength', async (t) => {
  t.equal(expectedChunkLength(10, 4, 0), 4)
  t.equal(expectedChunkLength(10, 4, 1), 4)
  t.equal(expectedChunkLength(10, 4, 2), 2, 'the last chunk is the rest')
  t.equal(expectedChunkLength(8, 4, 1), 4, 'an exact multiple ends in a full chunk')
  t.throws(() => expectedChunkLength(10, 4, 3), ChatError)
  t.throws(() => expectedChunkLength(0, 4, 0), ChatError, 'an empty file has no chunks')
})

t.test('decodeBase64Strict', async (t) => {
  t.same(decodeBase64Strict(Buffer.from('hello!').toString('base64')), Buffer.from('hello!'))
  t.same(decodeBase64Strict(Buffer.from('hi').toString('base64')), Buffer.from('hi'))
  t.equal(decodeBase64Strict('').length, 0)
  for (const bad of ['aGk', 'a*==', 'aGVsbG8=\n', 'aGVs bG8=', 'aGk=aGk=']) {
    t.throws(() => decodeBase64Strict(bad), ChatError, JSON.stringify(bad))
  }
})
