import { createServer } from 'node:http'
import t from 'tap'
import { request } from 'undici'
import { exposeLoopbackPort, externalAddresses } from '../../example/expose.js'
import { freePort } from '../helpers/redis.js'

t.test('a loopback port answers on another address through the forwarder', async (t) => {
  const port = await freePort()
  const server = createServer((req, res) => { res.end(`hello from ${req.url ?? ''}`) })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  // 127.0.0.2 stands in for a container's own address: a different address, same port.
  const exposed = await exposeLoopbackPort(port, ['127.0.0.2'])
  t.same(exposed.addresses, ['127.0.0.2'])
  const res = await request(`http://127.0.0.2:${port}/ping`)
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'hello from /ping')
  await exposed.close()
  await t.rejects(request(`http://127.0.0.2:${port}/ping`), 'closed: nothing listens there any more')
})

t.test('an address that cannot be bound fails and leaves nothing listening', async (t) => {
  const port = await freePort()
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never this machine's address unless configured so.
  const foreign = externalAddresses().includes('192.0.2.123') ? '198.51.100.123' : '192.0.2.123'
  await t.rejects(exposeLoopbackPort(port, ['127.0.0.3', foreign]), { code: 'EADDRNOTAVAIL' })
  await t.rejects(request(`http://127.0.0.3:${port}/`), 'the first listener was closed again')
})

t.test('externalAddresses lists no loopback address', async (t) => {
  for (const address of externalAddresses()) t.notOk(address.startsWith('127.'), address)
})
