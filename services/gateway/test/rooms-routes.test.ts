import t from 'tap'
import { Commands, ROOM_LIST_MAX, type Room } from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'
import { actAs } from '../src/actor.js'
import { allRooms, ListCaps } from '../src/lists.js'
import { sessionOf } from './fakes.js'

/** A message service holding `total` visible rooms, ids total…1 (newest first). */
function fakeRooms (total: number) {
  const calls: any[] = []
  const commands = {
    async call (subject: string, req: any) {
      if (subject !== Commands.message.roomList) throw new Error(subject)
      calls.push(req)
      const below = req.beforeId ?? total + 1
      const ids = Array.from({ length: Math.max(0, Math.min(req.limit, below - 1)) }, (_, i) => below - 1 - i)
      const rooms = ids.map((id): Room => ({
        id, name: `r${id}`, ownerId: 1, capacity: null, geolocation: null, visibility: 'public', memberCount: 1, createdAt: '2026-01-01T00:00:00.000Z',
      }))
      return { rooms, hasMore: ids.length > 0 && ids.at(-1)! > 1 }
    },
  } as unknown as CommandClient
  return { commands, calls }
}

const visibleRooms = async (commands: CommandClient, userId: number) =>
  (await allRooms(actAs(commands, sessionOf(userId)), 'visible')).map((r) => ({ id: r.id, name: r.name }))
const ROOMS_LISTED_MAX = ListCaps.rooms

t.test('GET /Room pages through the visible rooms, newest first, up to the cap', async (t) => {
  const few = fakeRooms(3)
  t.same(await visibleRooms(few.commands, 7), [{ id: 3, name: 'r3' }, { id: 2, name: 'r2' }, { id: 1, name: 'r1' }])
  t.same(few.calls, [{ scope: 'visible', limit: ROOM_LIST_MAX, actorId: 7 }])

  const some = fakeRooms(450)
  const listed = await visibleRooms(some.commands, 7)
  t.equal(listed.length, 450)
  t.same(listed.map((r) => r.id), Array.from({ length: 450 }, (_, i) => 450 - i), 'each once, in order')
  t.same(some.calls.map((c) => c.beforeId), [undefined, 251, 51])

  const many = fakeRooms(5000)
  const capped = await visibleRooms(many.commands, 7)
  t.equal(capped.length, ROOMS_LISTED_MAX)
  t.equal(capped[0]!.id, 5000, 'the newest ones')
  t.ok(many.calls.every((c) => c.limit <= ROOM_LIST_MAX))
})
