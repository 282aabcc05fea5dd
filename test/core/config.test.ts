import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, readEnv, resolveConfig, type HealowOptions } from '../../core/config.js'
import { formatDuration, parseDuration } from '../../core/duration.js'

const KEY_A = Buffer.alloc(32, 1).toString('base64')
const KEY_B = Buffer.alloc(32, 2).toString('base64')
const GOOD: HealowOptions = {
  publicUrl: 'https://health.example.org',
  clientId: 'client-123',
  clientSecret: 'secret-456',
  cookieSecret: 'c'.repeat(32),
  encryptionKey: KEY_A
}

function issuesOf (options: HealowOptions): ConfigError {
  try {
    resolveConfig(options)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

t.test('a good confidential configuration, with defaults', async (t) => {
  const { config, warnings } = resolveConfig(GOOD)
  t.equal(config.confidential, true)
  t.equal(config.sandbox, false)
  t.equal(config.redirectUri, 'https://health.example.org/healow/callback')
  t.equal(config.syncIntervalMs, 7 * 24 * 3600 * 1000)
  t.equal(config.manualSyncMinIntervalMs, 15 * 60 * 1000)
  t.equal(config.practiceRateLimit, 200)
  t.equal(config.redisUrl, 'redis://127.0.0.1:6379')
  t.equal(config.encryptionKeys.length, 1)
  t.match(config.encryptionKeys[0]?.id, /^[0-9a-f]{8}$/)
  t.same(warnings, [])
})

t.test('confidential exactly when a client secret is set', async (t) => {
  const { config } = resolveConfig({ ...GOOD, clientSecret: undefined })
  t.equal(config.confidential, false)
  t.equal(resolveConfig({ ...GOOD, clientSecret: '  ' }).config.confidential, false, 'blank counts as unset')
})

t.test('durations accept 7d, 15m, 90s', async (t) => {
  t.equal(parseDuration('7d'), 604_800_000)
  t.equal(parseDuration('15m'), 900_000)
  t.equal(parseDuration('90s'), 90_000)
  t.equal(parseDuration('1500'), 1500)
  t.equal(parseDuration('7 days'), undefined)
  t.equal(parseDuration('-5m'), undefined)
  t.equal(formatDuration(604_800_000), '1w')
  t.equal(formatDuration(90_000), '90s')
  const { config } = resolveConfig({ ...GOOD, syncInterval: '90s', manualSyncMinInterval: '2m' })
  t.equal(config.syncIntervalMs, 90_000)
  t.equal(config.manualSyncMinIntervalMs, 120_000)
})

t.test('rotation: several keys, newest first', async (t) => {
  const { config } = resolveConfig({ ...GOOD, encryptionKey: `${KEY_B}, ${KEY_A}` })
  t.equal(config.encryptionKeys.length, 2)
  t.same(config.encryptionKeys[0]?.key, Buffer.from(KEY_B, 'base64'))
  t.not(config.encryptionKeys[0]?.id, config.encryptionKeys[1]?.id)
})

const BAD: Array<[string, HealowOptions, RegExp]> = [
  ['PUBLIC_URL missing', { ...GOOD, publicUrl: undefined }, /PUBLIC_URL \(option publicUrl\): is required/],
  ['PUBLIC_URL not a URL', { ...GOOD, publicUrl: 'health.example.org' }, /PUBLIC_URL.*is not a URL/],
  ['PUBLIC_URL plain http', { ...GOOD, publicUrl: 'http://health.example.org' }, /PUBLIC_URL.*must be https:\/\/: Healow accepts only HTTPS/],
  ['PUBLIC_URL http loopback without the flag', { ...GOOD, publicUrl: 'http://127.0.0.1:3000' }, /HEALOW_INSECURE_LOOPBACK=1/],
  ['insecure loopback does not open other hosts', { ...GOOD, publicUrl: 'http://10.0.0.5', insecureLoopback: '1' }, /PUBLIC_URL.*must be https/],
  ['PUBLIC_URL with a query', { ...GOOD, publicUrl: 'https://x.example/?a=1' }, /PUBLIC_URL.*no query/],
  ['encryption key missing', { ...GOOD, encryptionKey: undefined }, /HEALOW_ENCRYPTION_KEY.*is required.*openssl rand -base64 32/],
  ['encryption key too short', { ...GOOD, encryptionKey: Buffer.alloc(16).toString('base64') }, /HEALOW_ENCRYPTION_KEY.*key 1 is not 32 bytes.*16 bytes/],
  ['second encryption key bad', { ...GOOD, encryptionKey: `${KEY_A},not-a-key!` }, /key 2 is not 32 bytes/],
  ['cookie secret short', { ...GOOD, cookieSecret: 'short' }, /HEALOW_COOKIE_SECRET.*at least 32 characters/],
  ['cookie secret of one character', { ...GOOD, cookieSecret: '         x          ' }, /HEALOW_COOKIE_SECRET.*at least 32 characters/],
  ['secret without client id', { ...GOOD, clientId: undefined }, /HEALOW_CLIENT_SECRET.*HEALOW_CLIENT_ID is not/],
  ['sync interval not a duration', { ...GOOD, syncInterval: 'weekly' }, /HEALOW_SYNC_INTERVAL.*"weekly" is not a duration/],
  ['sync interval too short', { ...GOOD, syncInterval: '5s' }, /HEALOW_SYNC_INTERVAL.*at least 1m/],
  ['practice limit at Healow\'s ceiling', { ...GOOD, practiceRateLimit: '250' }, /HEALOW_PRACTICE_RATE_LIMIT.*at most 249.*blocks the whole app above 250/],
  ['practice limit not a number', { ...GOOD, practiceRateLimit: 'lots' }, /HEALOW_PRACTICE_RATE_LIMIT.*whole number/],
  ['proxy limit zero', { ...GOOD, proxyRateLimit: 0 }, /HEALOW_PROXY_RATE_LIMIT.*at least 1/],
  ['redis url scheme', { ...GOOD, redisUrl: 'http://127.0.0.1:6379' }, /REDIS_URL.*redis:\/\//],
  ['tenants file missing', { ...GOOD, tenantsFile: '/nonexistent/tenants.json' }, /HEALOW_TENANTS_FILE.*does not exist/],
  ['tenants mode', { ...GOOD, tenantsMode: 'append' }, /HEALOW_TENANTS_MODE.*merge.*replace/],
  ['insecure loopback flag', { ...GOOD, insecureLoopback: 'maybe' }, /HEALOW_INSECURE_LOOPBACK.*1 or 0/],
  ['log level', { ...GOOD, logLevel: 'verbose' }, /LOG_LEVEL.*one of/]
]

for (const [name, options, expected] of BAD) {
  t.test(`bad configuration: ${name}`, async (t) => {
    const err = issuesOf(options)
    t.equal(err.code, 'HEALOW_ERR_CONFIG')
    t.match(err.message, expected)
    t.match(err.message, /^fastify-healow: invalid configuration/)
  })
}

t.test('one message names every bad field at once', async (t) => {
  const err = issuesOf({ publicUrl: 'ftp://x', clientId: 'c', cookieSecret: 'x', practiceRateLimit: 900, syncInterval: 'soon' })
  const fields = err.issues.map((i) => i.env).sort()
  t.same(fields, ['HEALOW_COOKIE_SECRET', 'HEALOW_ENCRYPTION_KEY', 'HEALOW_PRACTICE_RATE_LIMIT', 'HEALOW_SYNC_INTERVAL', 'PUBLIC_URL'])
  t.equal(err.message.split('\n').length, 6, 'a header line and one line per field')
})

t.test('secrets never appear in the error message', async (t) => {
  const err = issuesOf({ ...GOOD, cookieSecret: 'tiny-secret-value', encryptionKey: 'dG9vLXNob3J0LWtleQ==' })
  t.notMatch(err.message, 'tiny-secret-value')
  t.notMatch(err.message, 'dG9vLXNob3J0LWtleQ')
})

t.test('insecure loopback allows http on loopback only', async (t) => {
  for (const url of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000']) {
    const { config, warnings } = resolveConfig({ ...GOOD, publicUrl: url, insecureLoopback: '1' })
    t.equal(config.insecureLoopback, true)
    t.match(warnings.join('\n'), /Healow refuses localhost redirect URLs.*tunnel/, `warns for ${url}`)
  }
})

t.test('a localhost https PUBLIC_URL with a real client id warns about Healow', async (t) => {
  const { warnings } = resolveConfig({ ...GOOD, publicUrl: 'https://localhost:8443' })
  t.match(warnings.join('\n'), /Healow refuses localhost redirect URLs/)
})

t.test('sandbox mode: no client id, generated secrets with loud warnings', async (t) => {
  const { config, warnings } = resolveConfig({ publicUrl: 'http://127.0.0.1:3000' })
  t.equal(config.sandbox, true)
  t.equal(config.encryptionKeys.length, 1)
  t.equal(config.cookieSecrets.length, 1)
  t.match(warnings.join('\n'), /HEALOW_ENCRYPTION_KEY is not set: using a RANDOM key/)
  const again = resolveConfig({ publicUrl: 'http://127.0.0.1:3000' })
  t.not(again.config.encryptionKeys[0]?.id, config.encryptionKeys[0]?.id, 'a new ephemeral key each run')
})

t.test('a sync interval shorter than a week warns with a real client', async (t) => {
  const { warnings } = resolveConfig({ ...GOOD, syncInterval: '1d' })
  t.match(warnings.join('\n'), /shorter than the weekly cadence declared to Healow/)
})

t.test('readEnv maps every variable and nothing else', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'healow-config-'))
  const file = join(dir, 'tenants.json')
  writeFileSync(file, '[]')
  const options = readEnv({
    PUBLIC_URL: 'https://a.example', HEALOW_CLIENT_ID: 'id', HEALOW_TENANTS_FILE: file, HEALOW_PRACTICE_RATE_LIMIT: '120', UNRELATED: 'x'
  })
  t.same(options, { publicUrl: 'https://a.example', clientId: 'id', tenantsFile: file, practiceRateLimit: '120' })
})

