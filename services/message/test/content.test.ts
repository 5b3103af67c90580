import t from 'tap'
import { ChatError } from '@chat/contracts'
import { characterCount, checkContent, fileIdFromUrl, isLocation } from '../src/content.js'

const MAX = 10

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

t.test('image and file must reference one of our files', async (t) => {
  for (const kind of ['image', 'file'] as const) {
    t.same(checkContent(kind, 'https://chat.example.com/api/files/123', 4000), { fileId: 123 }, `${kind} absolute URL`)
    t.same(checkContent(kind, '/files/42', 4000), { fileId: 42 }, `${kind} rooted path`)
    t.same(checkContent(kind, 'files/7', 4000), { fileId: 7 }, `${kind} relative path`)
    for (const bad of ['https://elsewhere.example/cat.png', '/files/', '/files/12/', '/files/12?x=1', '/myfiles/12', 'files/abc', '/files/0']) {
      t.equal(code(() => checkContent(kind, bad, 4000)), 'CHAT_BAD_REQUEST', `${kind} ${bad}`)
    }
  }
  t.equal(code(() => fileIdFromUrl('/files/99999999999999999999')), 'CHAT_BAD_REQUEST', 'an id beyond 2^53 is refused')
})

t.test('audio: our file URL, or any other non-empty reference', async (t) => {
  t.same(checkContent('audio', '/files/5', 4000), { fileId: 5 })
  t.same(checkContent('audio', 'https://voice.example/note.ogg', 4000), {})
  t.equal(code(() => checkContent('audio', '', 4000)), 'CHAT_BAD_REQUEST')
})
