// The auth and contact services' domain events in JetStream, across two
// gateway replicas: registrations, profile updates, revoked sessions and
// contacts added and removed, each once, under its event id, valid against
// the published schemas, with nothing secret in them and nothing for a
// change that was refused; what was changed while the streams were gone,
// once they are back; and what a replica that died with entries in its
// outbox left: published for the changes MongoDB shows, and only those.
import t from 'tap'
import { createValidator, DomainEventSchemas, domainEventNames, type DomainEvent, type DomainEventOf, type DomainEventOwner } from '../packages/contracts/src/index.js'
import { connectMongo } from '../packages/runtime/src/index.js'
import { readDomainEvents, removeDomainStreams } from '../packages/runtime/src/testing.js'
import { startSystem } from './helpers/system.js'
import { connectWs } from './helpers/ws.js'
import { registerUser, sleep, uniqueName } from './helpers/typed.js'

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017'

/** The session id (`jti`) a token stands for. */
function sessionOf (token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti
}

function invalid (events: DomainEvent[]): string[] {
  return events.filter((e) => {
    try {
      createValidator(DomainEventSchemas[e.type])(e)
      return false
    } catch {
      return true
    }
  }).map((e) => e.id)
}

t.test('auth and contact domain events', async (t) => {
  const sys = await startSystem(t, { env: { OUTBOX_ORPHAN_AFTER_MS: '3000', OUTBOX_SWEEP_MS: '200' } })
  const prefix = sys.env.NATS_PREFIX!
  const [a, b] = sys.gateways
  const names = domainEventNames(prefix)

  const read = (owner: DomainEventOwner) => readDomainEvents(NATS_URL, prefix, owner).catch(() => [])
  /** Polls an owner's stream until `done` holds of its events (or 15 s passed), then returns them. */
  const until = async (owner: DomainEventOwner, done: (events: DomainEvent[]) => boolean) => {
    let events: DomainEvent[] = []
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(200)) {
      events = (await read(owner)).map((e) => e.event)
      if (done(events)) break
    }
    return events
  }
  /** Waits until a marker event is in the stream, so that any event of the changes before it is too (one replica publishes in order). */
  const after = async (owner: DomainEventOwner, markerId: string) => await until(owner, (es) => es.some((e) => e.id === markerId))
  const of = <T extends DomainEvent['type']>(events: DomainEvent[], type: T) => events.filter((e): e is DomainEventOf<T> => e.type === type)

  t.test('REGISTER: user.registered once, with the names as stored and nothing secret', async (t) => {
    const alice = await registerUser(a!.wsUrl(), 'alice')
    t.teardown(() => alice.client.close())
    const again = await connectWs(b!.wsUrl())
    t.teardown(() => again.close())
    t.equal((await again.request('REGISTER', { username: alice.username.toUpperCase(), password: 'pw' })).payload.code, 'CHAT_USERNAME_TAKEN')
    const bob = await registerUser(b!.wsUrl(), 'bob')
    t.teardown(() => bob.client.close())

    await after('auth', `user.registered:${bob.userId}`)
    const stored = (await read('auth')).filter((s) => s.event.type === 'user.registered')
    const mine = stored.filter((s) => s.event.type === 'user.registered' && [alice.userId, bob.userId].includes(s.event.data.userId))
    t.same(mine.map((s) => s.msgId), [`user.registered:${alice.userId}`, `user.registered:${bob.userId}`], 'one each, in order, under its id (Nats-Msg-Id); none for the refused registration')
    t.same(mine.map((s) => s.subject), [names.subject('user.registered'), names.subject('user.registered')])
    t.same(invalid(mine.map((s) => s.event)), [], 'valid against the schema')
    t.match(mine[0]!.event, { id: `user.registered:${alice.userId}`, type: 'user.registered', version: 1, data: { userId: alice.userId, username: alice.username, nickname: '' } })
    const raw = JSON.stringify(mine.map((s) => s.event))
    for (const secret of [alice.password, alice.email, alice.token, 'passwordHash', 'scrypt']) t.notOk(raw.includes(secret), `no ${secret === alice.password ? 'password' : secret === alice.token ? 'token' : secret}`)
  })

  t.test('UPDATE_PROFILE: user.updated with what changed; a password change revokes the other sessions', async (t) => {
    const u = await registerUser(a!.wsUrl(), 'carol')
    t.teardown(() => u.client.close())
    const second = await connectWs(b!.wsUrl())
    t.teardown(() => second.close())
    const login = await second.request('LOGIN', { username: u.username, password: u.password })
    t.equal(login.type, 'LOGIN_SUCCESS')
    const secondSession = sessionOf(login.payload.token)

    const newName = uniqueName('renamed')
    const res = await u.client.request('UPDATE_PROFILE', { userId: u.userId, username: newName, avatar: 'https://img.example/c.png', password: 'new-pass', currentPassword: u.password })
    t.equal(res.type, 'PROFILE_UPDATED_SUCCESS')
    t.equal((await second.closed).code, 4001)
    // Refused and empty updates change nothing: no event.
    t.equal((await u.client.request('UPDATE_PROFILE', { userId: u.userId, password: 'x', currentPassword: 'wrong' })).payload.code, 'CHAT_CURRENT_PASSWORD_INVALID')
    t.equal((await u.client.request('UPDATE_PROFILE', { userId: u.userId, username: newName })).type, 'PROFILE_UPDATED_SUCCESS')
    const marker = await registerUser(a!.wsUrl(), 'marker')
    t.teardown(() => marker.client.close())

    const events = (await after('auth', `user.registered:${marker.userId}`)).filter((e) => (e.data as { userId: number }).userId === u.userId)
    t.same(invalid(events), [])
    t.same(events.map((e) => e.type), ['user.registered', 'user.updated', 'session.revoked'], 'the update, then the session it ended; nothing for the refused or empty update')
    const [updated] = of(events, 'user.updated')
    t.same(updated!.data.changed, ['username', 'avatar', 'password'])
    t.equal(updated!.data.username, newName)
    t.notOk('nickname' in updated!.data, 'unchanged names are not repeated')
    t.equal(updated!.id, `user.updated:${u.userId}:${Date.parse(updated!.data.updatedAt)}`)
    t.notOk(JSON.stringify(updated).includes('new-pass'), 'never the password')
    t.same(of(events, 'session.revoked').map((e) => [e.id, e.data]), [[`session.revoked:${secondSession}`, { userId: u.userId, sessionId: secondSession, reason: 'password-changed' }]],
      'the other session, not the one that made the change')
  })

  t.test('LOGOUT: session.revoked once', async (t) => {
    const u = await registerUser(b!.wsUrl(), 'dave')
    t.teardown(() => u.client.close())
    t.equal((await u.client.request('LOGOUT', { userId: u.userId })).type, 'LOGOUT_SUCCESS')
    const revoked = of(await until('auth', (es) => of(es, 'session.revoked').some((e) => e.data.userId === u.userId)), 'session.revoked').filter((e) => e.data.userId === u.userId)
    t.same(revoked.map((e) => [e.id, e.data]), [[`session.revoked:${sessionOf(u.token)}`, { userId: u.userId, sessionId: sessionOf(u.token), reason: 'logout' }]])
    t.same(invalid(revoked), [])
  })

  t.test('ADD_CONTACT / DELETE_CONTACT: each change once, in order, each under its own id', async (t) => {
    const ann = await registerUser(a!.wsUrl(), 'ann')
    const ben = await registerUser(b!.wsUrl(), 'ben')
    t.teardown(() => Promise.all([ann.client.close(), ben.client.close()]))
    const add = () => ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ben.userId })
    const remove = () => ann.client.request('DELETE_CONTACT', { userId: ann.userId, targetId: ben.userId })
    t.equal((await add()).type, 'CONTACT_ADDED')
    t.equal((await add()).payload.code, 'CHAT_CONTACT_EXISTS', 'refused: no event')
    t.equal((await remove()).type, 'CONTACT_DELETED')
    t.equal((await remove()).payload.code, 'CHAT_CONTACT_NOT_FOUND', 'refused: no event')
    t.equal((await add()).type, 'CONTACT_ADDED', 'the same pair again')
    t.equal((await remove()).type, 'CONTACT_DELETED')
    t.equal((await ben.client.request('ADD_CONTACT', { userId: ben.userId, targetId: ann.userId })).type, 'CONTACT_ADDED')

    const events = await until('contact', (es) => es.some((e) => e.type === 'contact.added' && e.data.userId === ben.userId))
    const stored = await read('contact')
    t.same(stored.map((s) => s.msgId), events.map((e) => e.id), 'each under its event id')
    t.same(stored.map((s) => s.subject), events.map((e) => names.subject(e.type)))
    t.same(invalid(events), [])
    const edges = events as Array<DomainEventOf<'contact.added' | 'contact.removed'>>
    t.same(edges.map((e) => [e.type, e.data.userId, e.data.contactId]), [
      ['contact.added', ann.userId, ben.userId],
      ['contact.removed', ann.userId, ben.userId],
      ['contact.added', ann.userId, ben.userId],
      ['contact.removed', ann.userId, ben.userId],
      ['contact.added', ben.userId, ann.userId],
    ], 'in the order made; the owner is the acting user')
    t.equal(new Set(edges.map((e) => e.id)).size, 5, 'repeated changes of one pair have ids of their own')
    t.equal(edges[1]!.data.addedAt, edges[0]!.data.addedAt, 'a removal names the edge it removed')
    t.equal(edges[3]!.data.addedAt, edges[2]!.data.addedAt)
    t.ok(Date.parse(edges[1]!.time) >= Date.parse(edges[0]!.time))
  })

  t.test('changes made while the streams were gone are published once they are back', async (t) => {
    const ann = await registerUser(a!.wsUrl(), 'ann')
    t.teardown(() => ann.client.close())
    await removeDomainStreams(NATS_URL, prefix)
    const eve = await registerUser(b!.wsUrl(), 'eve')
    t.teardown(() => eve.client.close())
    t.equal((await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: eve.userId })).type, 'CONTACT_ADDED', 'commands do not wait for the stream')
    t.ok((await until('auth', (es) => es.some((e) => e.id === `user.registered:${eve.userId}`))).some((e) => e.id === `user.registered:${eve.userId}`), 'the auth stream was made again and holds the registration')
    t.ok((await until('contact', (es) => es.some((e) => e.type === 'contact.added' && e.data.contactId === eve.userId))).some((e) => e.type === 'contact.added' && e.data.contactId === eve.userId), 'the contact stream holds the addition')
  })

  t.test('a replica that died with entries in its outbox: the sweep publishes what MongoDB shows happened, nothing else', async (t) => {
    const mongo = await connectMongo(MONGO_URL, sys.env.MONGO_DB!, 'test')
    t.teardown(() => mongo.client.close())
    const db = mongo.db
    const now = new Date()
    const iso = now.toISOString()
    const envelope = <T extends DomainEvent['type']>(type: T, id: string, data: DomainEventOf<T>['data'], time = iso) => ({ id, type, version: 1, time, data }) as DomainEventOf<T>
    const old = new Date(Date.now() - 60_000)

    // auth: a user stored and one never stored; a session revoked by the
    // dead replica's change and one revoked earlier by another change.
    await db.collection('users').insertOne({ _id: 8_000_000_001, username: 'orphan', usernameKey: 'orphan', email: '', passwordHash: 'x', nickname: '', avatar: '', createdAt: now, updatedAt: now } as never)
    const expiresAt = new Date(Date.now() + 3_600_000)
    await db.collection('sessions').insertMany([
      { _id: 'orphan-session-1', userId: 8_000_000_001, createdAt: now, expiresAt, revokedAt: now },
      { _id: 'orphan-session-2', userId: 8_000_000_001, createdAt: now, expiresAt, revokedAt: old },
    ] as never)
    await db.collection('auth_outbox').insertOne({
      _id: 'left-by-a-dead-auth-replica',
      owner: 'dead',
      at: old,
      events: [
        envelope('user.registered', 'user.registered:8000000001', { userId: 8_000_000_001, username: 'orphan', nickname: '', createdAt: iso }),
        envelope('user.registered', 'user.registered:8000000002', { userId: 8_000_000_002, username: 'never', nickname: '', createdAt: iso }),
        envelope('session.revoked', 'session.revoked:orphan-session-1', { userId: 8_000_000_001, sessionId: 'orphan-session-1', reason: 'logout' }),
        envelope('session.revoked', 'session.revoked:orphan-session-2', { userId: 8_000_000_001, sessionId: 'orphan-session-2', reason: 'logout' }),
      ],
    } as never)

    // contact: an addition stored, one never stored, a removal made, and a
    // removal never made (the edge is still there, as it was).
    const edge = (u: number, c: number) => ({ userId: u, contactId: c, addedAt: old.toISOString() })
    await db.collection('contacts').insertMany([
      { _id: '8000000001:8000000003', userId: 8_000_000_001, contactId: 8_000_000_003, createdAt: now },
      { _id: '8000000001:8000000006', userId: 8_000_000_001, contactId: 8_000_000_006, createdAt: old },
    ] as never)
    await db.collection('contact_outbox').insertOne({
      _id: 'left-by-a-dead-contact-replica',
      owner: 'dead',
      at: old,
      events: [
        envelope('contact.added', `contact.added:8000000001:8000000003:${now.getTime()}`, { userId: 8_000_000_001, contactId: 8_000_000_003, addedAt: iso }),
        envelope('contact.added', `contact.added:8000000001:8000000004:${now.getTime()}`, { userId: 8_000_000_001, contactId: 8_000_000_004, addedAt: iso }),
        envelope('contact.removed', `contact.removed:8000000001:8000000005:${old.getTime()}`, edge(8_000_000_001, 8_000_000_005)),
        envelope('contact.removed', `contact.removed:8000000001:8000000006:${old.getTime()}`, edge(8_000_000_001, 8_000_000_006)),
      ],
    } as never)

    const authIds = (await until('auth', (es) => es.some((e) => e.id === 'session.revoked:orphan-session-1'))).map((e) => e.id)
    const contactIds = (await until('contact', (es) => es.some((e) => e.id.startsWith('contact.removed:8000000001:8000000005')))).map((e) => e.id)
    await sleep(500)
    t.same(authIds.filter((id) => /8000000001|8000000002|orphan-session/.test(id)), ['user.registered:8000000001', 'session.revoked:orphan-session-1'], 'auth: the stored registration and this change\'s revocation only')
    t.same(contactIds.filter((id) => id.includes(':8000000001:')), [`contact.added:8000000001:8000000003:${now.getTime()}`, `contact.removed:8000000001:8000000005:${old.getTime()}`], 'contact: the stored addition and the removal made only')
    for (const collection of ['auth_outbox', 'contact_outbox']) {
      for (const deadline = Date.now() + 5000; Date.now() < deadline && await db.collection(collection).countDocuments() > 0;) await sleep(100)
      t.equal(await db.collection(collection).countDocuments(), 0, `${collection}: the entry is gone`)
    }
  })
})