t.test('a bad environment stops a process with the message and no stack trace', async (t) => {
  const script = "import('./core/config.js').then(({ resolveConfig, readEnv, ConfigError }) => { try { resolveConfig(readEnv()) } catch (e) { if (e instanceof ConfigError) { console.error(e.message); process.exit(1) } throw e } })"
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH, PUBLIC_URL: 'http://example.org', HEALOW_CLIENT_ID: 'x' },
    encoding: 'utf8'
  })
  t.equal(result.status, 1)
  t.match(result.stderr, /PUBLIC_URL \(option publicUrl\): must be https/)
  t.match(result.stderr, /HEALOW_ENCRYPTION_KEY/)
  t.notMatch(result.stderr, /at .*\(.*:\d+:\d+\)/, 'no stack trace')
})

t.test('a host running the built-in sandbox practice says so with `sandbox: true`', async (t) => {
  const { config, warnings } = resolveConfig({ publicUrl: 'http://127.0.0.1:3000', clientId: 'sandbox-client', clientSecret: 'sandbox-secret', sandbox: true })
  t.equal(config.sandbox, true)
  t.equal(config.confidential, true)
  t.equal(config.allowLoopbackHttp, true)
  t.notMatch(warnings.join('\n'), /tunnel/, 'no tunnel advice for a local practice')
  t.equal(resolveConfig(GOOD).config.allowLoopbackHttp, false)
  t.equal(resolveConfig({ ...GOOD, publicUrl: 'http://127.0.0.1:1', insecureLoopback: '1' }).config.allowLoopbackHttp, true)
})

t.test('four variables are enough: the cookie secrets derive from the encryption keys', async (t) => {
  const { config } = resolveConfig({ publicUrl: 'https://health.example.org', clientId: 'c', clientSecret: 's', encryptionKey: `${KEY_B},${KEY_A}` })
  t.equal(config.cookieSecrets.length, 2, 'one per key, newest first')
  t.equal(config.cookieSecrets[0]?.length, 43, '32 bytes, base64url')
  t.not(config.cookieSecrets[0], config.cookieSecrets[1])
  t.not(config.cookieSecrets[0], KEY_B, 'not the key itself')
  const again = resolveConfig({ publicUrl: 'https://health.example.org', clientId: 'c', encryptionKey: KEY_B })
  t.equal(again.config.cookieSecrets[0], config.cookieSecrets[0], 'the same key gives the same secret on every instance')
  t.same(resolveConfig(GOOD).config.cookieSecrets, ['c'.repeat(32)], 'an explicit HEALOW_COOKIE_SECRET wins')
})
