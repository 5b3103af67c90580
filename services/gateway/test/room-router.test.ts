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
