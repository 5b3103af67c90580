// A room's subscription is confirmed by the server before a join is answered.
import t from 'tap'
import { createSubjects } from '@chat/contracts'
import { createLogger, type NatsConnection } from '@chat/runtime'
import { RoomRouter } from '../src/room-router.js'

t.test('ready() waits for the server to have the subscriptions made so far', async (t) => {
  const flushes: Array<() => void> = []
  const subscribed: string[] = []
  const nc = {
    subscribe: (subject: string) => { subscribed.push(subject); return { unsubscribe () {} } },
    flush: () => new Promise<void>((resolve) => { flushes.push(resolve) }),
  } as unknown as NatsConnection
  const router = new RoomRouter({ nc, subjects: createSubjects('t'), deliver: () => {}, logger: createLogger('test', 'silent') })
  await router.ready() // nothing subscribed: ready at once

  router.add(40, 1)
  let ready = false
  void router.ready().then(() => { ready = true })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(subscribed.length, 1)
  t.equal(ready, false, 'not before the server confirmed the subscription')
  flushes[0]!()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(ready, true)

  router.add(40, 2)
  t.equal(flushes.length, 1, 'a room already subscribed needs no new confirmation')
})

/** A NATS connection whose room subscriptions the test feeds by hand. */
function fakeNats () {
  const subs = new Map<string, { callback: (err: unknown, msg: { data: Uint8Array, subject: string }) => void, closed: boolean }>()
  const nc = {
    subscribe: (subject: string, opts: { callback: (err: unknown, msg: { data: Uint8Array, subject: string }) => void }) => {
      const sub = { callback: opts.callback, closed: false }
      subs.set(subject, sub)
      return { unsubscribe () { sub.closed = true } }
    },
    flush: async () => {},
  } as unknown as NatsConnection
  const publish = (subject: string, event: object) => {
    const sub = subs.get(subject)
    if (sub && !sub.closed) sub.callback(null, { subject, data: new TextEncoder().encode(JSON.stringify(event)) })
  }
  return { nc, subs, publish }
}

t.test('a joining user gets the room\'s events from before their membership arrived, and nobody else\'s', async (t) => {
  const subjects = createSubjects('t')
  const { nc, subs, publish } = fakeNats()
  const got: Array<[number, string]> = []
  const router = new RoomRouter({ nc, subjects, deliver: (userId, e) => { got.push([userId, (e as { userId: number }).userId + ':' + e.kind]) }, logger: createLogger('test', 'silent') })
  const subject = subjects.roomEvents(7)
  const joined = (userId: number) => ({ kind: 'member.joined', roomId: 7, userId, username: `u${userId}`, nickname: '', at: 1 })

  const release = router.hold(7, 1)
  t.ok(subs.has(subject), 'the room is followed before the join is sent')
  publish(subject, joined(2)) // someone else's join, while user 1's is under way
  t.same(got, [], 'held, not delivered: the join has not succeeded yet')
  router.add(7, 1) // the join succeeded
  t.same(got, [[1, '2:member.joined']], 'the held event is delivered once the join succeeded')
  publish(subject, joined(3))
  t.same(got, [[1, '2:member.joined'], [1, '3:member.joined']], 'then events go straight through, in order')
  release()
  t.equal(subs.get(subject)!.closed, false, 'still followed: user 1 is a member')

  got.length = 0
  const failed = router.hold(8, 1)
  publish(subjects.roomEvents(8), joined(4))
  failed() // the join failed
  t.same(got, [], 'a failed join sees nothing of the room')
  t.equal(subs.get(subjects.roomEvents(8))!.closed, true, 'and the room is no longer followed')
  publish(subjects.roomEvents(8), joined(5))
  t.same(got, [])
})
