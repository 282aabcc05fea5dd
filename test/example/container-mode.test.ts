import t from 'tap'
import { createServer } from 'node:net'
import { request } from 'undici'
import { externalAddresses } from '../../example/expose.js'
import { freePort } from '../helpers/redis.js'
import { startTestHost } from './helpers.js'

async function isFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '0.0.0.0', () => { server.close(() => { resolve(true) }) })
  })
}

t.test('listening on every address (a container), the sandbox sign-in page is on the next port of every address', async (t) => {
  // The sandbox takes the next port: find a port whose successor is free too.
  let port = await freePort()
  while (port >= 65_535 || !await isFree(port + 1)) port = await freePort()
  const { host } = await startTestHost(t, { port, host: '0.0.0.0' })
  const sandbox = host.sandbox
  t.equal(host.config.host, '0.0.0.0')
  t.equal(host.url, `http://127.0.0.1:${port}`, 'the public URL is what the browser opens')
  t.equal(sandbox?.origin, `http://127.0.0.1:${port + 1}`, 'the URLs the host and the browser both use')
  for (const address of ['127.0.0.1', ...externalAddresses()]) {
    const res = await request(`http://${address}:${port + 1}/`)
    t.equal(res.statusCode, 200, `sandbox answers on ${address}`)
    t.equal((await res.body.json() as { practice: string }).practice, sandbox?.practiceName)
  }
  const page = await request(`http://127.0.0.1:${port}/`)
  t.equal(page.statusCode, 200)
  await page.body.dump()
})
