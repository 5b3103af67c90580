// CHAT_LOGIN_THROTTLED and the retry-after seconds an error may carry across NATS.
import t from 'tap'
import { ChatError, createValidator, ErrorCatalogue, LoginRequest } from '../src/index.js'

t.test('a throttled login is a 429 whose retry-after survives the trip as data', async (t) => {
  t.equal(ErrorCatalogue.CHAT_LOGIN_THROTTLED.status, 429)
  const err = new ChatError('CHAT_LOGIN_THROTTLED', undefined, { retryAfterSeconds: 42 })
  t.same(err.toData(), { code: 'CHAT_LOGIN_THROTTLED', message: ErrorCatalogue.CHAT_LOGIN_THROTTLED.message, retryAfterSeconds: 42 })
  const back = ChatError.fromData(JSON.parse(JSON.stringify(err.toData())))
  t.equal(back.code, 'CHAT_LOGIN_THROTTLED')
  t.equal(back.retryAfterSeconds, 42)
  t.equal(back.status, 429)
})

t.test('errors without one have none, and nonsense is dropped', async (t) => {
  t.notOk('retryAfterSeconds' in new ChatError('CHAT_BAD_CREDENTIALS').toData())
  t.equal(ChatError.fromData({ code: 'CHAT_BAD_CREDENTIALS', message: 'x' }).retryAfterSeconds, undefined)
  for (const bad of [-1, 1.5, '10', Number.NaN, 1e300, null]) {
    t.equal(ChatError.fromData({ code: 'CHAT_LOGIN_THROTTLED', retryAfterSeconds: bad }).retryAfterSeconds, undefined, String(bad))
  }
})

t.test('a login may carry the client address the gateway saw, bounded', async (t) => {
  const validate = createValidator(LoginRequest)
  for (const ip of ['203.0.113.7', '2001:db8::1', '::ffff:192.0.2.1', 'fe80::1%eth0']) {
    t.ok(validate({ login: 'a', password: 'b', clientAddress: ip }), ip)
  }
  t.ok(validate({ login: 'a', password: 'b' }), 'optional')
  for (const bad of ['', '1'.repeat(65), 'a b', 'x\n', '<script>']) {
    t.throws(() => validate({ login: 'a', password: 'b', clientAddress: bad }), { code: 'CHAT_BAD_REQUEST' }, JSON.stringify(bad))
  }
})
