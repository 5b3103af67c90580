/**
 * NATS subjects: the versioned interface between the gateway, the services
 * and any other team's consumer. Every subject starts with a configurable
 * prefix (default `chat`) followed by the interface version, so two
 * deployments (or two test runs) can share one NATS server, and a v2 can run
 * beside v1 during a migration.
 *
 * Commands are request/reply and served in queue groups named after the
 * owning service, so replicas share the load. Events are plain publishes that
 * every interested party receives.
 */
export const SUBJECT_VERSION = 'v1'

/** Queue group of each service; replicas of one service share one group. */
export const QueueGroups = {
  auth: 'auth',
  contact: 'contact',
  message: 'message',
} as const

/** Command subjects relative to `<prefix>.v1.`, grouped by owning service. */
export const Commands = {
  auth: {
    register: 'auth.register',
    login: 'auth.login',
    resume: 'auth.resume',
    logout: 'auth.logout',
    updateProfile: 'auth.profile.update',
    getUsers: 'auth.users.get',
    getNames: 'auth.users.names',
    searchUsers: 'auth.users.search',
    issueTicket: 'auth.ticket.issue',
    redeemTicket: 'auth.ticket.redeem',
    jwks: 'auth.jwks',
    checkSessions: 'auth.sessions.check',
  },
  contact: {
    list: 'contact.list',
    add: 'contact.add',
    remove: 'contact.remove',
    presenceOnline: 'contact.presence.online',
    presenceOffline: 'contact.presence.offline',
    presenceHeartbeat: 'contact.presence.heartbeat',
    block: 'contact.block',
    unblock: 'contact.unblock',
    listBlocked: 'contact.blocks.list',
    checkBlocked: 'contact.blocks.check',
  },
  message: {
    send: 'message.send',
    history: 'message.history',
    read: 'message.read',
    clear: 'message.clear',
    sync: 'message.sync',
    unread: 'message.unread',
    fileCreate: 'message.file.create',
    fileChunkPut: 'message.file.chunk.put',
    fileCommit: 'message.file.commit',
    fileOpen: 'message.file.open',
    fileChunkGet: 'message.file.chunk.get',
    edit: 'message.edit',
    delete: 'message.delete',
    deleteConversation: 'message.conversation.delete',
    typing: 'message.typing',
    listConversations: 'message.conversations.list',
    roomCreate: 'message.room.create',
    roomDelete: 'message.room.delete',
    roomGet: 'message.room.get',
    roomList: 'message.room.list',
    roomJoin: 'message.room.join',
    roomLeave: 'message.room.leave',
    roomMembers: 'message.room.members',
    roomMemberships: 'message.room.memberships',
    roomEnter: 'message.room.enter',
    roomExit: 'message.room.exit',
    openConversation: 'message.conversation.open',
    takeUnread: 'message.unread.take',
  },
} as const

/** Every command subject suffix, e.g. `message.send`. */
export type CommandSubject = {
  [S in keyof typeof Commands]: (typeof Commands)[S][keyof (typeof Commands)[S]]
}[keyof typeof Commands]

/** Event kinds published to a user's event subject. */
export const UserEventKinds = {
  messageNew: 'message.new',
  unreadChanged: 'unread.changed',
  presenceChanged: 'presence.changed',
  messagesCleared: 'messages.cleared',
  contactsChanged: 'contacts.changed',
  messageEdited: 'message.edited',
  messageDeleted: 'message.deleted',
  conversationDeleted: 'conversation.deleted',
  messageRead: 'message.read',
  typing: 'typing',
  membershipChanged: 'membership.changed',
  conversationCreated: 'conversation.created',
} as const

/** Event kinds published to a room's event subject. */
export const RoomEventKinds = {
  messageNew: 'message.new',
  messageEdited: 'message.edited',
  messageDeleted: 'message.deleted',
  memberJoined: 'member.joined',
  memberLeft: 'member.left',
  roomDeleted: 'room.deleted',
  typing: 'typing',
} as const

export type RoomEventKind = (typeof RoomEventKinds)[keyof typeof RoomEventKinds]

export type UserEventKind = (typeof UserEventKinds)[keyof typeof UserEventKinds]

/** Builds the concrete subjects for one prefix. */
export function createSubjects (prefix = 'chat') {
  const base = `${prefix}.${SUBJECT_VERSION}`
  return {
    /** The `<prefix>.v1` root; services register their endpoints under it. */
    base,
    /** Full subject of a command, e.g. `chat.v1.message.send`. */
    command (suffix: CommandSubject): string {
      return `${base}.${suffix}`
    },
    /** Events for one user: `chat.v1.evt.user.<id>.<kind>`. */
    userEvent (userId: number, kind: UserEventKind): string {
      return `${base}.evt.user.${userId}.${kind}`
    },
    /** Wildcard a gateway subscribes to for each user it holds a socket of. */
    userEvents (userId: number): string {
      return `${base}.evt.user.${userId}.>`
    },
    /** Events of one room: `chat.v1.evt.room.<id>.<kind>`, published once per room. */
    roomEvent (roomId: number, kind: RoomEventKind): string {
      return `${base}.evt.room.${roomId}.${kind}`
    },
    /** Wildcard a gateway subscribes to for each room one of its users belongs to. */
    roomEvents (roomId: number): string {
      return `${base}.evt.room.${roomId}.>`
    },
    /** Broadcast when a token is revoked; every gateway closes its sockets. */
    sessionRevoked: `${base}.evt.session.revoked`,
    /** Broadcast when the token-verification keys change; gateways fetch auth.jwks again. */
    jwksChanged: `${base}.evt.auth.jwks.changed`,
  }
}

export type Subjects = ReturnType<typeof createSubjects>
