import type { ConversationEvent, RoomDeletedEvent, RoomEvent, RoomMemberEvent, UserEvent } from '@chat/contracts'

/** Where events leave the service: app.ts wires the NATS subjects in, tests collect them. */
export interface EventSink {
  /** On `evt.user.<userId>.<kind>`. */
  user: (userId: number, event: UserEvent) => void
  /** On `evt.room.<roomId>.<kind>`. */
  room: (roomId: number, event: RoomEvent) => void
}

type WithoutAddressee<E> = E extends unknown ? Omit<E, 'userId' | 'roomId'> : never

/** What happened in a conversation, before it is addressed. */
export type ConversationHappening = WithoutAddressee<ConversationEvent>

/** Events about one user alone: their counts, receipts, memberships, contacts. */
export type UserOnlyEvent = Exclude<UserEvent, ConversationEvent>

/** The conversation an event belongs to, as far as addressing it needs. */
export interface EventConversation {
  _id: number
  kind: 'direct' | 'room'
  memberIds: readonly number[]
}

/**
 * The one publisher of the service's live events; it picks the subject. A
 * conversation's events have one shape (contracts/events.ts): a room's go
 * out once on the room's subject, a direct conversation's once per member.
 * Fire-and-forget: core NATS, nobody answers.
 */
export class EventPublisher {
  constructor (private readonly sink: EventSink) {}

  /**
   * An event of a conversation: once to a room, or a copy to each member
   * of a direct conversation (only to `to` when given: typing goes to the
   * peer alone).
   */
  toConversation (conv: EventConversation, event: ConversationHappening, to?: readonly number[]): void {
    if (conv.kind === 'room') {
      this.sink.room(conv._id, { ...event, roomId: conv._id })
      return
    }
    for (const userId of to ?? conv.memberIds) this.sink.user(userId, { ...event, userId })
  }

  toUser (event: UserOnlyEvent): void {
    this.sink.user(event.userId, event)
  }

  /** Members joining and leaving, the room deleted. */
  toRoom (event: RoomMemberEvent | RoomDeletedEvent): void {
    this.sink.room(event.roomId, event)
  }
}

/**
 * MessageNewEvent.unread: the recipients' counts by user id (`counts[i]` is
 * `userIds[i]`'s), leaving out those being rebuilt; undefined when none is known.
 */
export function carriedUnread (userIds: readonly number[], counts: ReadonlyArray<number | undefined>): Record<string, number> | undefined {
  let carried: Record<string, number> | undefined
  userIds.forEach((userId, i) => {
    const count = counts[i]
    if (count !== undefined && count >= 0) (carried ??= {})[userId] = count
  })
  return carried
}
