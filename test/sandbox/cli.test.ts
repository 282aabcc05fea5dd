import t from 'tap'
import { spawn } from 'node:child_process'
import { childEnv } from '../helpers/child-env.js'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseCliOptions } from '../../sandbox/cli-options.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/**
 * The child runs through tsx, whose compiled output differs from tap's: its
 * coverage of the same files would corrupt the merged report, so tap's
 * process tracking is told to record none for it.
 */
const CHILD_ENV = childEnv()

t.test('flags, then SANDBOX_* variables; flags win', async (t) => {
  const { options, help } = parseCliOptions(
    ['--size', '5000', '--token-ttl', '15m', '--fail-rate', '0.1', '--auto-approve', '--redirect-uri', 'https://a.example/cb', '--redirect-uri', 'https://b.example/cb'],
    { SANDBOX_SIZE: 'small', SANDBOX_SEED: 'env-seed', SANDBOX_RATE_LIMIT: '20', SANDBOX_GOAL_QUIRK: '1', SANDBOX_LATENCY: '', SANDBOX_PORT: '4010' }
  )
  t.equal(help, false)
  t.same(options, {
    port: 4010,
    seed: 'env-seed',
    size: 5000,
    tokenTtlSeconds: 900,
    rateLimit: 20,
    autoApprove: true,
    redirectUris: ['https://a.example/cb', 'https://b.example/cb'],
    faults: { failRate: 0.1, goalQuirk: true }
  })
  t.same(parseCliOptions([], { SANDBOX_REDIRECT_URIS: 'https://x.example/cb, https://y.example/cb', SANDBOX_TOKEN_TTL: '120', SANDBOX_SIZE: 'large' }).options,
    { size: 'large', tokenTtlSeconds: 120, redirectUris: ['https://x.example/cb', 'https://y.example/cb'] })
  t.equal(parseCliOptions(['--help'], {}).help, true)
  t.throws(() => parseCliOptions(['--fail-rate', '2'], {}), /--fail-rate must be from 0 to 1/)
  t.throws(() => parseCliOptions(['--token-ttl', 'soon'], {}), /--token-ttl must be seconds/)
  t.throws(() => parseCliOptions(['--patients', 'many'], {}), /--patients must be a whole number/)
  t.throws(() => parseCliOptions(['--nope'], {}), /Unknown option/)
})

t.test('npm run sandbox prints one JSON line, serves, and stops cleanly on SIGTERM', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', '--patients', '2', '--size', 'small'], {
    cwd: ROOT,
    env: { ...CHILD_ENV, SANDBOX_SEED: 'cli-test', SANDBOX_AUTO_APPROVE: 'true' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines = createInterface({ input: child.stdout })
  const [line] = await once(lines, 'line') as [string]
  const info = JSON.parse(line) as Record<string, any>
  t.same(Object.keys(info).sort(), ['authorizeUrl', 'clientId', 'clientSecret', 'fhirBaseUrl', 'issuer', 'jwksUrl', 'patientId', 'patients', 'publicClientId', 'redirectUris', 'tokenUrl'])
  t.equal(info.clientId, 'sandbox-confidential-client')
  t.equal(info.clientSecret, 'sandbox-secret-not-for-production')
  t.equal(info.publicClientId, 'sandbox-public-client')
  t.equal(info.patients.length, 2)
  t.match(info.fhirBaseUrl, /^http:\/\/127\.0\.0\.1:\d+\/fhir\/r4\/SANDBX$/)

  const metadata = await fetch(`${String(info.fhirBaseUrl)}/metadata`)
  t.equal(metadata.status, 200)
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code, signal] = await exited
  t.equal(code, 0)
  t.equal(signal, null)
})

t.test('a bad flag prints the usage and exits 2', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', '--size', 'enormous'], { cwd: ROOT, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit')
  t.equal(code, 2)
  t.match(stderr, /--size must be a whole number/)
  t.match(stderr, /Usage: npm run sandbox/)
})
