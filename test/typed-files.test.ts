// File transfer: POST /files and GET /files/:id, and SEND_FILE / SEND_IMAGE
// on the `typed` API, across two replicas.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { registerUser } from './helpers/typed.js'

async function fetchBytes (url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

t.test('files', async (t) => {
  const sys = await startSystem(t, { gateways: 2, env: { FILE_MAX_BYTES: String(2 * 1024 * 1024) } })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const alice = await registerUser(a.wsUrl(), 'alice')
  const bob = await registerUser(b.wsUrl(), 'bob')
  const eve = await registerUser(b.wsUrl(), 'eve')
  t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), eve.client.close()]))

  t.test('upload over HTTP, share in a message, served only to the conversation', async (t) => {
    const bytes = randomBytes(700 * 1024) // several chunks
    const up = await fetch(`${a.httpUrl}/files?name=${encodeURIComponent('holiday photo.png')}`, {
      method: 'POST', body: bytes, headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'image/png' },
    })
    t.equal(up.status, 201)
    const { id, url } = await up.json() as { id: number, url: string }
    t.ok(Number.isSafeInteger(id))
    t.equal(url, `/files/${id}`)

    const own = await fetchBytes(`${b.httpUrl}${url}`, alice.token)
    t.equal(own.status, 200, 'the uploader can read it from any replica')
    t.ok(own.body.equals(bytes), 'byte for byte')
    t.equal(own.headers.get('content-type'), 'image/png')
    t.equal(own.headers.get('x-content-type-options'), 'nosniff')

    t.equal((await fetchBytes(`${a.httpUrl}${url}`, bob.token)).status, 403, 'not shared yet')
    const sent = await alice.client.request('SEND_MESSAGE', { messageId: 1, senderId: alice.userId, receiverId: bob.userId, content: url, type: 'image' })
    t.equal(sent.type, 'MESSAGE_RECEIVED_SELF')
    const got = await bob.client.next('MESSAGE_RECEIVED_OTHER')
    t.match(got.payload, { type: 'image', content: url })
    const shared = await fetchBytes(`${a.httpUrl}${url}`, bob.token)
    t.equal(shared.status, 200, 'the recipient can read it now')
    t.ok(shared.body.equals(bytes))

    t.equal((await fetchBytes(`${a.httpUrl}${url}`, eve.token)).status, 403, 'others still cannot')
    const quoted = await eve.client.request('SEND_MESSAGE', { messageId: 2, senderId: eve.userId, receiverId: bob.userId, content: url, type: 'image' })
    t.equal(quoted.type, 'MESSAGE_SEND_FAILURE', 'quoting someone else\'s file is refused')
    t.equal((await fetchBytes(`${a.httpUrl}${url}`, eve.token)).status, 403, 'and grants nothing')
    t.equal((await fetchBytes(`${a.httpUrl}${url}`)).status, 401, 'no token, no file')
    const missing = await fetch(`${a.httpUrl}/files/123456789`, { headers: { authorization: `Bearer ${alice.token}` } })
    t.equal(missing.status, 404)
    t.match(await missing.json(), { error: 'file_not_found' })
    const badId = await fetch(`${a.httpUrl}/files/abc`, { headers: { authorization: `Bearer ${alice.token}` } })
    t.equal(badId.status, 400)
    t.match(await badId.json(), { error: 'bad_request' })
  })

  t.test('uploads over the limit or without auth are refused', async (t) => {
    const big = await fetch(`${a.httpUrl}/files?name=big.bin`, {
      method: 'POST', body: randomBytes(2 * 1024 * 1024 + 1), headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/octet-stream' },
    })
    t.equal(big.status, 413)
    t.match(await big.json(), { error: 'content_too_large' })
    const anon = await fetch(`${a.httpUrl}/files?name=x`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })
    t.equal(anon.status, 401)
    t.match(await anon.json(), { error: 'unauthenticated' })
    const forged = await fetch(`${a.httpUrl}/files?name=x`, { method: 'POST', body: 'x', headers: { authorization: 'Bearer forged', 'content-type': 'text/plain' } })
    t.equal(forged.status, 401)
  })

  t.test('SEND_FILE and SEND_IMAGE carry the content as base64 pieces', async (t) => {
    const bytes = randomBytes(300 * 1024)
    const b64 = bytes.toString('base64')
    const pieces = [b64.slice(0, 1000), b64.slice(1000, 5001), b64.slice(5001)]
    const res = await alice.client.request('SEND_FILE', { messageId: 'f1', senderId: alice.userId, receiverId: bob.userId, fileName: 'report.pdf', fileContent: pieces })
    t.equal(res.type, 'MESSAGE_RECEIVED_SELF')
    t.equal(res.payload.messageId, 'f1')
    const got = await bob.client.next('MESSAGE_RECEIVED_OTHER')
    t.equal(got.payload.type, 'file')
    t.match(got.payload.content, /^\/files\/\d+$/)
    const file = await fetchBytes(`${b.httpUrl}${got.payload.content}`, bob.token)
    t.equal(file.status, 200)
    t.ok(file.body.equals(bytes), 'the recipient downloads exactly what was sent')
    t.equal(file.headers.get('content-type'), 'application/pdf')
    t.match(file.headers.get('content-disposition'), /^attachment; filename\*=UTF-8''report\.pdf$/)

    const img = randomBytes(1000)
    const sentImg = await alice.client.request('SEND_IMAGE', { messageId: 'i1', senderId: alice.userId, receiverId: bob.userId, imageName: 'cat.png', imageContent: [img.toString('base64')] })
    t.equal(sentImg.type, 'MESSAGE_RECEIVED_SELF')
    const gotImg = await bob.client.next('MESSAGE_RECEIVED_OTHER')
    t.equal(gotImg.payload.type, 'image')
    t.ok((await fetchBytes(`${a.httpUrl}${gotImg.payload.content}`, bob.token)).body.equals(img))
    t.equal((await fetchBytes(`${a.httpUrl}${gotImg.payload.content}`, eve.token)).status, 403)

    const notB64 = await alice.client.request('SEND_FILE', { messageId: 'f2', senderId: alice.userId, receiverId: bob.userId, fileName: 'x', fileContent: ['@@@@'] })
    t.equal(notB64.type, 'MESSAGE_SEND_FAILURE')
    t.equal(notB64.payload.code, 'CHAT_BAD_REQUEST')
    const spoof = await eve.client.request('SEND_IMAGE', { messageId: 'i2', senderId: alice.userId, receiverId: bob.userId, imageName: 'x.png', imageContent: ['aGk='] })
    t.equal(spoof.payload.code, 'CHAT_ID_MISMATCH')
    await bob.client.noFrame('MESSAGE_RECEIVED_OTHER', 300)
  })
})
