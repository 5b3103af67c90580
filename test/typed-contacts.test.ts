// Contacts and presence on the `typed` API, across two gateway replicas,
// including a replica that dies without closing its sockets.
import t from 'tap'
import { startGateway, startSystem } from './helpers/system.js'
import { connectWs } from './helpers/ws.js'
import { loginAgain, registerUser } from './helpers/typed.js'

t.test('contacts and presence', async (t) => {
  // Short presence timings keep the expiry test quick; production defaults are 30 s / 10 s.
  const sys = await startSystem(t, { gateways: 2, env: { PRESENCE_TTL_MS: '3000', PRESENCE_HEARTBEAT_MS: '1000', PRESENCE_SWEEP_MS: '250' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]

  t.test('add, load and delete contacts, with the online flag', async (t) => {
    const ann = await registerUser(a.wsUrl(), 'ann')
    const ben = await registerUser(b.wsUrl(), 'ben')
    const cid = await registerUser(b.wsUrl(), 'cid')
    await cid.client.close()
    t.teardown(() => Promise.all([ann.client.close(), ben.client.close()]))

    const added = await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ben.userId })
    t.equal(added.type, 'CONTACT_ADDED')
    t.same(added.payload, { contactId: ben.userId, userName: ben.username, online: true, avatar: '' })
    const offline = await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: cid.userId })
    t.equal(offline.payload.online, false)
    const loaded = await ann.client.request('LOAD_CONTACTS', { userId: ann.userId })
    t.equal(loaded.type, 'CONTACTS_LOADED')
    t.same(loaded.payload.contacts, [
      { contactId: ben.userId, username: ben.username, online: true, avatar: '' },
      { contactId: cid.userId, username: cid.username, online: false, avatar: '' },
    ])
    const mine = await ben.client.request('LOAD_CONTACTS', { userId: ben.userId })
    t.same(mine.payload.contacts, [], 'contacts are one-directional')

    const dup = await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ben.userId })
    t.equal(dup.type, 'CONTACT_ADDED_FAILED')
    t.equal(dup.payload.code, 'CHAT_CONTACT_EXISTS')
    const ghost = await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: 424242 })
    t.equal(ghost.payload.code, 'CHAT_USER_NOT_FOUND')
    const self = await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ann.userId })
    t.equal(self.payload.code, 'CHAT_SELF_TARGET')
    const spoof = await ben.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ben.userId })
    t.equal(spoof.type, 'CONTACT_ADDED_FAILED')
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')
    const spoofLoad = await ben.client.request('LOAD_CONTACTS', { userId: ann.userId })
    t.equal(spoofLoad.type, 'CONTACTS_LOADED_FAILED')
    const spoofDelete = await ben.client.request('DELETE_CONTACT', { userId: ann.userId, targetId: ben.userId })
    t.equal(spoofDelete.type, 'CONTACT_DELETED_FAILED')

    const deleted = await ann.client.request('DELETE_CONTACT', { userId: ann.userId, targetId: cid.userId })
    t.equal(deleted.type, 'CONTACT_DELETED')
    t.same(deleted.payload, {})
    const again = await ann.client.request('DELETE_CONTACT', { userId: ann.userId, targetId: cid.userId })
    t.equal(again.type, 'CONTACT_DELETED_FAILED')
    t.equal(again.payload.code, 'CHAT_CONTACT_NOT_FOUND')
    const final = await ann.client.request('LOAD_CONTACTS', { userId: ann.userId })
    t.same(final.payload.contacts.map((c: any) => c.contactId), [ben.userId], 'the failed calls changed nothing')
  })

  t.test('presence changes are pushed to watchers on other replicas', async (t) => {
    const ann = await registerUser(a.wsUrl(), 'ann')
    const ben = await registerUser(b.wsUrl(), 'ben')
    t.teardown(() => ann.client.close())
    await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ben.userId })

    const benPhone = await loginAgain(a.wsUrl(), ben)
    await ben.client.close()
    await ann.client.noFrame('PRESENCE_CHANGED', 500).catch((err) => t.fail(`still online on another device: ${err}`))
    await benPhone.close()
    const off = await ann.client.next('PRESENCE_CHANGED')
    t.same(off.payload, { userId: ben.userId, online: false }, 'offline when the last socket closes')
    const back = await loginAgain(b.wsUrl(), ben)
    const on = await ann.client.next('PRESENCE_CHANGED')
    t.same(on.payload, { userId: ben.userId, online: true })
    const list = await ann.client.request('LOAD_CONTACTS', { userId: ann.userId })
    t.equal(list.payload.contacts[0].online, true)
    await back.close()
    t.equal((await ann.client.next('PRESENCE_CHANGED')).payload.online, false)
  })

  t.test('users of a gateway killed without closing its sockets go offline within the TTL', async (t) => {
    const doomed = await startGateway(sys)
    const ann = await registerUser(a.wsUrl(), 'ann')
    t.teardown(() => ann.client.close())
    const ben = await registerUser(doomed.wsUrl(), 'ben')
    await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ben.userId })
    t.equal((await ann.client.request('LOAD_CONTACTS', { userId: ann.userId })).payload.contacts[0].online, true)

    const started = Date.now()
    await sys.kill(doomed.proc, 'SIGKILL')
    const off = await ann.client.next('PRESENCE_CHANGED', 10_000)
    const took = Date.now() - started
    t.same(off.payload, { userId: ben.userId, online: false })
    t.ok(took < 3000 + 2000, `offline after ${took} ms (TTL 3000 ms)`)
    t.equal((await ann.client.request('LOAD_CONTACTS', { userId: ann.userId })).payload.contacts[0].online, false)
  })

  t.test('presence survives a gateway staying alive: heartbeats keep users online past the TTL', async (t) => {
    const ann = await registerUser(a.wsUrl(), 'ann')
    const ben = await registerUser(b.wsUrl(), 'ben')
    t.teardown(() => Promise.all([ann.client.close(), ben.client.close()]))
    await ann.client.request('ADD_CONTACT', { userId: ann.userId, targetId: ben.userId })
    await ann.client.noFrame('PRESENCE_CHANGED', 4500)
    t.equal((await ann.client.request('LOAD_CONTACTS', { userId: ann.userId })).payload.contacts[0].online, true)
  })

  t.test('a fresh socket can still connect after all of this', async (t) => {
    const c = await connectWs(b.wsUrl())
    t.teardown(() => c.close())
    t.equal((await c.request('LOGIN', { username: 'nobody-here', password: 'x' })).type, 'LOGIN_FAILURE')
  })
})
