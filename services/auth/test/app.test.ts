// The auth service in-process against the real NATS, Redis and MongoDB-wire
// server: user search (auth.users.search). Everything is namespaced by a
// random NATS prefix, database and Redis key prefix, and removed afterwards.
import t from 'tap'
import { Commands, QueueGroups, type PublicUser, type SearchUsersRequest } from '@chat/contracts'
import { encodeJson } from '@chat/runtime'
import { outcome as code, startServiceUnderTest } from '@chat/runtime/testing'
import { loadAuthConfig } from '../src/config.js'
import { buildAuthService } from '../src/app.js'
import { authOptions } from '../src/options.js'

const { nc, client } = await startServiceUnderTest(t, {
  name: 'auth',
  queue: QueueGroups.auth,
  configFor: loadAuthConfig,
  // Cheap hashes: these tests register many users at once; passwords.test.ts and login.test.ts cover the real cost.
  env: { PASSWORD_SCRYPT_LOG2_N: '14' },
  setup: async (deps, config) => await buildAuthService(deps, await authOptions(config)),
})

const names = [
  'alice', 'Alicia', 'ALINA', 'bob', 'a.b', 'axb', 'x.*y', 'x(y', 'x[y', 'back\\slash', '$gt', 'dollar$gt',
  'Ünïcödé', '\u00e9mile', 'caret^al', 'pipe|bob', '名前',
]
const paged = Array.from({ length: 25 }, (_, i) => `Page${String(i + 1).padStart(2, '0')}`)
const ids = new Map<string, number>()
// Registered a few at a time: scrypt is deliberately slow.
for (let i = 0; i < names.length + paged.length; i += 6) {
  const batch = [...names, ...paged].slice(i, i + 6)
  const sessions = await Promise.all(batch.map((username) => client.call(Commands.auth.register, { username, password: 'secret-pw' })))
  for (const s of sessions) ids.set(s.user.username, s.user.id)
}
const actorId = ids.get('alice') ?? 0

async function search (query: string, page: Omit<SearchUsersRequest, 'actorId' | 'query'> = {}) {
  return await client.call(Commands.auth.searchUsers, { actorId, query, ...page })
}
const usernames = (users: PublicUser[]) => users.map((u) => u.username)

t.test('substring, case-insensitive, sorted by username; the actor is included', async (t) => {
  const r = await search('ali')
  t.same(usernames(r.users), ['alice', 'Alicia', 'ALINA'])
  t.equal(r.hasMore, false)
  t.same(r.users[0], { id: actorId, username: 'alice', nickname: '', avatar: '', hasAvatar: false }, 'public fields only; lists carry no data-URI avatar')
  t.same(usernames((await search('ALI')).users), ['alice', 'Alicia', 'ALINA'])
  t.same(usernames((await search('LiN')).users), ['ALINA'], 'inside the name')
  t.same(usernames((await search('bob')).users), ['bob', 'pipe|bob'])
  t.same((await search('zzz-nobody')).users, [])
})

t.test('the query is literal text, never a pattern', async (t) => {
  t.same(usernames((await search('.')).users), ['a.b', 'x.*y'], '. is a dot')
  t.same(usernames((await search('.*')).users), ['x.*y'], '.* matches only itself')
  t.same(usernames((await search('a.b')).users), ['a.b'], 'not axb')
  t.same(usernames((await search('(')).users), ['x(y'], 'an unbalanced ( is no error')
  t.same(usernames((await search('[')).users), ['x[y'])
  t.same(usernames((await search('\\')).users), ['back\\slash'])
  t.same(usernames((await search('\\s')).users), ['back\\slash'], '\\s is a backslash and an s, not whitespace')
  t.same(usernames((await search('$gt')).users), ['$gt', 'dollar$gt'])
  t.same(usernames((await search('^al')).users), ['caret^al'], '^ is no anchor')
  t.same(usernames((await search('b|x')).users), [], '| is no alternation')
  t.same(usernames((await search('|')).users), ['pipe|bob'])
  t.same(usernames((await search('{"$gt": ""}')).users), [])
  t.same((await search('\u0000')).users, [], 'a NUL byte matches nothing and is no error')
})

t.test('unicode: case folding and normalisation like stored keys', async (t) => {
  t.same(usernames((await search('ÜNÏ')).users), ['Ünïcödé'])
  t.same(usernames((await search('cödé')).users), ['Ünïcödé'])
  t.same(usernames((await search('E\u0301MI')).users), ['\u00e9mile'], 'a decomposed query finds the composed name')
  t.same(usernames((await search('名')).users), ['名前'])
})

