// The pure parts of auth.users.search: escaping, the pattern, paging.
import t from 'tap'
import { USER_SEARCH_MAX } from '@chat/contracts'
import { escapeRegex, pageOf, searchPage, searchPattern, USER_SEARCH_DEFAULT } from '../src/search.js'

const nasty = [
  '.*', '.', '*', '+', '?', '^', '$', '$gt', '{"$gt": ""}', '(', ')', '()', '(?i)', '[', ']', '[a-z]', '{', '}', 'a{2,}',
  '|', 'a|b', '\\', '\\d', '\\\\', 'a\\', '/', '-', '#', ' ', 'back\\slash', 'x(y', 'x[y', '\\Q.*\\E', '(?=a)',
  'Ünïcödé', 'émile', '名前', '🙂', 'ß', 'ǅ', 'a.b*c+d?e^f$g(h)i[j]k{l}m|n\\o/p',
]

t.test('escaped text matches itself and only itself, with and without the u flag', async (t) => {
  for (const s of nasty) {
    const escaped = escapeRegex(s)
    for (const flags of ['', 'u']) {
      const re = new RegExp(`^${escaped}$`, flags)
      t.ok(re.test(s), `${JSON.stringify(s)} /${flags}: matches itself`)
    }
    t.ok(new RegExp(escaped).test(`xx${s}yy`), `${JSON.stringify(s)}: found inside other text`)
  }
})

t.test('metacharacters lose their meaning', async (t) => {
  t.notOk(new RegExp(escapeRegex('.*')).test('abc'), '.* does not match everything')
  t.notOk(new RegExp(escapeRegex('.')).test('a'), '. does not match any character')
  t.notOk(new RegExp(escapeRegex('a|b')).test('a'), 'no alternation')
  t.notOk(new RegExp(escapeRegex('[a-z]')).test('q'), 'no class')
  t.notOk(new RegExp(escapeRegex('^a')).test('ab'), 'no anchor')
  t.notOk(new RegExp(escapeRegex('\\d')).test('5'), 'a backslash is a backslash')
  t.notOk(new RegExp(escapeRegex('a{2}')).test('aa'), 'no repetition')
})

t.test('only the syntax characters are escaped; letters, digits and non-ASCII are left alone', async (t) => {
  t.equal(escapeRegex('.*+?^$()[]{}|\\'), '\\.\\*\\+\\?\\^\\$\\(\\)\\[\\]\\{\\}\\|\\\\')
  t.equal(escapeRegex('abc_XYZ-09 /#'), 'abc_XYZ-09 /#')
  t.equal(escapeRegex('Ünïcödé名前🙂'), 'Ünïcödé名前🙂')
  t.equal(escapeRegex('$gt'), '\\$gt')
})

t.test('searchPattern lower-cases and normalises like stored keys', async (t) => {
  t.equal(searchPattern('ALIce'), 'alice')
  t.equal(searchPattern('E\u0301MILE'), '\u00e9mile', 'NFD input becomes the NFC key form')
  t.equal(searchPattern('Ü'), 'ü')
  t.equal(searchPattern('A.*'), 'a\\.\\*')
  t.equal(searchPattern('\u0000'), undefined, 'a NUL byte can match no username (and MongoDB refuses it in a pattern)')
  t.equal(searchPattern('ab\ncd'), undefined, 'control characters never occur in usernames')
  t.equal(searchPattern('a\u007f'), undefined)
  t.equal(searchPattern(''), undefined)
})

t.test('searchPage applies the default and the limits', async (t) => {
  t.same(searchPage({}), { limit: USER_SEARCH_DEFAULT, offset: 0 })
  t.same(searchPage({ limit: 5, offset: 10 }), { limit: 5, offset: 10 })
  t.same(searchPage({ limit: 1000, offset: -3 }), { limit: USER_SEARCH_MAX, offset: 0 })
  t.same(searchPage({ limit: 0 }), { limit: 1, offset: 0 })
  t.equal(USER_SEARCH_DEFAULT, 20)
  t.equal(USER_SEARCH_MAX, 50)
})

t.test('pageOf: limit+1 rows fetched tell whether more follow', async (t) => {
  t.same(pageOf([1, 2, 3], 2), { items: [1, 2], hasMore: true })
  t.same(pageOf([1, 2], 2), { items: [1, 2], hasMore: false })
  t.same(pageOf([], 2), { items: [], hasMore: false })
})
