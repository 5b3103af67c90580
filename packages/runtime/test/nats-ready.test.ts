// natsReady against a private nats-server that goes away and comes back on
// the same port: not ready from the disconnect to the reconnect (while
// nats.js keeps the connection open and redials), nor once draining.
import { spawn, type ChildProcess } from 'node:child_process'
import t from 'tap'
import { freePort, portAnswers } from '../../../test/helpers/net.js'
import { connectNats, createLogger, natsReady } from '../src/index.js'

const DEADLINE_MS = 15_000

async function until (what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not ${what} after ${DEADLINE_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

t.test('natsReady follows the connection', async (t) => {
  const port = await freePort()
  let server: ChildProcess | undefined
  const start = async () => {
    server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
    await until('listening', () => portAnswers(port))
  }
  const stop = async () => {
    const exited = new Promise((resolve) => server!.once('exit', resolve))
    server!.kill('SIGTERM')
    await exited
  }
  t.teardown(() => { server?.kill('SIGKILL') })
  await start()

  const nc = await connectNats(`nats://127.0.0.1:${port}`, 'ready-test', createLogger('test', 'silent'))
  t.teardown(() => nc.close())
  t.ok(natsReady(nc), 'connected')
  await stop()
  await until('unready', () => !natsReady(nc))
  t.notOk(nc.isClosed() || nc.isDraining(), 'while nats.js, neither closed nor draining, redials')
  await start()
  await until('ready again', () => natsReady(nc))
  await nc.flush()
  t.pass('and it answers')
  const drained = nc.drain()
  t.notOk(natsReady(nc), 'draining')
  await drained
  t.notOk(natsReady(nc), 'closed')
})
