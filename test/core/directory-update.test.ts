import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { childEnv } from '../helpers/child-env.js'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent } from 'undici'
import { parseDirectory, readDirectoryFile } from '../../core/directory.js'
import { runTenantsUpdate, updateDirectory } from '../../scripts/tenants-update.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/directory/${name}`, import.meta.url))
const bundle = fixture('bundle.json')

function runScript (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/tenants-update.ts', ...args], { cwd: root, env: childEnv() }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? -1, stdout, stderr })
    })
  })
}

/** Runs the command line in this process, capturing its output. */
async function runInProcess (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runTenantsUpdate(args, {
    stdout: { write: (text: string) => { stdout += text } },
    stderr: { write: (text: string) => { stderr += text } }
  })
  return { code, stdout, stderr }
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'healow-update-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

t.test('tenants:update (the real command) writes the compact directory from a Bundle file', async (t) => {
  const out = join(tempDir(t), 'directory.json')
  const result = await runScript([bundle, '--out', out])
  t.equal(result.code, 0, result.stderr)
  t.equal(result.stdout, `wrote ${out}: kept 5, skipped 5 malformed, 2 inactive\n`)
  const written = JSON.parse(readFileSync(out, 'utf8'))
  t.equal(written.source, 'bundle.json', 'no local path in the committed file')
  t.equal(written.count, 5)
  t.match(written.generated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  // Sorted by id; templated urls left out, the non-template url kept.
  t.same(written.practices, [
    ['AACJCD', 'Pointcare Medical Center LLC'],
    ['EPONLY', 'Lakeside Family Practice'],
    ['GGAICD', 'Advanced Garden State Cardiology & Vascular LLC'],
    ['HCGBCD', 'Clínica Médica San José'],
    ['IAJHCD', 'Rochester Skin Cancer and Surgery Center', 'https://fhir4.healow.com/fhir/r4/iajhcd']
  ])
  const reread = await readDirectoryFile(out)
  const direct = parseDirectory(JSON.parse(readFileSync(bundle, 'utf8')))
  t.same(reread.tenants.map((x) => x.id).sort(), direct.tenants.map((x) => x.id).sort())
  t.same(new Set(reread.tenants), new Set(direct.tenants), 'the compact file holds exactly what the Bundle held')
})

t.test('tenants:update explains bad input and leaves no file behind', async (t) => {
  const dir = tempDir(t)
  const out = join(dir, 'directory.json')
  const usage = await runInProcess([])
  t.same(usage, { code: 2, stdout: '', stderr: 'usage: npm run tenants:update -- <https-url-or-file> [--out <file>]\n' })
  t.equal((await runInProcess(['a', 'b'])).code, 2)
  const bogus = await runInProcess([bundle, '--bogus'])
  t.equal(bogus.code, 2)
  t.match(bogus.stderr, /--bogus/)

  const missing = await runInProcess([join(dir, 'nope.json'), '--out', out])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^tenants:update failed: ENOENT/)

  const empty = join(dir, 'empty.json')
  writeFileSync(empty, JSON.stringify({ resourceType: 'Bundle', entry: [] }))
  const none = await runInProcess([empty, '--out', out])
  t.equal(none.code, 1)
  t.equal(none.stderr, 'tenants:update failed: empty.json holds no valid practices: nothing written\n')
  t.equal(existsSync(out), false)
  t.same(readdirSync(dir).sort(), ['empty.json'], 'no temporary file left')
})

t.test('updateDirectory refuses non-https URLs and non-JSON', async (t) => {
  const dir = tempDir(t)
  const out = join(dir, 'directory.json')
  await t.rejects(updateDirectory({ source: 'http://127.0.0.1:9/directory.json', out }), { message: /only https:\/\/ URLs are fetched/ })
  const text = join(dir, 'text.json')
  writeFileSync(text, 'not json')
  await t.rejects(updateDirectory({ source: text, out }), { message: 'text.json is not JSON' })
  await t.rejects(updateDirectory({ source: join(dir, 'x.json'), out }), { code: 'ENOENT' })
  const result = await updateDirectory({ source: bundle, out, now: new Date('2026-02-03T04:05:06.000Z') })
  t.same(result, { kept: 5, skipped: 5, inactive: 2, out })
  t.equal(JSON.parse(readFileSync(out, 'utf8')).generated, '2026-02-03T04:05:06.000Z')
  const again = await runInProcess([bundle, '--out', out])
  t.same(again, { code: 0, stdout: `wrote ${out}: kept 5, skipped 5 malformed, 2 inactive\n`, stderr: '' }, 'an existing file is replaced')
})

t.test('updateDirectory downloads the Bundle over https', async (t) => {
  const tls = { key: readFileSync(fixture('test-key.pem')), cert: readFileSync(fixture('test-cert.pem')) }
  const body = readFileSync(bundle)
  const seen: Array<{ url: string | undefined, accept: string | undefined }> = []
  const server = createServer(tls, (req, res) => {
    seen.push({ url: req.url, accept: req.headers.accept })
    if (req.url?.startsWith('/directory') === true) {
      res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(body)
    } else {
      res.writeHead(404).end('not here')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dispatcher = new Agent({ connect: { ca: tls.cert } })
  t.teardown(async () => {
    await dispatcher.close()
    await new Promise((resolve) => server.close(resolve))
  })
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  const out = join(tempDir(t), 'directory.json')

  const result = await updateDirectory({ source: `${origin}/directory?token=x`, out, dispatcher })
  t.same(result, { kept: 5, skipped: 5, inactive: 2, out })
  t.equal(JSON.parse(readFileSync(out, 'utf8')).source, `${origin}/directory`, 'no query string in the committed file')
  t.same(seen[0], { url: '/directory?token=x', accept: 'application/fhir+json, application/json+fhir, application/json' })

  await t.rejects(updateDirectory({ source: `${origin}/missing`, out, dispatcher }), { message: `${origin}/missing: HTTP 404` })
  await t.rejects(updateDirectory({ source: `${origin}/directory`, out, dispatcher, maxBytes: 1000 }), {
    message: `${origin}/directory: more than 1000 bytes, not a practice directory`
  })
  await t.rejects(updateDirectory({ source: `${origin}/directory`, out }), 'an untrusted certificate is refused')
  t.equal(JSON.parse(readFileSync(out, 'utf8')).count, 5, 'failed runs left the earlier file alone')
})
