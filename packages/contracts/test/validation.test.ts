import t from 'tap'
import { ChatError, CommandSpecs, Commands, createValidator, ErrorCatalogue, isErrorCode, SendMessageRequest, createSubjects } from '../src/index.js'

t.test('a validator returns typed data or throws CHAT_BAD_REQUEST naming the field', async (t) => {
  const validate = createValidator(SendMessageRequest)
  const ok = { actorId: 1, peerId: 2, kind: 'text', content: 'hi' }
  t.same(validate(ok), ok)
  t.throws(() => validate({ ...ok, actorId: { $gt: '' } }), { name: 'ChatError', code: 'CHAT_BAD_REQUEST', message: /^actorId/ })
  t.throws(() => validate({ ...ok, kind: 'video' }), { code: 'CHAT_BAD_REQUEST' })
  t.throws(() => validate({ ...ok, extra: 1 }), { code: 'CHAT_BAD_REQUEST' }, 'commands refuse unknown fields')
  t.throws(() => validate({ ...ok, actorId: 2 ** 53 }), { code: 'CHAT_BAD_REQUEST' }, 'ids stay below 2^53')
  t.throws(() => validate(null), { code: 'CHAT_BAD_REQUEST' })
})

t.test('every command has a request and reply schema', async (t) => {
  for (const group of Object.values(Commands)) {
    for (const subject of Object.values(group)) {
      const spec = CommandSpecs[subject as keyof typeof CommandSpecs]
      t.ok(spec?.request && spec.reply, subject)
    }
  }
})

t.test('errors round-trip as data and unknown codes become CHAT_INTERNAL', async (t) => {
  const err = new ChatError('CHAT_ROOM_FULL')
  t.equal(err.status, 403)
  t.equal(err.name, 'ChatError')
  const back = ChatError.fromData(err.toData())
  t.equal(back.code, 'CHAT_ROOM_FULL')
  t.equal(back.message, err.message)
  t.equal(ChatError.fromData({ code: 'NOPE', message: 'x' }).code, 'CHAT_INTERNAL')
  t.ok(isErrorCode('CHAT_TIMEOUT'))
  t.notOk(isErrorCode('toString'), 'prototype keys are not codes')
  t.ok(new ChatError('CHAT_TIMEOUT').retryable)
  t.notOk(new ChatError('CHAT_BAD_REQUEST').retryable)
})

t.test('error codes are prefixed and statuses are HTTP statuses', async (t) => {
  for (const [code, { status }] of Object.entries(ErrorCatalogue)) {
    t.match(code, /^CHAT_[A-Z_]+$/)
    t.ok(status >= 400 && status < 600, code)
  }
})

t.test('subjects carry the prefix and the interface version', async (t) => {
  const s = createSubjects('acme')
  t.equal(s.command('message.send'), 'acme.v1.message.send')
  t.equal(s.userEvent(42, 'message.new'), 'acme.v1.evt.user.42.message.new')
  t.equal(s.userEvents(42), 'acme.v1.evt.user.42.>')
  t.equal(s.sessionRevoked, 'acme.v1.evt.session.revoked')
})

t.test('docs/errors.md lists every code with its status', async (t) => {
  const { readFile } = await import('node:fs/promises')
  const doc = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8')
  for (const [code, { status }] of Object.entries(ErrorCatalogue)) {
    t.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), code)
  }
})
