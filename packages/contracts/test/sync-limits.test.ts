// message.sync's bounds: how many cursors, how many per conversation, and
// the documented total a reply never exceeds.
import t from 'tap'
import { createValidator, SYNC_MAX_CURSORS, SYNC_MAX_LIMIT, SYNC_TOTAL_MAX, SyncRequest } from '../src/index.js'

const validate = createValidator(SyncRequest)
const cursors = (n: number) => Array.from({ length: n }, (_, i) => ({ conversationId: i + 1, afterSeq: 0 }))

t.test('the number of cursors and the per-conversation limit are capped', async (t) => {
  t.ok(validate({ actorId: 1, cursors: cursors(SYNC_MAX_CURSORS), limit: SYNC_MAX_LIMIT }))
  t.throws(() => validate({ actorId: 1, cursors: cursors(SYNC_MAX_CURSORS + 1) }), { code: 'CHAT_BAD_REQUEST', message: /^cursors/ })
  t.throws(() => validate({ actorId: 1, cursors: [], limit: SYNC_MAX_LIMIT + 1 }), { code: 'CHAT_BAD_REQUEST', message: /^limit/ })
})

t.test('the total is a real bound: no more than one full conversation page', async (t) => {
  t.ok(Number.isSafeInteger(SYNC_TOTAL_MAX) && SYNC_TOTAL_MAX >= 1)
  t.ok(SYNC_TOTAL_MAX <= SYNC_MAX_LIMIT, 'a sync never returns more than one conversation could ask for')
})
