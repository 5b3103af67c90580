// The `chats` API's pure mappers: service replies → the document's shapes.
import t from 'tap'
import { ChatError, type ConversationSummary, type Message, type PublicUser, type Room } from '@chat/contracts'
import {
  chatMessage, chatProfileIds, chatSummary, listedChats, listedRooms, peerOfPair, roomParticipant, roomProfileIds, roomSummary, unreadChat,
} from '../src/apis/chats/render.js'

const NOW = '2026-11-21T22:19:22.999Z'
const profiles = new Map<number, PublicUser>([
  [1, { id: 1, username: 'me', nickname: 'Me!', avatar: '' }],
  [2, { id: 2, username: 'eva', nickname: 'Eva E.', avatar: '' }],
])

function direct (id: number, peerId: number, at: string | null, unread = 0, senderId = peerId): ConversationSummary {
  return {
    conversationId: id,
    kind: 'direct',
    peerId,
    name: '',
    lastMessage: at === null ? null : { id: id * 10, senderId, kind: 'text', content: `last of ${id}`, createdAt: at },
    firstMessageId: null,
    lastActivityAt: at ?? '2026-01-01T00:00:00.000Z',
    unread,
  }
}

function room (id: number, createdAt: string, geolocation: Room['geolocation'] = null): Room {
  return { id, name: `room ${id}`, ownerId: 2, capacity: null, geolocation, visibility: 'public', memberCount: 1, createdAt }
}

t.test('peerOfPair: one of the two must be the caller, in either order', async (t) => {
  t.equal(peerOfPair(1, 1, 2), 2)
  t.equal(peerOfPair(1, 2, 1), 2)
  t.equal(peerOfPair(1, 1, 1), 1, 'the service refuses oneself')
  t.throws(() => peerOfPair(1, 2, 3), new ChatError('CHAT_ID_MISMATCH', 'One of the two user ids must be your own'))
})

t.test('chatMessage renders a history item', async (t) => {
  const m: Message = { id: 5, conversationId: 9, seq: 3, senderId: 2, recipientId: 1, kind: 'sticker', content: 'hi', createdAt: '2026-11-21T22:19:22.123Z' }
  t.same(chatMessage(m, profiles, NOW), {
    chat_id: 9,
    message: 'hi',
    message_sender_id: 2,
    message_sender_name: 'eva',
    message_timestamp: '2026-11-21T22:19:22.123Z',
    message_type: 'sticker',
    server_sent_timestamp: NOW,
  })
  t.equal(chatMessage({ ...m, senderId: 77 }, profiles, NOW).message_sender_name, '', 'unknown sender: empty name')
})

t.test('listedChats: direct chats with a message, newest last message first', async (t) => {
  const all: ConversationSummary[] = [
    direct(1, 2, '2026-03-01T00:00:00.000Z'),
    { ...direct(2, 2, '2026-03-05T00:00:00.000Z'), kind: 'room' },
    direct(3, 2, null),
    direct(4, 2, '2026-03-03T00:00:00.000Z'),
    direct(5, 2, '2026-03-03T00:00:00.000Z'),
  ]
  t.same(listedChats(all).map((c) => c.conversationId), [5, 4, 1], 'rooms and chats without a message are left out; ties by id')
  t.same(chatProfileIds(listedChats([direct(1, 2, '2026-03-01T00:00:00.000Z', 0, 1)])), [2, 1])
})

t.test('chatSummary and unreadChat', async (t) => {
  const [c] = listedChats([direct(7, 2, '2026-03-01T00:00:00.000Z', 4, 1)])
  if (!c) throw new Error('listed')
  t.same(chatSummary(c, profiles, NOW), {
    chat_id: 7,
    with_user_id: 2,
    with_user_name: 'eva',
    with_nick_name: 'Eva E.',
    last_message: 'last of 7',
    last_message_sender_id: 1,
    last_message_sender_name: 'me',
    last_message_type: 'text',
    last_message_timestamp: '2026-03-01T00:00:00.000Z',
    unread_count: 4,
    server_sent_timestamp: NOW,
  })
  t.same(unreadChat(c, profiles, NOW), {
    chat_id: 7,
    last_message: 'last of 7',
    last_message_sender_id: 1,
    last_message_sender_name: 'me',
    last_message_timestamp: '2026-03-01T00:00:00.000Z',
    last_message_type: 'text',
    unread_count: 4,
    server_sent_timestamp: NOW,
  })
})

t.test('listedRooms joins rooms with their summaries; roomSummary fills nulls for a room without messages', async (t) => {
  const rooms = [room(30, '2026-02-03T00:00:00.000Z'), room(20, '2026-02-02T00:00:00.000Z', { latitude: 1.5, longitude: -2 }), room(10, '2026-02-01T00:00:00.000Z')]
  const convs = [
    { ...direct(10, 2, '2026-02-04T00:00:00.000Z', 3), kind: 'room' as const },
    { ...direct(20, 2, '2026-02-01T12:00:00.000Z', 0), kind: 'room' as const },
    direct(99, 2, '2026-02-09T00:00:00.000Z'),
  ]
  const entries = listedRooms(rooms, convs)
  t.same(entries.map((e) => e.room.id), [10, 30, 20], 'by last message, else by creation')
  t.same(roomProfileIds(entries), [2])
  t.same(roomSummary(entries[1]!, profiles, NOW), {
    chat_room_id: 30,
    title: 'room 30',
    user_id: 2,
    geolocation: null,
    last_message: null,
    last_message_sender_id: null,
    last_message_sender_name: null,
    last_message_type: null,
    last_message_timestamp: null,
    unread_count: 0,
    created_at: '2026-02-03T00:00:00.000Z',
    server_sent_timestamp: NOW,
  })
  t.match(roomSummary(entries[0]!, profiles, NOW), { chat_room_id: 10, last_message: 'last of 10', last_message_sender_name: 'eva', unread_count: 3 })
  t.same(roomSummary(entries[2]!, profiles, NOW).geolocation, { latitude: 1.5, longitude: -2 })
  t.same(roomParticipant(30, { userId: 2, joinedAt: '2026-02-03T00:00:00.000Z' }), { chat_room_id: 30, user_id: 2, created_at: '2026-02-03T00:00:00.000Z' })
})
