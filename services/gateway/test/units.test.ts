import t from 'tap'
import { ChatError, type Session } from '@chat/contracts'
import { TokenBucket } from '../src/rate-limit.js'
import { contentTypeFor, decodeBase64Parts, isInlineSafe } from '../src/files.js'
import { requireSelf } from '../src/apis/common.js'
import { tokenFromRequest } from '../src/session.js'

t.test('token bucket allows a burst, then the sustained rate', async (t) => {
  let now = 0
  const bucket = new TokenBucket(2, 3, () => now)
  t.ok(bucket.take())
  t.ok(bucket.take())
  t.ok(bucket.take())
  t.notOk(bucket.take(), 'burst spent')
  now += 500
  t.ok(bucket.take(), 'one token back after half a second at 2/s')
  t.notOk(bucket.take())
  now += 60_000
  for (let i = 0; i < 3; i++) t.ok(bucket.take())
  t.notOk(bucket.take(), 'never more than the burst')
})

t.test('base64 parts: split strings and separately encoded pieces both work', async (t) => {
  const bytes = Buffer.from('hello, files!')
  const whole = bytes.toString('base64')
  t.same(decodeBase64Parts([whole.slice(0, 5), whole.slice(5)], 100), bytes, 'split anywhere')
  const pieces = [bytes.subarray(0, 4), bytes.subarray(4)].map((b) => b.toString('base64'))
  t.same(decodeBase64Parts(pieces, 100), bytes, 'each piece encoded on its own')
  t.same(decodeBase64Parts([], 100), Buffer.alloc(0))
  t.throws(() => decodeBase64Parts(['aGk*'], 100), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => decodeBase64Parts([whole], 5), { code: 'CHAT_CONTENT_TOO_LARGE' })
})

t.test('content types from names, and which are safe inline', async (t) => {
  t.equal(contentTypeFor('cat.PNG'), 'image/png')
  t.equal(contentTypeFor('notes'), 'application/octet-stream')
  t.ok(isInlineSafe('image/png'))
  t.notOk(isInlineSafe('image/svg+xml'))
  t.notOk(isInlineSafe('text/html'))
})

t.test('ids in a payload must be the caller\'s own', async (t) => {
  const session = { user: { id: 42 } } as Session
  t.doesNotThrow(() => requireSelf(session, 42, undefined, '42'))
  t.throws(() => requireSelf(session, 43), new ChatError('CHAT_ID_MISMATCH'))
})

t.test('tokens come from a bearer header, or the query only where allowed', async (t) => {
  t.equal(tokenFromRequest({}, { authorization: 'Bearer abc' }), 'abc')
  t.equal(tokenFromRequest({ token: 'q' }, {}), undefined, 'query ignored for plain HTTP')
  t.equal(tokenFromRequest({ token: 'q' }, {}, true), 'q')
  t.equal(tokenFromRequest({}, {}, true), undefined)
  t.throws(() => tokenFromRequest({}, { authorization: 'Basic xyz' }), { code: 'CHAT_TOKEN_INVALID' })
  t.throws(() => tokenFromRequest({ token: ['a', 'b'] }, {}, true), { code: 'CHAT_TOKEN_INVALID' })
})
