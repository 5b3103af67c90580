import { ChatError, ROOM_LIST_MAX, type ListRoomsReply, type ListRoomsRequest, type RoomRef, type RoomReply } from '@chat/contracts'
import type { RoomDoc } from './conversations.js'
import { mergeNewestFirst } from './lists.js'
import { pageLimit } from './paging.js'
import { mayView } from './room-members.js'
import type { RoomPorts } from './room-service.js'
import { toRoom } from './rooms.js'

export const ROOM_LIST_DEFAULT = 50

/** Looking rooms up: one room, and pages of the rooms a user may see. */
export class RoomLookups {
  constructor (private readonly ports: Pick<RoomPorts, 'rooms'>) {}

  async get (req: RoomRef): Promise<RoomReply> {
    const { rooms } = this.ports
    const [room, member] = await Promise.all([rooms.byId(req.roomId), rooms.member(req.roomId, req.actorId)])
    if (!room) throw new ChatError('CHAT_CONVERSATION_NOT_FOUND')
    if (!mayView(room, req.actorId, member)) throw new ChatError('CHAT_NOT_MEMBER')
    return { room: toRoom(room) }
  }

  /**
   * Newest first (ids are time-ordered). `visible` merges the two sorted
   * sources (public rooms, the actor's rooms), each read up to one past the
   * page, so neither is read further than the page needs.
   */
  async list (req: ListRoomsRequest): Promise<ListRoomsReply> {
    const { rooms } = this.ports
    const limit = pageLimit(req.limit, ROOM_LIST_DEFAULT, ROOM_LIST_MAX)
    const fetch = limit + 1
    let page: { items: RoomDoc[], hasMore: boolean }
    switch (req.scope) {
      case 'public':
        page = mergeNewestFirst(await rooms.publicRooms(req.beforeId, fetch), [], limit)
        break
      case 'mine':
        page = mergeNewestFirst(await rooms.roomsOf(req.actorId, req.beforeId, fetch), [], limit)
        break
      case 'visible': {
        const [open, mine] = await Promise.all([rooms.publicRooms(req.beforeId, fetch), rooms.roomsOf(req.actorId, req.beforeId, fetch)])
        page = mergeNewestFirst(open, mine, limit)
        break
      }
      default: {
        const never: never = req.scope
        throw new ChatError('CHAT_BAD_REQUEST', `scope: unknown scope ${String(never)}`)
      }
    }
    return { rooms: page.items.map(toRoom), hasMore: page.hasMore }
  }
}
