import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import t from 'tap'
import { startTestHost } from './helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url))
/** Generous caps for a loaded machine; nothing here measures speed. */
const WAIT_MS = 90_000

t.test('first run in a real browser: search, connect, sign in, watch the sync, browse records', {
  skip: existsSync(CHROMIUM) ? false : 'no chromium',
  timeout: 240_000
}, async (t) => {
  // A little latency per FHIR call, so the sync lasts long enough to be watched live.
  const { host, logs } = await startTestHost(t, { sandbox: { faults: { latencyMs: 150 } } })
  const sandbox = host.sandbox
  if (sandbox === undefined) throw new Error('the example host should run the sandbox practice')
  const patient = sandbox.patients[0] ?? { id: '', name: '' }
  const expected = sandbox.expectedCounts(patient.id).byType

  mkdirSync(ARTIFACTS, { recursive: true })
  const userDataDir = mkdtempSync(join(tmpdir(), 'healow-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
  t.teardown(async () => {
    await context.close()
    rmSync(userDataDir, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? await context.newPage()
  page.setDefaultTimeout(WAIT_MS)
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (err) => { problems.push(err.message) })
  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(ARTIFACTS, `example-${name}.png`), fullPage: true }) }

  await page.goto(host.url)
  t.equal(await page.title(), 'Health records - fastify-healow example')
  await page.getByLabel('Practice name').fill(sandbox.practiceName)
  await page.getByRole('button', { name: 'Search' }).click()
  await page.waitForURL(/\?q=/)
  await shot('1-search')

  await page.getByRole('link', { name: `Connect to ${sandbox.practiceName}` }).click()
  await page.waitForURL(`${sandbox.origin}/**`)
  t.equal(await page.locator('h1').textContent(), sandbox.practiceName, 'on the practice sign-in page')
  await shot('2-practice-sign-in')
  await page.getByRole('button', { name: `Sign in as ${patient.name}` }).click()

  await page.waitForURL(`${host.url}/?connection=*`)
  const connectionId = new URL(page.url()).searchParams.get('connection') ?? ''
  t.match(connectionId, /^[A-Za-z0-9_-]+$/)
  t.match(await page.getByRole('status').first().textContent(), `Connected to ${sandbox.practiceName}.`)
  const article = page.locator(`#conn-${connectionId}`)

  // Live: the page follows the running sync by itself (server-sent events); the test never reloads it.
  await article.locator('.live-text', { hasText: 'Syncing' }).waitFor()
  await shot('3-syncing')
  t.equal(await article.locator('progress').isVisible(), true, 'the progress bar shows while syncing')
  await page.locator(`#conn-${connectionId}[data-outcome="succeeded"]`).waitFor()
  await shot('4-synced')
  t.equal(await article.locator('dd.outcome').textContent().then((s) => s?.split(',')[0]), 'succeeded')
  t.equal(await article.locator('dt:text("Patient") + dd').textContent(), patient.id)

  const conditionRow = article.getByRole('row', { name: /^Condition \d+$/ })
  t.equal(await conditionRow.locator('td').textContent(), String(expected.Condition), 'the Condition count matches the practice')
  t.equal(await article.getByRole('row', { name: /^Immunization \d+$/ }).locator('td').textContent(), String(expected.Immunization))

  await article.getByRole('link', { name: 'Condition', exact: true }).click()
  await page.waitForURL(`${host.url}/connections/${connectionId}/records?type=Condition`)
  t.equal(await page.locator('h1').textContent(), 'Condition records')
  const rows = page.locator('tbody tr')
  t.equal(await rows.count(), expected.Condition, 'one table row per Condition')
  t.match(await rows.first().locator('td').nth(0).textContent(), /^\d{4}-\d\d-\d\d$/)
  t.equal(await rows.first().locator('td').nth(1).textContent(), 'Condition')
  t.not(await rows.first().locator('td').nth(2).textContent(), '')
  await shot('5-records')

  t.same(problems, [], 'no script error and no CSP violation in the console')
  t.notMatch(logs(), sandbox.clientSecret, 'no client secret in the logs')
})
