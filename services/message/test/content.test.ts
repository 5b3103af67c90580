import t from 'tap'
import { ChatError } from '@chat/contracts'
import { characterCount, checkContent as check, isLocation, isWebUrl, ourFileId, type ContentRules } from '../src/content.js'

const MAX = 10
const OURS = 'https://chat.example.com/api'

/** checkContent with a length limit and our public URL. */
const checkContent = (kind: Parameters<typeof check>[0], content: string, maxLength: number, publicUrl = OURS) =>
  check(kind, content, { maxLength, publicUrl } satisfies ContentRules)

function code (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return err instanceof ChatError ? err.code : String(err)
  }
}

t.test('text, customize and sticker: non-empty and within the limit', async (t) => {
  for (const kind of ['text', 'customize', 'sticker'] as const) {
    t.same(checkContent(kind, 'hello', MAX), {}, `${kind} accepted`)
    t.equal(code(() => checkContent(kind, '', MAX)), 'CHAT_BAD_REQUEST', `${kind} empty refused`)
    t.equal(code(() => checkContent(kind, 'x'.repeat(MAX), MAX)), undefined, `${kind} at the limit accepted`)
    t.equal(code(() => checkContent(kind, 'x'.repeat(MAX + 1), MAX)), 'CHAT_CONTENT_TOO_LARGE', `${kind} over the limit refused`)
  }
})

t.test('the limit counts characters, not UTF-16 units', async (t) => {
  const emoji = '😀'.repeat(MAX) // 20 UTF-16 units, 10 characters
  t.equal(emoji.length, 2 * MAX)
  t.equal(characterCount(emoji), MAX)
  t.same(checkContent('text', emoji, MAX), {})
  t.equal(code(() => checkContent('text', emoji + 'a', MAX)), 'CHAT_CONTENT_TOO_LARGE')
})

t.test('the limit applies to every kind', async (t) => {
  t.equal(code(() => checkContent('image', '/files/' + '1'.repeat(MAX), MAX)), 'CHAT_CONTENT_TOO_LARGE')
})

t.test('location', async (t) => {
  const ok = (c: string) => checkContent('location', c, 4000)
  t.same(ok('{"latitude": 48.85, "longitude": 2.35}'), {})
  t.same(ok('{"latitude": -90, "longitude": 180}'), {}, 'bounds are inclusive')
  t.same(ok('{"latitude": 0, "longitude": 0, "name": "Null Island"}'), {}, 'extra properties are kept')
  for (const bad of [
    '{"latitude": 90.1, "longitude": 0}',
    '{"latitude": 0, "longitude": -180.5}',
    '{"latitude": "1", "longitude": 2}',
    '{"latitude": 1}',
    '[1, 2]',
    'null',
    '48.85,2.35',
    '{"latitude": 1e999, "longitude": 0}',
  ]) {
    t.equal(code(() => ok(bad)), 'CHAT_BAD_REQUEST', bad)
  }
  t.equal(isLocation('{"latitude":1,"longitude":2}'), true)
})

t.test('image, file and audio: one of our file URLs is checked as a file', async (t) => {
  for (const kind of ['image', 'file', 'audio'] as const) {
    t.same(checkContent(kind, `${OURS}/files/123`, 4000), { fileId: 123 }, `${kind}: under PUBLIC_URL`)
    t.same(checkContent(kind, '/files/42', 4000), { fileId: 42 }, `${kind}: relative, as a gateway without PUBLIC_URL hands out`)
    t.same(checkContent(kind, '/files/42', 4000, ''), { fileId: 42 }, `${kind}: relative, no PUBLIC_URL`)
    t.equal(code(() => checkContent(kind, '/files/0', 4000)), 'CHAT_BAD_REQUEST', `${kind}: id 0`)
    t.equal(code(() => checkContent(kind, `${OURS}/files/0`, 4000)), 'CHAT_BAD_REQUEST', `${kind}: id 0 under PUBLIC_URL`)
  }
  t.equal(code(() => ourFileId('/files/99999999999999999999', '')), 'CHAT_BAD_REQUEST', 'an id beyond 2^53 is refused')
  t.equal(ourFileId('https://elsewhere.example/files/12', OURS), undefined, 'another host\'s /files path is not ours')
  t.equal(ourFileId('https://elsewhere.example/files/12', ''), undefined, 'nor without PUBLIC_URL')
  t.equal(ourFileId('https://chat.example.com/files/12', OURS), undefined, 'outside the PUBLIC_URL path prefix')
  t.equal(ourFileId(`${OURS}/files/12?download=1`, OURS), undefined, 'with a query: an ordinary web URL')
})

t.test('image, file and audio: any other absolute http(s) URL is kept as sent', async (t) => {
  for (const kind of ['image', 'file', 'audio'] as const) {
    for (const url of [
      'https://cdn.example.com/p/123.png',
      'http://cdn.example.com/p/123.png',
      'HTTPS://CDN.EXAMPLE.COM/a.png',
      'https://cdn.example.com:8443/a%20b.png?size=large#top',
      'https://[2001:db8::1]/a.png',
      'https://例え.jp/画像.png',
      'https://elsewhere.example/files/12',
      `${OURS}/files/12?download=1`,
      `${OURS}/files/`,
    ]) {
      t.same(checkContent(kind, url, 4000), {}, `${kind} ${url}`)
    }
  }
})

t.test('image, file and audio: other schemes and malformed URLs are refused', async (t) => {
  for (const kind of ['image', 'file', 'audio'] as const) {
    for (const bad of [
      'javascript:alert(1)',
      'JavaScript://cdn.example.com/%0aalert(1)',
      'data:image/png;base64,iVBORw0KGgo=',
      'ftp://files.example.com/a.png',
      'file:///etc/passwd',
      'blob:https://cdn.example.com/1',
      '//cdn.example.com/a.png',
      'cdn.example.com/a.png',
      'files/7',
      '/files/12/',
      '/myfiles/12',
      '/etc/passwd',
      'https://',
      'https:///a.png',
      'https://user:pass@cdn.example.com/a.png',
      'https://bank.example@evil.example/a.png',
      'https://cdn.example.com/a b.png',
      'https://cdn.example.com/a.png\n',
      ' https://cdn.example.com/a.png',
      'https://cdn.example.com\\@evil.example/',
      'https://cdn.example.com/\u202egnp.exe',
      'https://cdn.example.com/\u0000',
      'not a url',
    ]) {
      t.equal(code(() => checkContent(kind, bad, 4000)), 'CHAT_BAD_REQUEST', `${kind} ${JSON.stringify(bad)}`)
    }
  }
  t.equal(isWebUrl('https://cdn.example.com/a.png'), true)
  t.equal(code(() => checkContent('audio', '', 4000)), 'CHAT_BAD_REQUEST', 'empty')
  t.equal(code(() => checkContent('image', 'https://cdn.example.com/' + 'a'.repeat(4000), 4000)), 'CHAT_CONTENT_TOO_LARGE', 'over the length limit')
})
