import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  DEFAULT_DIRECTORY_FILE, DirectoryFormatError, HEALOW_AUTHORIZE_URL, HEALOW_SANDBOX_TENANT, HEALOW_TOKEN_URL,
  createDirectory, formatCompactDirectory, loadDirectory, parseDirectory, type Tenant
} from '../../core/directory.js'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/directory/${name}`, import.meta.url))
const readJson = (name: string): unknown => JSON.parse(readFileSync(fixture(name), 'utf8'))
const BASE = 'https://fhir4.healow.com/fhir/r4/'

function healow (id: string, name: string, path = id): Tenant {
  return { id, name, url: `${BASE}${path}`, authorize: HEALOW_AUTHORIZE_URL, token: HEALOW_TOKEN_URL }
}

function createLog () {
  const calls: Array<{ level: 'info' | 'warn', args: unknown[] }> = []
  return {
    calls,
    info: (...args: unknown[]) => { calls.push({ level: 'info', args }) },
    warn: (...args: unknown[]) => { calls.push({ level: 'warn', args }) }
  }
}

const BUNDLE_TENANTS = [
  healow('AACJCD', 'Pointcare Medical Center LLC'),
  healow('GGAICD', 'Advanced Garden State Cardiology & Vascular LLC'),
  healow('IAJHCD', 'Rochester Skin Cancer and Surgery Center', 'iajhcd'),
  healow('HCGBCD', 'Clínica Médica San José'),
  healow('EPONLY', 'Lakeside Family Practice')
]

const ARRAY_TENANTS = [
  healow('AACJCD', 'Pointcare Medical Center (from array)'),
  healow('SANDBOX_HEALOW', 'Healow Sandbox (eClinicalWorks)', 'JAFJCD'),
  {
    id: 'CUSTOM',
    name: 'Custom Auth Practice',
    url: 'https://fhir.custom.example/r4',
    authorize: 'https://auth.custom.example/authorize',
    token: 'https://auth.custom.example/token'
  }
]

const LOOPBACK_TENANT = {
  id: 'LOCAL1',
  name: 'Local Loopback Practice',
  url: 'http://127.0.0.1:8080/fhir/r4/LOCAL1',
  authorize: 'http://127.0.0.1:8080/oauth/authorize',
  token: 'http://127.0.0.1:8080/oauth/token'
}

t.test('parseDirectory reads the published Bundle shape', async (t) => {
  const parsed = parseDirectory(readJson('bundle.json'))
  // Organization name over Endpoint name, entity decoded, id upper-cased, trailing slash gone.
  t.same(parsed.tenants, BUNDLE_TENANTS)
  // http address, bad id, address with a query, an Organization without Endpoint, an entry without resource.
  t.equal(parsed.skipped, 5)
  // status "off" and an inactive Organization.
  t.equal(parsed.inactive, 2)
  t.same(parseDirectory({ resourceType: 'Bundle', type: 'collection' }), { tenants: [], skipped: 0, inactive: 0 })
})

t.test('parseDirectory reads the plain array shape', async (t) => {
  const parsed = parseDirectory(readJson('practices.json'))
  t.same(parsed.tenants, ARRAY_TENANTS)
  // loopback http (flag off), remote http, credentials, fragment, no name, empty id, 65-char id, bad token URL, a string, null.
  t.equal(parsed.skipped, 10)
  t.equal(parsed.inactive, 0)
})

t.test('http practice URLs need insecureLoopback and a loopback host', async (t) => {
  const parsed = parseDirectory(readJson('practices.json'), { insecureLoopback: true })
  t.same(parsed.tenants, [...ARRAY_TENANTS.slice(0, 3), LOOPBACK_TENANT])
  t.equal(parsed.skipped, 9, 'the remote http:// entry is still refused')
  const remote = { id: 'R', name: 'R', url: 'http://10.0.0.5/fhir' }
  t.same(parseDirectory([remote], { insecureLoopback: true }).tenants, [])
  const localhost = { id: 'L', name: 'L', url: 'http://localhost:9/fhir/' }
  t.same(parseDirectory([localhost], { insecureLoopback: true }).tenants.map((x) => x.url), ['http://localhost:9/fhir'])
  t.same(parseDirectory([localhost]).tenants, [])
})

t.test('the compact form round-trips through formatCompactDirectory', async (t) => {
  const tenants = [...BUNDLE_TENANTS, ...ARRAY_TENANTS]
  const text = formatCompactDirectory(tenants, { generated: '2026-01-02T03:04:05.000Z', source: 'test' })
  const json = JSON.parse(text)
  t.equal(json.generated, '2026-01-02T03:04:05.000Z')
  t.equal(json.count, 8)
  // Templated practices are stored as [id, name] only.
  t.same(json.practices[0], ['AACJCD', 'Pointcare Medical Center LLC'])
  const byId = (a: Tenant, b: Tenant): number => a.id.localeCompare(b.id)
  t.same(parseDirectory(json).tenants.sort(byId), [...tenants].sort(byId))
  t.same(parseDirectory({ practices: [['AB', 'No Template']] }), { tenants: [], skipped: 1, inactive: 0 })
  t.same(parseDirectory({ practices: [{ id: 'AB', name: 'Object row', url: `${BASE}AB` }] }).tenants, [healow('AB', 'Object row')])
})

t.test('parseDirectory refuses other shapes with a coded error', async (t) => {
  for (const value of [null, 'text', 42, { resourceType: 'Patient' }, { resourceType: 'Bundle', entry: {} }]) {
    t.throws(() => parseDirectory(value), { name: 'DirectoryFormatError', code: 'HEALOW_ERR_DIRECTORY', message: /FHIR Bundle of Endpoint/ })
  }
})

t.test('loadDirectory merges a Bundle file over the built-in list and logs one warning', async (t) => {
  const log = createLog()
  const directory = await loadDirectory({ tenantsFile: fixture('bundle.json'), builtinFile: false, log })
  t.equal(directory.size, 6)
  t.same(directory.get('JAFJCD'), HEALOW_SANDBOX_TENANT)
  t.same(directory.get('iajhcd'), BUNDLE_TENANTS[2], 'ids are matched case-insensitively')
  t.same(directory.get(' IAJHCD '), BUNDLE_TENANTS[2])
  t.equal(directory.get('NOPE'), undefined)
  t.same([...directory.all()].map((x) => x.id), ['GGAICD', 'HCGBCD', 'JAFJCD', 'EPONLY', 'AACJCD', 'IAJHCD'], 'alphabetical by name')
  const warnings = log.calls.filter((c) => c.level === 'warn')
  t.same(warnings, [{ level: 'warn', args: [{ skipped: 5, source: fixture('bundle.json') }, 'skipped malformed practice directory entries'] }])
  t.same(log.calls.filter((c) => c.level === 'info').map((c) => (c.args[0] as { practices: number }).practices), [6])
})

t.test('loadDirectory merges an array file: later entries override the sandbox', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'healow-directory-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'tenants.json')
  writeFileSync(file, JSON.stringify([{ id: 'jafjcd', name: 'My Sandbox Name', url: `${BASE}JAFJCD/` }]))
  const log = createLog()
  const directory = await loadDirectory({ tenantsFile: file, builtinFile: false, log })
  t.equal(directory.size, 1)
  t.same(directory.get('JAFJCD'), healow('JAFJCD', 'My Sandbox Name'))
  t.same(log.calls.filter((c) => c.level === 'warn'), [], 'no warning when nothing was skipped')
})

t.test('replace mode uses only the file plus extra', async (t) => {
  const extra = { ...LOOPBACK_TENANT, id: 'local', url: `${LOOPBACK_TENANT.url}/` }
  const directory = await loadDirectory({
    tenantsFile: fixture('practices.json'), tenantsMode: 'replace', insecureLoopback: true, extra: [extra], log: createLog()
  })
  t.equal(directory.get('JAFJCD'), undefined, 'the built-in sandbox is gone')
  t.same([...directory.all()].map((x) => x.id).sort(), ['AACJCD', 'CUSTOM', 'LOCAL', 'LOCAL1', 'SANDBOX_HEALOW'])
  t.same(directory.get('LOCAL'), { ...LOOPBACK_TENANT, id: 'LOCAL' }, 'extra is upper-cased and its slash stripped')
  const secure = await loadDirectory({ tenantsFile: fixture('practices.json'), tenantsMode: 'replace' })
  t.equal(secure.get('LOCAL1'), undefined, 'http loopback in the file needs insecureLoopback')
  t.equal(secure.size, 3)
})

t.test('extra entries override file entries and must be well formed', async (t) => {
  const directory = await loadDirectory({
    tenantsFile: fixture('bundle.json'), builtinFile: false, extra: [healow('AACJCD', 'Extra Wins')]
  })
  t.equal(directory.get('AACJCD')?.name, 'Extra Wins')
  await t.rejects(loadDirectory({ builtinFile: false, extra: [{ ...healow('X', 'X'), url: 'http://fhir.example.org/x' }] }), {
    name: 'TypeError', message: /extra practice "X" is invalid/
  })
})

t.test('a missing, non-JSON or wrong-shape file stops start-up naming the file', async (t) => {
  const missing = fixture('does-not-exist.json')
  await t.rejects(loadDirectory({ tenantsFile: missing, builtinFile: false }), {
    code: 'HEALOW_ERR_DIRECTORY', message: `practice directory ${missing} cannot be read (ENOENT): expected a FHIR Bundle of Endpoint + Organization resources (the published Healow directory), a JSON array of {id, name, url, authorize?, token?}, or the compact {"practices": [[id, name, url?], ...]} form`
  })
  const notJson = fixture('not-json.txt')
  await t.rejects(loadDirectory({ tenantsFile: notJson, builtinFile: false }), {
    code: 'HEALOW_ERR_DIRECTORY', message: new RegExp(`^practice directory ${notJson} is not JSON: expected a FHIR Bundle`)
  })
  const wrong = fixture('wrong-shape.json')
  const err = await loadDirectory({ tenantsFile: wrong, builtinFile: false }).catch((e: unknown) => e)
  t.ok(err instanceof DirectoryFormatError)
  t.match((err as Error).message, new RegExp(`^practice directory ${wrong} is not a practice directory: expected a FHIR Bundle .*a JSON array of \\{id, name, url`))
  await t.rejects(loadDirectory({ builtinFile: wrong }), { code: 'HEALOW_ERR_DIRECTORY' }, 'the built-in file too')
})

t.test('the shipped directory loads with the built-in sandbox', async (t) => {
  const shipped = JSON.parse(readFileSync(DEFAULT_DIRECTORY_FILE, 'utf8'))
  t.equal(shipped.practices.length, 6918, 'every practice of the published directory')
  const log = createLog()
  const directory = await loadDirectory({ log })
  // JAFJCD is in the published directory too ("FHIR R4 Prodtest EMR"); the built-in name wins.
  t.equal(directory.size, 6918)
  t.same(directory.get('JAFJCD'), HEALOW_SANDBOX_TENANT)
  t.same(directory.get('GGAICD'), healow('GGAICD', 'Advanced Garden State Cardiology LLC'))
  t.same(directory.get('WELLMED'), healow('WELLMED', 'WellMed Medical Group PA'))
  t.same(log.calls.filter((c) => c.level === 'warn'), [], 'nothing malformed in the shipped file')
  const withExtra = await loadDirectory({ extra: [{ ...LOOPBACK_TENANT, id: 'SANDBOX' }] })
  t.equal(withExtra.size, 6919)
  t.same(withExtra.search('local loopback').map((x) => x.id), ['SANDBOX'])
})

t.test('createDirectory: later entries win and ids are upper-cased', async (t) => {
  const directory = createDirectory([healow('abc', 'First'), healow('ABC', 'Second'), healow('def', 'Other')])
  t.equal(directory.size, 2)
  t.same(directory.get('Abc'), healow('ABC', 'Second'))
  t.same(directory.get('DEF'), { ...healow('def', 'Other'), id: 'DEF' })
  t.same(directory.search('other').map((x) => x.id), ['DEF'])
})
