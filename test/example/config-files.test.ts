import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ENV_NAMES, readEnv, resolveConfig } from '../../core/config.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (file: string): string => readFileSync(`${ROOT}${file}`, 'utf8')

/** `# NAME=value` example lines of .env.example, with the comment line above each. */
function examples (text: string): Map<string, { value: string, comment: string }> {
  const lines = text.split('\n')
  const out = new Map<string, { value: string, comment: string }>()
  lines.forEach((line, i) => {
    const match = /^# ([A-Z_]+)=(.*)$/.exec(line)
    if (match !== null) out.set(match[1] ?? '', { value: match[2] ?? '', comment: lines[i - 1] ?? '' })
  })
  return out
}

t.test('.env.example lists every setting with a comment and an example', async (t) => {
  const found = examples(read('.env.example'))
  const names = [...Object.values(ENV_NAMES), 'HEALOW_WORKER']
  t.same([...found.keys()].sort(), [...names].sort(), 'exactly the settings, each once')
  for (const [name, { value, comment }] of found) {
    t.match(comment, /^# \S.{10,}/, `${name} has a one-line comment`)
    t.not(value, '', `${name} has an example`)
  }
  t.match(found.get('HEALOW_ENCRYPTION_KEY')?.comment, 'openssl rand -base64 32')
  t.match(found.get('HEALOW_COOKIE_SECRET')?.comment, 'openssl rand -base64 32')
  t.notMatch(read('.env.example'), /^[A-Z_]+=/m, 'nothing is set when copied as it is: a first run is the sandbox')
})

t.test('the examples that are real values are valid and are the defaults', async (t) => {
  const env: Record<string, string> = {}
  for (const [name, { value }] of examples(read('.env.example'))) {
    // Placeholders, a file that does not exist here, the client (which would leave sandbox mode).
    if (/^<|^your-/.test(value) || name === 'HEALOW_TENANTS_FILE' || name === 'HEALOW_WORKER') continue
    env[name] = value
  }
  const { config } = resolveConfig(readEnv(env))
  t.equal(config.sandbox, true)
  t.equal(config.publicUrl, 'https://health.example.org')
  t.equal(config.syncIntervalMs, 7 * 24 * 3600 * 1000)
  t.equal(config.manualSyncMinIntervalMs, 15 * 60 * 1000)
  t.equal(config.practiceRateLimit, 200)
  t.equal(config.proxyRateLimit, 60)
  t.equal(config.upstreamTimeoutMs, 30_000)
  t.equal(config.redisUrl, 'redis://127.0.0.1:6379')
  t.equal(config.keyPrefix, 'healow')
  t.equal(config.workerConcurrency, 4)
  t.equal(config.port, 3000)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.logLevel, 'info')
  t.equal(config.tenantsMode, 'merge')
  t.equal(config.insecureLoopback, false)
})

t.test('docker compose and the Dockerfile keep their contract', async (t) => {
  const compose = read('docker-compose.yml')
  t.match(compose, 'image: redis:7')
  t.match(compose, 'command: ["redis-server", "--appendonly", "yes"]')
  t.match(compose, 'test: ["CMD", "redis-cli", "ping"]')
  t.match(compose, '- redis-data:/data')
  t.match(compose, 'condition: service_healthy')
  t.equal(compose.match(/REDIS_URL: redis:\/\/redis:6379/g)?.length, 2, 'app and worker use the redis service')
  t.match(compose, 'HOST: 0.0.0.0')
  t.match(compose, 'HEALOW_WORKER: separate')
  t.match(compose, '"127.0.0.1:3000:3000"')
  t.match(compose, '"127.0.0.1:3001:3001"', 'the sandbox sign-in page: the port after PORT')
  t.match(compose, 'exec npm run worker')
  t.match(compose, 'path: .env')
  const dockerfile = read('Dockerfile')
  t.match(dockerfile, /^FROM node:20-slim$/m)
  t.match(dockerfile, /^RUN npm ci --omit=dev/m)
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /^CMD \["npm", "start"\]$/m)
  const ignored = read('.dockerignore').split('\n')
  for (const entry of ['node_modules', '.env', '.data', '.git']) t.ok(ignored.includes(entry), `${entry} stays out of the image`)
})
