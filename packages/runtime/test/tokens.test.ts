import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { SignJWT } from 'jose'
import type { Jwks } from '@chat/contracts'
import { createTokenVerifier, generateSigningKey, importSigningKey, KeySet, signToken, type SigningKey } from '../src/tokens.js'

const settings = { issuer: 'chat-auth', audience: 'chat' }
/** The HS256 key the repository once published as its default. */
const OLD_DEFAULT_SECRET = 'dev-only-secret-change-me-in-production-0123456789'

function keySetOf (keys: SigningKey[], minRefetchMs = 20): KeySet {
  const set = new KeySet(async () => ({ keys: keys.map((k) => k.publicJwk) }), { minRefetchMs })
  return set
}

t.test('a token signed with the active key verifies; its claims come back', async (t) => {
  const key = await generateSigningKey()
  const verify = createTokenVerifier(settings, keySetOf([key]))
  const { token, claims } = await signToken(settings, key, 42, 60)
  t.same(await verify(token), claims)
  t.equal(claims.userId, 42)
  t.match(claims.sessionId, /^[0-9a-f-]{36}$/)
})

t.test('keys carry their RFC 7638 thumbprint as kid; a PEM round trip keeps it', async (t) => {
  const key = await generateSigningKey()
  t.match(key.kid, /^[A-Za-z0-9_-]{43}$/)
  t.same(key.publicJwk, { kty: 'OKP', crv: 'Ed25519', x: key.publicJwk.x, kid: key.kid, alg: 'EdDSA', use: 'sig' })
  const again = await importSigningKey(key.pem)
  t.equal(again.kid, key.kid)
  t.notOk('d' in again.publicJwk, 'no private part in the public JWK')
})

t.test('only Ed25519 PKCS#8 keys are accepted as signing keys', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  await t.rejects(importSigningKey(ec), /must be Ed25519/)
  await t.rejects(importSigningKey('not a key'), /not a PKCS#8 PEM/)
})

t.test('tokens under the old shared secret, or no signature, are refused without a key lookup', async (t) => {
  const key = await generateSigningKey()
  const keys = keySetOf([key])
  const verify = createTokenVerifier(settings, keys)
  const forged = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('1').setJti('s').setIssuer(settings.issuer).setAudience(settings.audience).setExpirationTime('1h')
    .sign(new TextEncoder().encode(OLD_DEFAULT_SECRET))
  await t.rejects(verify(forged), { code: 'CHAT_TOKEN_INVALID' })
  const forgedWithKid = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', kid: key.kid })
    .setSubject('1').setJti('s').setIssuer(settings.issuer).setAudience(settings.audience).setExpirationTime('1h')
    .sign(new TextEncoder().encode(OLD_DEFAULT_SECRET))
  await t.rejects(verify(forgedWithKid), { code: 'CHAT_TOKEN_INVALID' }, 'HS256 even when naming a real key')
  const [header, payload] = (await signToken(settings, key, 1, 60)).token.split('.')
  const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`
  await t.rejects(verify(none), { code: 'CHAT_TOKEN_INVALID' })
  await t.rejects(verify(`${header}.${payload}.AAAA`), { code: 'CHAT_TOKEN_INVALID' }, 'a bad signature')
  await t.rejects(verify('garbage'), { code: 'CHAT_TOKEN_INVALID' })
  t.equal(keys.fetchCount, 1, 'only the well-formed EdDSA token with a real kid looked its key up')
})

t.test('a token signed by a key that is not published is refused, even naming a published kid', async (t) => {
  const published = await generateSigningKey()
  const rogue = await generateSigningKey()
  const verify = createTokenVerifier(settings, keySetOf([published]))
  await t.rejects(verify((await signToken(settings, rogue, 1, 60)).token), { code: 'CHAT_TOKEN_INVALID' })
  const impostor: SigningKey = { ...rogue, kid: published.kid }
  await t.rejects(verify((await signToken(settings, impostor, 1, 60)).token), { code: 'CHAT_TOKEN_INVALID' })
})

t.test('issuer, audience and expiry are checked', async (t) => {
  const key = await generateSigningKey()
  const keys = keySetOf([key])
  const verify = createTokenVerifier(settings, keys)
  await t.rejects(verify((await signToken({ ...settings, issuer: 'other' }, key, 1, 60)).token), { code: 'CHAT_TOKEN_INVALID' })
  await t.rejects(verify((await signToken({ ...settings, audience: 'other' }, key, 1, 60)).token), { code: 'CHAT_TOKEN_INVALID' })
  await t.rejects(verify((await signToken(settings, key, 1, -10)).token), { code: 'CHAT_TOKEN_INVALID' })
  t.equal(keys.fetchCount, 0, 'foreign and expired tokens never cost a key fetch')
})

t.test('an unknown kid refetches the key set, rate-limited and shared by every caller', async (t) => {
  const first = await generateSigningKey()
  const published: Jwks = { keys: [first.publicJwk] }
  let fetches = 0
  const keys = new KeySet(async () => {
    fetches++
    return published
  }, { minRefetchMs: 200 })
  const verify = createTokenVerifier(settings, keys)
  await keys.refresh()
  t.equal(fetches, 1)

  const rotated = await generateSigningKey()
  published.keys = [first.publicJwk, rotated.publicJwk]
  const { token } = await signToken(settings, rotated, 7, 60)
  t.equal((await verify(token)).userId, 7, 'a key published since the last fetch is found')
  t.equal(fetches, 2)

  const strangers = await Promise.all(Array.from({ length: 3 }, async () => (await signToken(settings, await generateSigningKey(), 1, 60)).token))
  const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => verify(strangers[i % 3]!)))
  t.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'CHAT_TOKEN_INVALID'))
  t.equal(fetches, 3, '60 tokens with unknown keys cost one fetch')
  t.equal((await verify(token)).userId, 7, 'known keys need no fetch')
  t.equal(fetches, 3)
})

t.test('keys dropped from the set stop verifying', async (t) => {
  const old = await generateSigningKey()
  const published: Jwks = { keys: [old.publicJwk] }
  const keys = new KeySet(async () => published, { minRefetchMs: 1 })
  const verify = createTokenVerifier(settings, keys)
  const { token } = await signToken(settings, old, 3, 60)
  t.equal((await verify(token)).userId, 3)
  published.keys = []
  await keys.refresh()
  await t.rejects(verify(token), { code: 'CHAT_TOKEN_INVALID' })
})

t.test('a failing source is an error, not a verdict on the token', async (t) => {
  const key = await generateSigningKey()
  const keys = new KeySet(async () => { throw new Error('auth is down') }, { minRefetchMs: 1 })
  const verify = createTokenVerifier(settings, keys)
  await t.rejects(verify((await signToken(settings, key, 1, 60)).token), /auth is down/)
})
