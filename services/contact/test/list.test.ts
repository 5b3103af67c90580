// contact.list pages (services/contact/src/list.ts) over fake ports: the
// order, `limit`, the byte budget, cursors that survive removals, contacts
// whose account is gone, and bad cursors.
import t from 'tap'
import type { PublicUser } from '@chat/contracts'
import { jsonBytes } from '@chat/runtime'
import { listContacts, type ContactListPorts } from '../src/list.js'
import type { ContactDoc } from '../src/store.js'

const ME = 1
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s))
const edge = (contactId: number, second: number): ContactDoc => ({ _id: `${ME}:${contactId}`, userId: ME, contactId, createdAt: at(second) })

function ports (edges: ContactDoc[], avatarBytes = 10, known?: Set<number>): ContactListPorts & { profileCalls: number[][] } {
  const profileCalls: number[][] = []
  return {
    profileCalls,
    edges: async () => [...edges],
    profiles: async (ids) => {
      profileCalls.push(ids)
      return new Map(ids.filter((id) => known?.has(id) ?? true)
        .map((id): [number, PublicUser] => [id, { id, username: `u${id}`, nickname: '', avatar: `https://cdn.example/${'a'.repeat(avatarBytes)}` }]))
    },
    shownOnline: async (_userId, ids) => ids.map((id) => id % 2 === 0),
  }
}

const BIG = 1_000_000

t.test('in the order added (ties by contact id), with profile and presence', async (t) => {
  // 10 and 9 added in the same second: 9 first.
  const p = ports([edge(5, 3), edge(10, 2), edge(9, 2), edge(7, 1)])
  const page = await listContacts(p, { actorId: ME }, BIG)
  t.same(page.contacts.map((c) => c.userId), [7, 9, 10, 5])
  t.same(page.contacts[2], { userId: 10, username: 'u10', nickname: '', avatar: `https://cdn.example/${'a'.repeat(10)}`, hasAvatar: true, online: true, addedAt: at(2).toISOString() })
  t.equal(page.next, null)
})

t.test('lists carry names and short avatar URLs, never data URIs', async (t) => {
  const dataUri = `data:image/png;base64,${'A'.repeat(200_000)}`
  const p: ContactListPorts = {
    edges: async () => [edge(1, 1), edge(2, 2), edge(3, 3)],
    profiles: async () => new Map<number, PublicUser>([
      [1, { id: 1, username: 'big', nickname: '', avatar: dataUri }],
      [2, { id: 2, username: 'url', nickname: '', avatar: 'https://img.example/2.png' }],
      [3, { id: 3, username: 'none', nickname: '', avatar: '' }],
    ]),
    shownOnline: async (_userId, ids) => ids.map(() => false),
  }
  const page = await listContacts(p, { actorId: ME }, BIG)
  t.same(page.contacts.map((c) => [c.avatar, c.hasAvatar]), [['', true], ['https://img.example/2.png', true], ['', false]])
  t.ok(jsonBytes(page) < 1000, 'a few hundred bytes, whatever the avatars weigh')
})

t.test('limit pages, and the pages join up', async (t) => {
  const edges = Array.from({ length: 7 }, (_, i) => edge(100 + i, i))
  const p = ports(edges)
  const seen: number[] = []
  let after: string | undefined
  let pages = 0
  do {
    const page = await listContacts(p, { actorId: ME, limit: 3, ...(after ? { after } : {}) }, BIG)
    seen.push(...page.contacts.map((c) => c.userId))
    after = page.next ?? undefined
    pages++
  } while (after && pages < 10)
  t.same(seen, edges.map((e) => e.contactId))
  t.equal(pages, 3)
})

t.test('a page ends where the reply would overflow, never empty', async (t) => {
  const edges = Array.from({ length: 5 }, (_, i) => edge(200 + i, i))
  const p = ports(edges, 400)
  const one = jsonBytes((await listContacts(ports([edges[0]!], 400), { actorId: ME }, BIG)).contacts[0])
  const first = await listContacts(p, { actorId: ME }, one * 2 + 10)
  t.same(first.contacts.map((c) => c.userId), [200, 201], 'two fit')
  t.not(first.next, null)
  const tiny = await listContacts(p, { actorId: ME, after: first.next! }, 1)
  t.same(tiny.contacts.map((c) => c.userId), [202], 'one always goes, however small the budget')
  const rest = await listContacts(p, { actorId: ME, after: tiny.next! }, BIG)
  t.same(rest.contacts.map((c) => c.userId), [203, 204])
  t.equal(rest.next, null)
})

t.test('profiles are fetched in batches, not all at once', async (t) => {
  const edges = Array.from({ length: 250 }, (_, i) => edge(1000 + i, i))
  const p = ports(edges)
  const page = await listContacts(p, { actorId: ME }, BIG)
  t.equal(page.contacts.length, 250)
  t.same(p.profileCalls.map((c) => c.length), [100, 100, 50])
  // Once the budget is spent no more profiles are fetched.
  const q = ports(edges, 1000)
  await listContacts(q, { actorId: ME }, 5000)
  t.equal(q.profileCalls.length, 1)
})

t.test('a removed contact keeps the place; a gone account is passed over', async (t) => {
  const edges = [edge(1, 1), edge(2, 2), edge(3, 3), edge(4, 4)]
  const first = await listContacts(ports(edges), { actorId: ME, limit: 2 }, BIG)
  t.same(first.contacts.map((c) => c.userId), [1, 2])
  // Contact 2, where the cursor points, is removed before the next page.
  const next = await listContacts(ports([edges[0]!, edges[2]!, edges[3]!]), { actorId: ME, after: first.next! }, BIG)
  t.same(next.contacts.map((c) => c.userId), [3, 4])

  const gone = await listContacts(ports(edges, 10, new Set([1, 4])), { actorId: ME, limit: 3 }, BIG)
  t.same(gone.contacts.map((c) => c.userId), [1], 'accounts 2 and 3 no longer exist')
  const after = await listContacts(ports(edges, 10, new Set([1, 4])), { actorId: ME, after: gone.next! }, BIG)
  t.same(after.contacts.map((c) => c.userId), [4], 'the cursor moved past them')
})

t.test('a cursor that is not one is refused', async (t) => {
  for (const after of ['x', '1.2.3', '{"$gt":""}', '-1.5', '']) {
    await t.rejects(listContacts(ports([edge(1, 1)]), { actorId: ME, after }, BIG), { code: 'CHAT_BAD_REQUEST' }, JSON.stringify(after))
  }
})
