import t from 'tap'
import { dedupeKey, directKey, memberKey, roomKey, readMarkLockKey } from '../src/keys.js'

t.test('directKey is the same from both sides', async (t) => {
  t.equal(directKey(5, 3), '3:5')
  t.equal(directKey(3, 5), '3:5')
})

t.test('directKey orders numerically, not as strings', async (t) => {
  t.equal(directKey(10, 9), '9:10')
  t.equal(directKey(100000000000001, 99999999999999), '99999999999999:100000000000001')
})

t.test('directKey refuses a conversation with oneself', async (t) => {
  t.throws(() => directKey(7, 7), RangeError)
})

t.test('room keys cannot collide with direct keys', async (t) => {
  t.equal(roomKey(12), 'room:12')
  t.not(roomKey(12), directKey(1, 2))
})

t.test('memberKey and dedupeKey', async (t) => {
  t.equal(memberKey(11, 22), '11:22')
  t.equal(dedupeKey(7, 'abc', 99), '7:abc', 'client id: keyed by sender, so two senders may reuse an id')
  t.not(dedupeKey(7, 'abc', 99), dedupeKey(8, 'abc', 99))
  t.equal(dedupeKey(7, undefined, 99), 'id:99', 'no client id: derived from the unique message id')
})

t.test('readMarkLockKey: one per user and conversation', async (t) => {
  t.equal(readMarkLockKey(5, 77), 'lock:read-mark:5:77')
  t.not(readMarkLockKey(5, 77), readMarkLockKey(77, 5))
})
