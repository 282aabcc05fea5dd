import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startSandbox } from '../../sandbox/index.js'
import { startWorker } from '../../worker/start.js'
import { Browser } from '../helpers/browser.js'
import { TEST_COOKIE_SECRET, TEST_ENCRYPTION_KEY, sandboxTenant } from '../helpers/build.js'
import { freePort } from '../helpers/redis.js'
import { connectSandbox, startTestHost, waitForSync } from './helpers.js'

t.test('with a client id and HEALOW_WORKER=separate the host only serves, and a worker beside it syncs', async (t) => {
  // The sandbox stands in for a real practice here, listed through HEALOW_TENANTS_FILE.
  const practice = await startSandbox({ autoApprove: true, practiceName: 'Riverside Clinic' })
  t.teardown(practice.close)
  const dir = mkdtempSync(join(tmpdir(), 'healow-tenants-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const tenantsFile = join(dir, 'practices.json')
  writeFileSync(tenantsFile, JSON.stringify([sandboxTenant(practice)]))
  const port = await freePort()
  const { host, logs } = await startTestHost(t, {
    port,
    worker: 'separate',
    settings: {
      clientId: practice.clientId,
      clientSecret: practice.clientSecret,
      publicUrl: `http://127.0.0.1:${port}`,
      insecureLoopback: true,
      encryptionKey: TEST_ENCRYPTION_KEY,
      cookieSecret: TEST_COOKIE_SECRET,
      tenantsFile,
      tenantsMode: 'replace',
      logLevel: 'info'
    }
  })
  t.equal(host.sandbox, undefined, 'no built-in sandbox practice')
  t.equal(host.workerRunning, false)
  t.match(logs(), 'HEALOW_WORKER=separate: syncs run in `npm run worker` processes; start at least one')
  t.notMatch(logs(), 'sync worker started')

  const page = await host.app.inject('/?q=riverside')
  t.notMatch(page.body, 'class="badge"', 'no sandbox badge')
  t.match(page.body, `<a href="/healow/authorize?tenant=${practice.practiceCode}&amp;returnTo=%2F">Connect<span class="visually-hidden"> to Riverside Clinic</span></a>`)

  const browser = new Browser()
  const id = await connectSandbox({ ...host, sandbox: practice }, browser)
  const waiting = await browser.get(`${host.url}/`)
  t.match(waiting.body, '<dt>Last sync</dt><dd class="outcome">waiting for the first sync</dd>', 'nothing syncs without a worker')
  t.match(waiting.body, `data-state="none"`)

  const worker = await startWorker({ config: host.config, log: host.app.log.child({ component: 'test-worker' }) })
  t.teardown(worker.close)
  const status = await waitForSync(host, browser, id, 'initial')
  t.equal(status.lastSync.outcome, 'succeeded')
  t.equal(status.lastSync.counts.Condition, practice.expectedCounts().byType.Condition)
  t.match((await browser.get(`${host.url}/`)).body, '<dt>Last sync</dt><dd class="outcome">succeeded, <time')
})

t.test('in sandbox mode a separate worker is refused: the worker runs in process', async (t) => {
  const { host, logs } = await startTestHost(t, { worker: 'separate', settings: { logLevel: 'info' } })
  t.equal(host.workerRunning, true)
  t.match(logs(), 'sandbox mode: the worker runs in this process anyway')
  t.match(logs(), 'sync worker started')
  await host.close()
  await host.close()
  t.pass('closing twice is harmless')
})