t.test('paging: limit, offset, hasMore', async (t) => {
  const first = await search('page')
  t.equal(first.users.length, 20, 'default page size 20')
  t.equal(first.hasMore, true)
  const rest = await search('page', { offset: 20 })
  t.same(usernames([...first.users, ...rest.users]), paged, 'sorted, nothing missed or repeated')
  t.equal(rest.hasMore, false)
  t.equal((await search('page', { limit: 25 })).hasMore, false, 'exactly the last one: no more')
  t.equal((await search('page', { limit: 24 })).hasMore, true)
  t.equal((await search('page', { limit: 50 })).users.length, 25)
  const walked: string[] = []
  for (let offset = 0, more = true; more; offset += 7) {
    const r = await search('PAGE', { limit: 7, offset })
    walked.push(...usernames(r.users))
    more = r.hasMore
  }
  t.same(walked, paged, 'walking pages of 7')
  t.same(await search('page', { offset: 100 }), { users: [], hasMore: false }, 'past the end')
})

t.test('bad requests are refused by the schema before any query', async (t) => {
  const raw = async (payload: unknown) => {
    const msg = await nc.request(client.subjects.command(Commands.auth.searchUsers), encodeJson(payload), { timeout: 10000 })
    return msg.headers?.get('Chat-Error-Code') ?? 'ok'
  }
  t.equal(await raw({ actorId, query: { $gt: '' } }), 'CHAT_BAD_REQUEST', 'an operator object is not a string')
  t.equal(await raw({ actorId, query: ['a'] }), 'CHAT_BAD_REQUEST')
  t.equal(await raw({ actorId, query: 'a', limit: { $gt: 0 } }), 'CHAT_BAD_REQUEST')
  t.equal(await raw({ actorId, query: 'a', $where: '1' }), 'CHAT_BAD_REQUEST', 'no extra fields')
  t.equal(await raw({ actorId, query: 'ali' }), 'ok', 'the same request, well-formed, works')
  t.equal(await code(search('')), 'CHAT_BAD_REQUEST', 'empty query')
  t.equal(await code(search('x'.repeat(65))), 'CHAT_BAD_REQUEST', 'query too long')
  t.equal(await code(search('a', { limit: 51 })), 'CHAT_BAD_REQUEST', 'limit above 50')
  t.equal(await code(search('a', { limit: 0 })), 'CHAT_BAD_REQUEST')
  t.equal(await code(search('a', { offset: -1 })), 'CHAT_BAD_REQUEST')
})

t.test('users.names: names only, by id or username, never the avatar', async (t) => {
  const avatar = `data:image/png;base64,${'A'.repeat(200_000)}`
  const big = await client.call(Commands.auth.register, { username: 'Bigface', password: 'secret-pw', nickname: 'Big', avatar })
  const both = await client.call(Commands.auth.getNames, { ids: [big.user.id, 987654321], usernames: ['ALICE'] })
  t.same(both.users.sort((x, y) => x.id - y.id), [
    { id: actorId, username: 'alice', nickname: '' },
    { id: big.user.id, username: 'Bigface', nickname: 'Big' },
  ].sort((x, y) => x.id - y.id), 'unknown ids left out; any case of a username')
  const full = await client.call(Commands.auth.getUsers, { ids: [big.user.id] })
  t.equal(full.users[0]?.avatar, avatar, 'users.get still has it')
})

t.test('users.get leaves out what would overflow one NATS reply, and names it', async (t) => {
  const avatar = `data:image/png;base64,${'B'.repeat(250_000)}`
  const ids: number[] = []
  for (let i = 0; i < 5; i++) ids.push((await client.call(Commands.auth.register, { username: `heavy${i}`, password: 'secret-pw', avatar })).user.id)
  const first = await client.call(Commands.auth.getUsers, { ids })
  t.ok(first.users.length >= 1 && first.users.length < 5, `${first.users.length} fit`)
  t.same([...first.users.map((u) => u.id), ...(first.omittedIds ?? [])].sort(), [...ids].sort(), 'the rest are named')
  const again = await client.call(Commands.auth.getUsers, { ids: first.omittedIds ?? [] })
  t.equal(again.omittedIds, undefined)
  t.ok(again.users.every((u) => u.avatar === avatar))
  const small = await client.call(Commands.auth.getUsers, { ids: [actorId] })
  t.equal(small.omittedIds, undefined, 'nothing left out when it all fits')
})

t.test('resumes arriving together are read together, and each gets its own user', async (t) => {
  const sessions = await Promise.all(['storm1', 'storm2', 'storm3'].map((username) => client.call(Commands.auth.register, { username, password: 'secret-pw' })))
  // A reconnect storm: every token at once, one of them twice.
  const tokens = [...sessions.map((s) => s.token), sessions[0]!.token]
  const resumed = await Promise.all(tokens.map((token) => client.call(Commands.auth.resume, { token })))
  t.same(resumed.map((s) => s.user.username), ['storm1', 'storm2', 'storm3', 'storm1'])
  t.same(resumed.map((s) => s.sessionId), [...sessions.map((s) => s.sessionId), sessions[0]!.sessionId])
})
