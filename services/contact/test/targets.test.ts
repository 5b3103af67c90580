import t from 'tap'
import { ChatError, type PublicUser } from '@chat/contracts'
import { joinContacts, targetOf, toContact } from '../src/targets.js'
import { contactDocId, type ContactDoc } from '../src/store.js'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return err instanceof ChatError ? err.code : 'not a ChatError'
  }
  return undefined
}

t.test('targetOf takes exactly one of id and username', async (t) => {
  t.same(targetOf({ actorId: 1, targetId: 2 }), { id: 2 })
  t.same(targetOf({ actorId: 1, targetUsername: 'bob' }), { username: 'bob' })
  t.equal(code(() => targetOf({ actorId: 1 })), 'CHAT_BAD_REQUEST')
  t.equal(code(() => targetOf({ actorId: 1, targetId: 2, targetUsername: 'bob' })), 'CHAT_BAD_REQUEST')
})

t.test('contactDocId keys the directed pair', async (t) => {
  t.equal(contactDocId(1, 2), '1:2')
  t.not(contactDocId(1, 2), contactDocId(2, 1))
})

const doc = (userId: number, contactId: number, ms: number): ContactDoc =>
  ({ _id: contactDocId(userId, contactId), userId, contactId, createdAt: new Date(ms) })
const user = (id: number): PublicUser => ({ id, username: `u${id}`, nickname: `N${id}`, avatar: `a${id}` })

t.test('toContact merges edge, profile and presence', async (t) => {
  t.same(toContact(doc(1, 2, 0), user(2), true), {
    userId: 2, username: 'u2', nickname: 'N2', avatar: '', hasAvatar: true, online: true, addedAt: '1970-01-01T00:00:00.000Z',
  }, 'an avatar that is no URL stays out of lists')
  t.match(toContact(doc(1, 2, 0), { ...user(2), avatar: '/files/7' }, true), { avatar: '/files/7', hasAvatar: true }, 'a URL of ours')
})

t.test('joinContacts keeps the stored order, pairs presence by position, drops unknown users', async (t) => {
  const docs = [doc(1, 5, 10), doc(1, 3, 20), doc(1, 9, 30)]
  const users = new Map([[5, user(5)], [9, user(9)]])
  const list = joinContacts(docs, users, [true, true, false])
  t.same(list.map((c) => [c.userId, c.online]), [[5, true], [9, false]])
})

t.test('joinContacts treats missing presence as offline', async (t) => {
  const list = joinContacts([doc(1, 5, 10)], new Map([[5, user(5)]]), [])
  t.equal(list[0]?.online, false)
})
