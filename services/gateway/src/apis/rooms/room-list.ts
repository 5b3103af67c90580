import type { Room } from '@chat/contracts'

/** A room as this API shows it (schemas.ts `RoomView`). */
export interface RoomView { id: number, name: string }

/** A room as this API shows it. */
export const view = (room: Room): RoomView => ({ id: room.id, name: room.name })
