import { Commands, ROOM_LIST_MAX, type Room } from '@chat/contracts'
import type { CommandClient } from '@chat/runtime'

/** A room as this API shows it (schemas.ts `RoomView`). */
export interface RoomView { id: number, name: string }

/**
 * The most rooms `GET /Room` lists (the document has no paging): the newest
 * ones. A client that needs more is better served by a paged API.
 */
export const ROOMS_LISTED_MAX = 1000

/** A room as this API shows it. */
export const view = (room: Room): RoomView => ({ id: room.id, name: room.name })

/** Public rooms and the actor's rooms, newest first, up to ROOMS_LISTED_MAX. */
export async function visibleRooms (commands: CommandClient, actorId: number): Promise<RoomView[]> {
  const out: RoomView[] = []
  let beforeId: number | undefined
  for (;;) {
    const limit = Math.min(ROOM_LIST_MAX, ROOMS_LISTED_MAX - out.length)
    const page = await commands.call(Commands.message.roomList, { actorId, scope: 'visible', limit, ...(beforeId !== undefined ? { beforeId } : {}) })
    out.push(...page.rooms.map(view))
    const last = page.rooms.at(-1)
    if (!page.hasMore || last === undefined || out.length >= ROOMS_LISTED_MAX) return out
    beforeId = last.id
  }
}
