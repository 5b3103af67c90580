// The message lifecycle on the `typed` API: edit, delete, delete a whole
// conversation, read receipts, typing, and message kinds.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { loginAgain, registerUser, sendText, uniqueName } from './helpers/typed.js'
import { REFUSED_MEDIA_URLS, WEB_MEDIA_URLS } from './helpers/media.js'

t.test('message lifecycle', async (t) => {
  const sys = await startSystem(t, { gateways: 2, env: { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_LIMIT_BURST: '1000' } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]

  t.test('edit: the sender only; everyone sees the edit and its time', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const alice2 = await loginAgain(b.wsUrl(), alice)
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), alice2.close()]))
    const sent = await sendText(alice, bob, 'helo')
    await bob.client.next('MESSAGE_RECEIVED_OTHER')
    const edited = await alice.client.request('EDIT_MESSAGE', { messageId: sent.payload.id, content: 'hello' })
    t.equal(edited.type, 'MESSAGE_EDITED')
    t.match(edited.payload, { id: sent.payload.id, content: 'hello', editedAt: /Z$/ })
    t.match((await bob.client.next('MESSAGE_EDITED')).payload, { id: sent.payload.id, content: 'hello' })
    t.match((await alice2.next('MESSAGE_EDITED')).payload, { id: sent.payload.id }, 'the editor\'s other devices too')
    await alice.client.noFrame('MESSAGE_EDITED', 300)
    const history = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.match(history.payload, [{ id: sent.payload.id, content: 'hello', editedAt: edited.payload.editedAt }])

    const hijack = await bob.client.request('EDIT_MESSAGE', { messageId: sent.payload.id, content: 'pwned' })
    t.equal(hijack.type, 'MESSAGE_EDIT_FAILURE')
    t.equal(hijack.payload.code, 'CHAT_FORBIDDEN')
    const missing = await alice.client.request('EDIT_MESSAGE', { messageId: 4242, content: 'x' })
    t.equal(missing.payload.code, 'CHAT_MESSAGE_NOT_FOUND')
    const tooLong = await alice.client.request('EDIT_MESSAGE', { messageId: sent.payload.id, content: 'x'.repeat(5000) })
    t.equal(tooLong.payload.code, 'CHAT_CONTENT_TOO_LARGE')
    t.equal((await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })).payload[0].content, 'hello', 'failed edits change nothing')
  })

  t.test('delete: the sender only; gone from history and from unread counts', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const keep = await sendText(alice, bob, 'keep')
    const oops = await sendText(alice, bob, 'oops')
    const hijack = await bob.client.request('DELETE_MESSAGE', { messageId: oops.payload.id })
    t.equal(hijack.type, 'MESSAGE_DELETE_FAILURE')
    t.equal(hijack.payload.code, 'CHAT_FORBIDDEN')
    const del = await alice.client.request('DELETE_MESSAGE', { messageId: oops.payload.id })
    t.equal(del.type, 'MESSAGE_DELETED')
    t.same(del.payload, { messageId: oops.payload.id, conversationId: oops.payload.conversationId })
    t.match((await bob.client.next('MESSAGE_DELETED')).payload, { messageId: oops.payload.id })
    const history = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.same(history.payload.map((m: any) => m.id), [keep.payload.id])
    const unread = await bob.client.request('LOAD_UNREAD', {})
    t.same(unread.payload.conversations.map((c: any) => c.count), [1], 'the deleted message no longer counts')
    const twice = await alice.client.request('DELETE_MESSAGE', { messageId: oops.payload.id })
    t.equal(twice.payload.code, 'CHAT_MESSAGE_NOT_FOUND')
  })

  t.test('deleting a conversation removes it for both sides; clearing only for one', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    const eve = await registerUser(b.wsUrl(), 'eve')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), eve.client.close()]))
    await sendText(alice, bob, 'one')
    await sendText(bob, alice, 'two')
    const spoof = await eve.client.request('DELETE_CONVERSATION', { userId: alice.userId, targetUserId: bob.userId })
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')
    const none = await eve.client.request('DELETE_CONVERSATION', { userId: eve.userId, targetUserId: bob.userId })
    t.equal(none.type, 'CONVERSATION_DELETE_FAILURE', 'nothing to delete')
    const res = await bob.client.request('DELETE_CONVERSATION', { userId: bob.userId, targetUserId: alice.userId })
    t.equal(res.type, 'CONVERSATION_DELETED')
    t.match((await alice.client.next('CONVERSATION_DELETED')).payload, { conversationId: res.payload.conversationId, targetUserId: bob.userId })
    for (const [u, peer] of [[alice, bob], [bob, alice]] as const) {
      const h = await u.client.request('LOAD_MESSAGES', { userId: u.userId, targetId: peer.userId })
      t.same(h.payload, [], 'history gone for both sides')
    }
    t.same((await alice.client.request('LOAD_UNREAD', {})).payload.conversations, [])
    const fresh = await sendText(alice, bob, 'starting over')
    t.equal(fresh.payload.seq, 1, 'a new message starts a new conversation')
  })

  t.test('read receipts reach the sender; typing is pushed and never stored', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const m1 = await sendText(alice, bob, 'r1')
    const m2 = await sendText(alice, bob, 'r2')
    await bob.client.request('MARK_READ', { messageId: m2.payload.id })
    const receipt = await alice.client.next('MESSAGE_READ')
    t.match(receipt.payload, { conversationId: m1.payload.conversationId, readerId: bob.userId, seq: m2.payload.seq })

    const typing = await alice.client.request('TYPING', { targetId: bob.userId, typing: true })
    t.equal(typing.type, 'TYPING_SENT')
    t.same((await bob.client.next('TYPING')).payload, { conversationId: m1.payload.conversationId, userId: alice.userId, typing: true })
    await alice.client.request('TYPING', { targetId: bob.userId, typing: false })
    t.equal((await bob.client.next('TYPING')).payload.typing, false)
    const h = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId })
    t.equal(h.payload.length, 2, 'typing stored nothing')
    const neither = await alice.client.request('TYPING', { typing: true })
    t.equal(neither.payload.code, 'CHAT_BAD_REQUEST')

    const room = (await alice.client.request('CREATE_ROOM', { name: uniqueName('r') })).payload.room
    await bob.client.request('JOIN_ROOM', { roomId: room.id })
    await alice.client.request('TYPING', { roomId: room.id, typing: true })
    t.match((await bob.client.next((f) => f.type === 'TYPING' && f.payload.roomId === room.id)).payload, { userId: alice.userId, typing: true })
    await alice.client.noFrame((f) => f.type === 'TYPING' && f.payload.roomId === room.id, 300)
  })

  t.test('room messages can be edited and deleted; every member is told', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const room = (await alice.client.request('CREATE_ROOM', { name: uniqueName('r') })).payload.room
    await bob.client.request('JOIN_ROOM', { roomId: room.id })
    const sent = await alice.client.request('SEND_ROOM_MESSAGE', { senderId: alice.userId, roomId: room.id, content: 'v1' })
    await bob.client.next('MESSAGE_RECEIVED_OTHER')
    await alice.client.request('EDIT_MESSAGE', { messageId: sent.payload.id, content: 'v2' })
    t.match((await bob.client.next('MESSAGE_EDITED')).payload, { id: sent.payload.id, content: 'v2', roomId: room.id })
    await alice.client.request('DELETE_MESSAGE', { messageId: sent.payload.id })
    t.match((await bob.client.next('MESSAGE_DELETED')).payload, { messageId: sent.payload.id, roomId: room.id })
    t.same((await bob.client.request('LOAD_ROOM_MESSAGES', { roomId: room.id })).payload, [])
  })

  t.test('every message kind, validated per kind', async (t) => {
    const alice = await registerUser(a.wsUrl(), 'alice')
    const bob = await registerUser(b.wsUrl(), 'bob')
    t.teardown(() => Promise.all([alice.client.close(), bob.client.close()]))
    const up = await fetch(`${a.httpUrl}/files?name=v.ogg`, { method: 'POST', body: randomBytes(100), headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'audio/ogg' } })
    const { url } = await up.json() as { url: string }
    const good: Array<[string, string]> = [
      ['text', 'hi'], ['sticker', 'sticker:cat-42'], ['customize', '{"card":"poll","q":"lunch?"}'],
      ['location', '{"latitude":48.85,"longitude":2.35}'], ['audio', url], ['file', url], ['image', url],
      ...WEB_MEDIA_URLS.flatMap((web): Array<[string, string]> => [['image', web], ['file', web], ['audio', web]]),
    ]
    for (const [type, content] of good) {
      const r = await alice.client.request('SEND_MESSAGE', { senderId: alice.userId, receiverId: bob.userId, content, type })
      t.equal(r.type, 'MESSAGE_RECEIVED_SELF', type)
      t.match((await bob.client.next('MESSAGE_RECEIVED_OTHER')).payload, { type, content }, type)
    }
    const bad: Array<[string, string]> = [
      ['location', 'somewhere'], ['location', '{"latitude":0}'], ['image', '/files/1'], ['sticker', ''],
      ...REFUSED_MEDIA_URLS.flatMap((bad): Array<[string, string]> => [['image', bad], ['file', bad], ['audio', bad]]),
    ]
    for (const [type, content] of bad) {
      const r = await alice.client.request('SEND_MESSAGE', { senderId: alice.userId, receiverId: bob.userId, content, type })
      t.equal(r.type, 'MESSAGE_SEND_FAILURE', `${type} ${content}`)
    }
    await bob.client.noFrame('MESSAGE_RECEIVED_OTHER', 300)
    const history = await bob.client.request('LOAD_MESSAGES', { userId: bob.userId, targetId: alice.userId, limit: 100 })
    t.same(history.payload.map((m: any) => [m.type, m.content]), good, 'every accepted message as sent, nothing refused')
  })
})
