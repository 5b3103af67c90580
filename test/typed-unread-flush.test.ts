// Unread counts live in Redis but are rebuilt from MongoDB: flushing Redis
// must not change anyone's counts. Uses a Redis of its own.
import t from 'tap'
import { startSystem } from './helpers/system.js'
import { redisCommand, startPrivateRedis } from './helpers/redis.js'
import { loginAgain, registerUser, sendText } from './helpers/typed.js'

t.test('unread counts survive FLUSHALL', async (t) => {
  const redisUrl = await startPrivateRedis(t)
  const sys = await startSystem(t, { gateways: 2, redisUrl })
  const [a, b] = sys.gateways as [typeof sys.gateways[0], typeof sys.gateways[0]]
  const alice = await registerUser(a.wsUrl(), 'alice')
  const bob = await registerUser(b.wsUrl(), 'bob')
  const carol = await registerUser(a.wsUrl(), 'carol')
  t.teardown(() => Promise.all([alice.client.close(), bob.client.close(), carol.client.close()]))

  for (let i = 0; i < 4; i++) await sendText(alice, bob, `a${i}`)
  const fromCarol = []
  for (let i = 0; i < 3; i++) fromCarol.push(await sendText(carol, bob, `c${i}`))
  await sendText(carol, alice, 'to alice')
  await bob.client.request('MARK_READ', { messageId: fromCarol[0]!.payload.id })

  const sortByPeer = (list: any[]) => [...list].sort((x, y) => x.peerId - y.peerId)
  const before = {
    bob: sortByPeer((await bob.client.request('LOAD_UNREAD', {})).payload.conversations),
    alice: sortByPeer((await alice.client.request('LOAD_UNREAD', {})).payload.conversations),
    carol: sortByPeer((await carol.client.request('LOAD_UNREAD', {})).payload.conversations),
  }
  t.same(before.bob.map((c) => [c.peerId, c.count]), sortByPeer([{ peerId: alice.userId, count: 4 }, { peerId: carol.userId, count: 2 }]).map((c) => [c.peerId, c.count]))
  t.same(before.alice.map((c) => c.count), [1])
  t.same(before.carol, [], 'sending reads the conversation for the sender')

  await redisCommand(redisUrl, 'FLUSHALL')
  t.equal(await redisCommand(redisUrl, 'DBSIZE'), 0, 'Redis is empty')

  const bobAgain = await loginAgain(b.wsUrl(), bob)
  t.teardown(() => bobAgain.close())
  const after = {
    bob: sortByPeer((await bobAgain.request('LOAD_UNREAD', {})).payload.conversations),
    alice: sortByPeer((await alice.client.request('LOAD_UNREAD', {})).payload.conversations),
    carol: sortByPeer((await carol.client.request('LOAD_UNREAD', {})).payload.conversations),
  }
  t.same(after, before, 'every user\'s counts are unchanged')

  await sendText(alice, bob, 'after the flush')
  const pushed = await bobAgain.next((f) => f.type === 'UNREAD_UPDATED' && f.payload.peerId === alice.userId)
  t.equal(pushed.payload.count, 5, 'counting goes on from the rebuilt value')
  const read = await bobAgain.request('MARK_READ', { messageId: fromCarol[2]!.payload.id })
  t.equal(read.payload.unread, 0)
})
