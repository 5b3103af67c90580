// The SDK's error codes against the server's catalogue.
import t from 'tap'
import { ErrorCatalogue } from '@chat/contracts'
import { ChatSdkError, SdkErrorCodes } from '../src/index.js'
import { retryableServerCodes } from '../src/errors.js'

t.test('the codes the SDK retries are the catalogue\'s, and its own never collide with it', async (t) => {
  for (const code of retryableServerCodes()) t.ok(Object.hasOwn(ErrorCatalogue, code), code)
  for (const code of Object.keys(SdkErrorCodes)) t.notOk(Object.hasOwn(ErrorCatalogue, code), code)
})

t.test('a failure frame becomes an error with its code, retryAfter and messageId', async (t) => {
  const err = ChatSdkError.fromFailure('MESSAGE_SEND_FAILURE', { error: 'busy', code: 'CHAT_BUSY', retryAfter: 1, messageId: 'm-1' })
  t.match(err, { name: 'ChatSdkError', code: 'CHAT_BUSY', message: 'busy', retryAfter: 1, messageId: 'm-1', frameType: 'MESSAGE_SEND_FAILURE', retryable: true })
  t.equal(ChatSdkError.fromFailure('ERROR', {}).code, 'CHAT_INTERNAL', 'a failure without a code')
  t.equal(new ChatSdkError('CHAT_BLOCKED', 'x').retryable, false)
  t.equal(new ChatSdkError('SDK_CONNECTION_LOST', 'x').retryable, true)
})
