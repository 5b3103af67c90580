// NATS credentials and TLS against private nats-server processes: user and
// password, a token, an nkey over TLS with a private CA; and what NATS_URL's
// credentials turn into. Needs `nats-server` and `openssl` on the PATH.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { freePort, portAnswers } from '../../../test/helpers/net.js'
import { nkeys } from '@nats-io/transport-node'
import { connectNats, createLogger } from '../src/index.js'
import { natsConnectionOptions, parseNatsServers } from '../src/nats.js'

const logger = createLogger('test', 'silent')

/** Starts nats-server with `args` on a free port (or the config's); stopped at teardown. */
async function natsServer (t: Test, args: (port: number) => string[]): Promise<number> {
  const port = await freePort()
  const child: ChildProcess = spawn('nats-server', args(port), { stdio: 'ignore' })
  t.teardown(() => { child.kill('SIGKILL') })
  for (let i = 0; i < 100 && !(await portAnswers(port)); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  return port
}

async function roundTrip (nc: Awaited<ReturnType<typeof connectNats>>): Promise<void> {
  await nc.flush()
  await nc.close()
}

t.test('NATS_URL: credentials come out of the server list', async (t) => {
  t.same(parseNatsServers('nats://a:b@h1:4222, nats://a:b@h2:4222'), { servers: ['nats://h1:4222', 'nats://h2:4222'], user: 'a', pass: 'b' })
  t.same(parseNatsServers('tls://s3cret@h:4222'), { servers: ['tls://h:4222'], token: 's3cret' })
  t.same(parseNatsServers('nats://us%40er:p%3Ass@h'), { servers: ['nats://h'], user: 'us@er', pass: 'p:ss' }, 'percent-encoded')
  t.same(parseNatsServers('h:4222'), { servers: ['h:4222'] })
  t.throws(() => parseNatsServers('nats://a:b@h1,nats://c:d@h2'), /same credentials/)
  t.throws(() => parseNatsServers(' , '), /no server/)
})

t.test('one way to authenticate, files read at start', async (t) => {
  t.throws(() => natsConnectionOptions({ NATS_URL: 'nats://a:b@h', NATS_TOKEN: 'x' }), /one way to authenticate/)
  t.throws(() => natsConnectionOptions({ NATS_URL: 'nats://a:b@h', NATS_USER: 'c', NATS_PASSWORD: 'd' }), /give them once/)
  t.throws(() => natsConnectionOptions({ NATS_URL: 'nats://h', NATS_PASSWORD: 'd' }), /needs NATS_USER/)
  t.throws(() => natsConnectionOptions({ NATS_URL: 'nats://h', NATS_CREDS_FILE: '/nonexistent/x.creds' }), /cannot read NATS_CREDS_FILE \(\/nonexistent\/x.creds\)/)
  t.throws(() => natsConnectionOptions({ NATS_URL: 'nats://h', NATS_TLS_CERT_FILE: '/x.pem' }), /go together/)
  const opts = natsConnectionOptions({ NATS_URL: 'nats://h', NATS_USER: 'u', NATS_PASSWORD: 'p' })
  t.same({ servers: opts.servers, user: opts.user, pass: opts.pass }, { servers: ['nats://h'], user: 'u', pass: 'p' })
  t.equal(natsConnectionOptions({ NATS_URL: 'nats://h', NATS_TOKEN: 'tok' }).token, 'tok')
})

t.test('user and password: in the URL or in settings; refused clearly without', async (t) => {
  const port = await natsServer(t, (p) => ['-a', '127.0.0.1', '-p', String(p), '--user', 'svc', '--pass', 'pw-secret'])
  await roundTrip(await connectNats(`nats://svc:pw-secret@127.0.0.1:${port}`, 'test', logger))
  await roundTrip(await connectNats({ NATS_URL: `nats://127.0.0.1:${port}`, NATS_USER: 'svc', NATS_PASSWORD: 'pw-secret' }, 'test', logger))
  await t.rejects(connectNats(`nats://127.0.0.1:${port}`, 'test', logger), { message: new RegExp(`NATS: cannot connect to nats://127.0.0.1:${port}: .*authorization`, 'i') })
  const wrong = await connectNats(`nats://svc:not-it@127.0.0.1:${port}`, 'test', logger).then(() => undefined, (err: Error) => err)
  t.match(wrong?.message, /authorization/i, 'a wrong password is refused')
  t.notMatch(wrong?.message, /not-it/, 'and never shown')
})

t.test('a token: in the URL or in NATS_TOKEN', async (t) => {
  const port = await natsServer(t, (p) => ['-a', '127.0.0.1', '-p', String(p), '--auth', 'tok-123'])
  await roundTrip(await connectNats(`nats://tok-123@127.0.0.1:${port}`, 'test', logger))
  await roundTrip(await connectNats({ NATS_URL: `nats://127.0.0.1:${port}`, NATS_TOKEN: 'tok-123' }, 'test', logger))
  await t.rejects(connectNats({ NATS_URL: `nats://127.0.0.1:${port}`, NATS_TOKEN: 'other' }, 'test', logger), { message: /authorization/i })
})

t.test('an nkey seed over TLS with a private CA', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nats-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string) => path.join(dir, name)
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=test-ca')
  ssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1')
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  ssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '1', '-extfile', file('san.ext'))
  const user = nkeys.createUser()
  writeFileSync(file('user.nk'), new TextDecoder().decode(user.getSeed()) + '\n')
  const port = await natsServer(t, (p) => {
    writeFileSync(file('server.conf'), [
      `listen: "127.0.0.1:${p}"`,
      `tls { cert_file: "${file('server.pem')}", key_file: "${file('server.key')}" }`,
      `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }`,
    ].join('\n'))
    return ['-c', file('server.conf')]
  })

  const url = `nats://127.0.0.1:${port}`
  await roundTrip(await connectNats({ NATS_URL: url, NATS_NKEY_SEED_FILE: file('user.nk'), NATS_TLS_CA_FILE: file('ca.pem') }, 'test', logger))
  await t.rejects(connectNats({ NATS_URL: url, NATS_NKEY_SEED_FILE: file('user.nk') }, 'test', logger), { message: /NATS: cannot connect/ }, 'the server\'s certificate is not trusted without the CA')
  await t.rejects(connectNats({ NATS_URL: url, NATS_TLS_CA_FILE: file('ca.pem') }, 'test', logger), { message: /authorization/i }, 'TLS alone is no credential')
})
