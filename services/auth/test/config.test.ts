// The signing key settings: a configured Ed25519 key (inline or from a
// file) is used, anything else fails at start with a clear message.
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { generateSigningKey } from '@chat/runtime'
import { loadAuthConfig } from '../src/config.js'
import { authOptions } from '../src/options.js'

t.test('no key configured: none is given, and no secret is read from anywhere', async (t) => {
  const options = await authOptions(loadAuthConfig({ JWT_SECRET: 'ignored-legacy-value-0123456789abcdef' }))
  t.equal(options.signingKey, undefined, 'auth uses the key kept in MongoDB')
  t.same(options.tokens, { issuer: 'chat-auth', audience: 'chat' })
})

t.test('TOKEN_PRIVATE_KEY and TOKEN_PRIVATE_KEY_FILE give the same key', async (t) => {
  const key = await generateSigningKey()
  const inline = await authOptions(loadAuthConfig({ TOKEN_PRIVATE_KEY: key.pem }))
  t.equal(inline.signingKey?.kid, key.kid)
  const escaped = await authOptions(loadAuthConfig({ TOKEN_PRIVATE_KEY: key.pem.replaceAll('\n', '\\n') }))
  t.equal(escaped.signingKey?.kid, key.kid, 'one-line PEM with \\n escapes')
  const file = t.testdir({ 'key.pem': key.pem })
  const fromFile = await authOptions(loadAuthConfig({ TOKEN_PRIVATE_KEY_FILE: `${file}/key.pem` }))
  t.equal(fromFile.signingKey?.kid, key.kid)
  t.throws(() => loadAuthConfig({ TOKEN_PRIVATE_KEY: key.pem, TOKEN_PRIVATE_KEY_FILE: `${file}/key.pem` }), /not both/)
})

t.test('a key that is not Ed25519 PKCS#8 fails at start', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  await t.rejects(authOptions(loadAuthConfig({ TOKEN_PRIVATE_KEY: rsa })), /must be Ed25519/)
  await t.rejects(authOptions(loadAuthConfig({ TOKEN_PRIVATE_KEY: 'secret' })), /not a PKCS#8 PEM/)
  const dir = t.testdir({})
  await t.rejects(authOptions(loadAuthConfig({ TOKEN_PRIVATE_KEY_FILE: `${dir}/missing.pem` })), /ENOENT/)
})

t.test('SHUTDOWN_GRACE_MS: the grace period main.ts gives a graceful stop', async (t) => {
  t.equal(loadAuthConfig({}).SHUTDOWN_GRACE_MS, 10000)
  t.equal(loadAuthConfig({ SHUTDOWN_GRACE_MS: '2500' }).SHUTDOWN_GRACE_MS, 2500)
  t.throws(() => loadAuthConfig({ SHUTDOWN_GRACE_MS: '-1' }), /SHUTDOWN_GRACE_MS must be >= 0/)
  t.throws(() => loadAuthConfig({ SHUTDOWN_GRACE_MS: 'soon' }), /SHUTDOWN_GRACE_MS must be integer/)
})
