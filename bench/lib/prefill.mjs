// BENCH_PREFILL: stores N messages before measuring, written straight into
// the run's database with the MongoDB driver (insertMany in big batches),
// because sending them through the service would take far too long.
//
// The documents are the ones the message service writes (see
// services/message/src/conversations.ts, messages.ts and keys.ts):
//   - messages: {_id, conversationId, senderId, kind, content, createdAt,
//     dedupeKey: "id:<_id>", recipientId, seq}, seq 1, 2, … per conversation;
//   - one direct conversation per pair: {_id, kind: 'direct', directKey:
//     "<min>:<max>", memberIds: [min, max], openedBy, seq: <messages>,
//     lastActivityAt, createdAt, lastMessage, firstMessage};
//   - two member documents per conversation: {_id: "<conv>:<user>",
//     conversationId, userId, peerId, lastReadSeq: <messages>, clearedSeq: 0,
//     joinedAt, lastActivityAt}: everything prefilled counts as read, so
//     unread counts (Redis cache or rebuilt from the database) stay right.
// The conversations are the benchmark's own pairs' (created here, before
// their first send, so the service then continues at seq + 1) and
// BENCH_PREFILL_CONVERSATIONS more between made-up users.
//
// Ids are made like the services' (40 bits of ms since 2026-01-01, 6 bits of
// worker, 7 of sequence), with times before the run began: nothing the
// services make during the run can collide with them.
import { driver } from './system.mjs'
import { padded } from './util.mjs'

const ID_EPOCH_MS = Date.UTC(2026, 0, 1)
const composeId = (ms, worker, seq) => (ms - ID_EPOCH_MS) * 2 ** 13 + worker * 128 + seq
const DAY = 86_400_000

/**
 * @param {object} o
 * @param {{runId: string, urls: object}} o.system
 * @param {number} o.total messages to store
 * @param {Array<{a: number, b: number}>} o.pairs real users' pairs (a opens the conversation)
 * @param {number} o.extra more conversations, between made-up users
 * @param {number} o.before epoch ms before the system started
 * @param {number} o.batch documents per insertMany
 * @param {number} o.size content length
 * @param {(s: string) => void} o.log progress
 */
export async function prefill ({ system, total, pairs, extra, before, batch, size, log }) {
  const { MongoClient } = driver('mongodb')
  const client = new MongoClient(system.urls.MONGO_URL, { serverSelectionTimeoutMS: 5000 })
  const t0 = Date.now()
  try {
    const db = client.db(system.runId)
    const end = before - 60_000
    const span = Math.max(30 * DAY, total) // ≤ 1 message per ms: the 7-bit sequence never overflows
    const start = end - span
    // Conversations: the pairs', then the made-up ones (users and ids from before `start`).
    const convs = pairs.map((p, c) => ({ id: composeId(start - DAY + c, 61, 0), a: p.a, b: p.b }))
    for (let c = 0; c < extra; c++) {
      const ms = start - 2 * DAY + c
      convs.push({ id: composeId(start - DAY + pairs.length + c, 61, 0), a: composeId(ms, 62, 0), b: composeId(ms, 62, 1) })
    }
    const C = convs.length
    if (C === 0) throw new Error('prefill: no conversations to fill')
    // Message k goes to conversation k mod C as its message ⌊k / C⌋ + 1.
    const msOf = (k) => start + Math.floor((k * span) / total)
    const idOf = (k) => composeId(msOf(k), 63, k % 128)
    const messageOf = (k) => {
      const conv = convs[k % C]
      const seq = Math.floor(k / C) + 1
      const [senderId, recipientId] = seq % 2 === 1 ? [conv.a, conv.b] : [conv.b, conv.a]
      const _id = idOf(k)
      // Field order as the service builds them: the draft, recipientId, then seq.
      return { _id, conversationId: conv.id, senderId, kind: 'text', content: padded(`p${k}`, size), createdAt: new Date(msOf(k)), dedupeKey: `id:${_id}`, recipientId, seq }
    }

    const messages = db.collection('messages')
    let done = 0
    let lastLog = 0
    const batches = Math.ceil(total / batch)
    let nextBatch = 0
    const writer = async () => {
      while (nextBatch < batches) {
        const b = nextBatch++
        const docs = []
        for (let k = b * batch; k < Math.min(total, (b + 1) * batch); k++) docs.push(messageOf(k))
        await messages.insertMany(docs, { ordered: false })
        done += docs.length
        if (done - lastLog >= 100_000 || done === total) {
          lastLog = done
          log(`prefill: ${done} of ${total} messages (${Math.round(done / ((Date.now() - t0) / 1000))}/s)`)
        }
      }
    }
    await Promise.all([writer(), writer()])

    const convDocs = []
    const memberDocs = []
    for (let c = 0; c < C; c++) {
      const conv = convs[c]
      const count = Math.floor(total / C) + (c < total % C ? 1 : 0)
      const createdAt = new Date(start - DAY)
      const doc = {
        _id: conv.id,
        kind: 'direct',
        directKey: conv.a < conv.b ? `${conv.a}:${conv.b}` : `${conv.b}:${conv.a}`,
        memberIds: [Math.min(conv.a, conv.b), Math.max(conv.a, conv.b)],
        openedBy: conv.a,
        seq: count,
        lastActivityAt: createdAt,
        createdAt,
      }
      if (count > 0) {
        const first = messageOf(c)
        const last = messageOf(c + (count - 1) * C)
        doc.lastActivityAt = last.createdAt
        doc.lastMessage = { id: last._id, seq: last.seq, senderId: last.senderId, kind: last.kind, content: last.content, createdAt: last.createdAt }
        doc.firstMessage = { id: first._id, seq: first.seq }
      }
      convDocs.push(doc)
      for (const [userId, peerId] of [[conv.a, conv.b], [conv.b, conv.a]]) {
        memberDocs.push({ _id: `${conv.id}:${userId}`, conversationId: conv.id, userId, peerId, lastReadSeq: count, clearedSeq: 0, joinedAt: createdAt, lastActivityAt: doc.lastActivityAt })
      }
    }
    for (let i = 0; i < convDocs.length; i += batch) await db.collection('conversations').insertMany(convDocs.slice(i, i + batch), { ordered: false })
    for (let i = 0; i < memberDocs.length; i += batch) await db.collection('members').insertMany(memberDocs.slice(i, i + batch), { ordered: false })
    const seconds = (Date.now() - t0) / 1000
    return {
      messages: total,
      conversations: C,
      ofPairs: pairs.length,
      perConversation: Math.floor(total / C),
      seconds: Math.round(seconds * 10) / 10,
      perSecond: Math.round(total / seconds),
    }
  } finally {
    await client.close()
  }
}
