// A DirectShard in a worker thread (BENCH_WORKERS > 1): runs the commands
// the main thread posts and answers with their results.
import { parentPort, workerData } from 'node:worker_threads'
import { DirectShard } from './direct-shard.mjs'

const shard = new DirectShard(workerData)
parentPort.on('message', async ({ id, cmd, args }) => {
  try {
    const r = await shard[cmd](...args)
    const transfer = r && typeof r === 'object' ? Object.values(r).filter((v) => ArrayBuffer.isView(v)).map((v) => v.buffer) : []
    parentPort.postMessage({ id, ok: true, r }, transfer)
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: err.message })
  }
})
