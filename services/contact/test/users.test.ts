import t from 'tap'
import { ChatError, Commands, type PublicUser } from '@chat/contracts'
import { createSubjects } from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'
import { fetchUsers, GET_USERS_MAX, resolveTarget } from '../src/users.js'

/** A client answering auth.users.get from a fixed user list, recording each request. */
function fakeAuth (known: PublicUser[]) {
  const calls: Array<{ ids?: number[], usernames?: string[] }> = []
  const client = {
    subjects: createSubjects('test'),
    async call (subject: string, request: { ids?: number[], usernames?: string[] }) {
      if (subject !== Commands.auth.getUsers) throw new Error(`unexpected ${subject}`)
      calls.push(request)
      const names = new Set((request.usernames ?? []).map((n) => n.toLowerCase()))
      const ids = new Set(request.ids ?? [])
      return { users: known.filter((u) => ids.has(u.id) || names.has(u.username.toLowerCase())) }
    },
    send () { throw new Error('unexpected send') },
  } as unknown as CommandClient
  return { client, calls }
}

const user = (id: number): PublicUser => ({ id, username: `user${id}`, nickname: '', avatar: '' })

t.test('fetchUsers asks once for a normal list, deduplicated', async (t) => {
  const { client, calls } = fakeAuth([user(1), user(2)])
  const users = await fetchUsers(client, [1, 2, 2, 7])
  t.equal(calls.length, 1)
  t.same(calls[0]?.ids, [1, 2, 7])
  t.same([...users.keys()].sort(), [1, 2])
})

t.test('fetchUsers makes no call for no ids', async (t) => {
  const { client, calls } = fakeAuth([])
  t.equal((await fetchUsers(client, [])).size, 0)
  t.equal(calls.length, 0)
})

t.test('fetchUsers splits lists beyond the auth limit', async (t) => {
  const ids = Array.from({ length: GET_USERS_MAX * 2 + 1 }, (_, i) => i + 1)
  const { client, calls } = fakeAuth(ids.map(user))
  const users = await fetchUsers(client, ids)
  t.same(calls.map((c) => c.ids?.length), [GET_USERS_MAX, GET_USERS_MAX, 1])
  t.equal(users.size, ids.length)
})

t.test('resolveTarget by id and by name; unknown is CHAT_USER_NOT_FOUND', async (t) => {
  const { client } = fakeAuth([user(1), user(2)])
  t.equal((await resolveTarget(client, { id: 2 })).id, 2)
  t.equal((await resolveTarget(client, { username: 'USER1' })).id, 1)
  await t.rejects(resolveTarget(client, { id: 3 }), new ChatError('CHAT_USER_NOT_FOUND'))
  await t.rejects(resolveTarget(client, { username: 'nobody' }), { code: 'CHAT_USER_NOT_FOUND' })
})
