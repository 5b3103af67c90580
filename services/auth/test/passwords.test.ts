// scrypt password hashes: today's parameters (OWASP's minimum), stored in
// the hash; old hashes still verify and are marked for an upgrade.
import t from 'tap'
import { DUMMY_HASH, hashPassword, needsRehash, SCRYPT_PARAMS, verifyPassword } from '../src/passwords.js'

const OLD = { N: 2 ** 14, r: 8, p: 1 }
const paramsOf = (hash: string) => hash.split('$').slice(1, 4).map(Number)

t.test('new hashes use N=2^17, r=8, p=1 and say so', async (t) => {
  t.ok(SCRYPT_PARAMS.N >= 2 ** 17 && SCRYPT_PARAMS.r >= 8 && SCRYPT_PARAMS.p >= 1, 'at least OWASP\'s minimum')
  const hash = await hashPassword('correct horse')
  t.match(hash, /^scrypt\$131072\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
  t.ok(await verifyPassword('correct horse', hash))
  t.notOk(await verifyPassword('correct horsE', hash))
  t.notOk(needsRehash(hash), 'a new hash is up to date')
  t.not(await hashPassword('correct horse'), hash, 'salted')
})

t.test('old-parameter hashes still verify and need a rehash', async (t) => {
  const old = await hashPassword('pw', OLD)
  t.same(paramsOf(old), [OLD.N, OLD.r, OLD.p])
  t.ok(await verifyPassword('pw', old))
  t.notOk(await verifyPassword('nope', old))
  t.ok(needsRehash(old))
  t.ok(needsRehash('bcrypt$whatever'), 'an unknown scheme too')
})

t.test('an unknown user is checked against a hash with today\'s parameters (same cost)', async (t) => {
  t.same(paramsOf(DUMMY_HASH), [SCRYPT_PARAMS.N, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p])
  t.notOk(needsRehash(DUMMY_HASH))
  t.equal(DUMMY_HASH.split('$').length, (await hashPassword('x')).split('$').length)
  t.notOk(await verifyPassword('', DUMMY_HASH))
  t.notOk(await verifyPassword('anything', DUMMY_HASH))
})

t.test('hashes asking for absurd parameters fail instead of taking the memory', async (t) => {
  const salt = Buffer.alloc(16).toString('base64')
  const key = Buffer.alloc(64).toString('base64')
  for (const [n, r, p] of [[2 ** 30, 8, 1], [3000, 8, 1], [16384, 1000, 1], [16384, 8, 1000], [-2, 8, 1], ['x', 8, 1]]) {
    t.notOk(await verifyPassword('pw', `scrypt$${n}$${r}$${p}$${salt}$${key}`), `N=${n} r=${r} p=${p}`)
  }
  t.notOk(await verifyPassword('pw', 'scrypt$16384$8$1$$'), 'empty salt and hash')
})
