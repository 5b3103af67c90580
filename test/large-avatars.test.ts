// Avatars may be data URIs of up to 256 KiB. Lists and pushes name users
// through `auth.users.names` (no avatars), so a user whose peers all have
// large avatars still gets their conversation lists, in every API, on any
// replica, and gateways never cache avatars. Contact lists and search
// results carry avatar URLs; GET /users/:id/avatar serves data URIs.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { http } from './helpers/http.js'
import { registerUser, uniqueName } from './helpers/typed.js'
import { connectWs } from './helpers/ws.js'

t.test('large avatars', async (t) => {
  const sys = await startSystem(t, { gateways: 2 })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const alice = await registerUser(a.wsUrl(), 'alice')
  t.teardown(() => alice.client.close())

  // Six peers with ~200 KiB avatars each: together well over NATS's 1 MiB.
  const avatar = `data:image/png;base64,${randomBytes(150 * 1024).toString('base64')}`
  const peers: Array<{ userId: number, username: string }> = []
  for (let i = 0; i < 6; i++) {
    const peer = await connectWs(b.wsUrl())
    const reg = await peer.request('REGISTER', { username: uniqueName('big'), password: 'pw-secret', avatar })
    t.equal(reg.type, 'REGISTER_SUCCESS')
    t.equal(reg.payload.avatar.length, avatar.length, 'the avatar is stored whole')
    const sent = await peer.request('SEND_MESSAGE', { messageId: 1, senderId: reg.payload.userId, receiverId: alice.userId, content: `hi ${i}` })
    t.equal(sent.type, 'MESSAGE_RECEIVED_SELF')
    peers.push({ userId: reg.payload.userId, username: reg.payload.username })
    await peer.close()
  }

  const list = await alice.client.request('LOAD_CONVERSATIONS', {})
  t.equal(list.type, 'CONVERSATIONS_LOADED')
  t.equal(list.payload.conversations.length, 6)
  t.ok(list.payload.conversations.every((c: { name: string }) => c.name.startsWith('big_')), 'named by username')

  const chats = await http(`${b.httpUrl}/chats`, { headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(chats.status, 200)
  t.equal(chats.body.length, 6)
  t.ok(chats.body.every((c: { with_user_name: string, last_message_sender_name: string }) =>
    c.with_user_name.startsWith('big_') && c.last_message_sender_name === c.with_user_name))
  t.ok(chats.text.length < 20_000, 'lists carry names, not avatars')

  // Contact lists carry names and avatar URLs, never the data URIs: each
  // avatar is one GET away, on either replica, for logged-in users only.
  for (const peer of peers) {
    const added = await alice.client.request('ADD_CONTACT', { userId: alice.userId, targetId: peer.userId })
    t.equal(added.type, 'CONTACT_ADDED')
    t.equal(added.payload.avatar, `/users/${peer.userId}/avatar`)
  }
  const contacts = await alice.client.request('LOAD_CONTACTS', { userId: alice.userId })
  t.equal(contacts.type, 'CONTACTS_LOADED')
  t.same(contacts.payload.contacts.map((c: { contactId: number }) => c.contactId), peers.map((p) => p.userId), 'all six, in the order added')
  t.same(contacts.payload.contacts.map((c: { avatar: string }) => c.avatar), peers.map((p) => `/users/${p.userId}/avatar`), 'each avatar as a URL')
  t.ok(JSON.stringify(contacts).length < 5000, 'lists carry names, not avatars')
  const found = await alice.client.request('SEARCH_USERS', { query: 'big_' })
  t.ok(found.payload.users.length >= 6 && JSON.stringify(found).length < 10_000, 'so do search results')
  t.ok(found.payload.users.every((u: { userId: number, avatar: string }) => u.avatar === `/users/${u.userId}/avatar`))

  const first = peers[0]!
  const image = await fetch(`${a.httpUrl}/users/${first.userId}/avatar`, { headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(image.status, 200)
  t.equal(image.headers.get('content-type'), 'image/png')
  t.equal(image.headers.get('x-content-type-options'), 'nosniff')
  t.same(Buffer.from(await image.arrayBuffer()), Buffer.from(avatar.split(',')[1]!, 'base64'), 'the avatar\'s bytes')
  t.equal((await fetch(`${b.httpUrl}/users/${first.userId}/avatar`)).status, 401, 'not without a session')
  t.equal((await fetch(`${b.httpUrl}/users/${alice.userId}/avatar`, { headers: { authorization: `Bearer ${alice.token}` } })).status, 404, 'no avatar: 404')
  const linked = await alice.client.request('UPDATE_PROFILE', { userId: alice.userId, avatar: 'https://img.example/alice.png' })
  t.equal(linked.type, 'PROFILE_UPDATED_SUCCESS')
  const redirect = await fetch(`${b.httpUrl}/users/${alice.userId}/avatar`, { headers: { authorization: `Bearer ${alice.token}` }, redirect: 'manual' })
  t.same([redirect.status, redirect.headers.get('location')], [302, 'https://img.example/alice.png'], 'a URL avatar is a redirect')

  const events = await connectWs(b.wsUrl('/ws/events'))
  t.teardown(() => events.close())
  events.send({ event: 'LOGIN', data: { user: alice.username, password: alice.password } })
  t.equal((await events.next((f) => f.event === 'OK')).event, 'OK')
  events.send({ event: 'LIST_CONTACTS_UNREAD' })
  const listed = await events.next((f) => f.event === 'OK' || f.event === 'FAIL')
  t.same(listed.data, { contacts: Object.fromEntries(peers.map((p) => [p.username, 1])) }, 'every contact with one unread message')
})
