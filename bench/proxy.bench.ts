/**
 * The FHIR proxy's cost: requests per second and p99 latency of a FHIR read
 * and a search page (whose Bundle links the proxy rewrites), sent
 *   - direct to the sandbox practice (with the bearer token),
 *   - through a plain @fastify/reply-from proxy adding a fixed token,
 *   - through our proxy route (user lookup, per-user limit in Redis, the
 *     shared practice budget in Redis, both on every call; the connection
 *     and its token from the encrypted store through a 5 s in-process
 *     cache; path checks, link rewriting, header allow-list),
 * all on the same upstream in one run: the sandbox in its own process with
 * its rate limit off, both proxies in a second process, autocannon here.
 *
 *   npx tsx bench/proxy.bench.ts      (or: npm run bench -- proxy)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { availableParallelism, loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { resolveRedis } from '../test/helpers/redis.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const SELF = fileURLToPath(import.meta.url)
const CONNECTIONS = 10
/** Seconds measured per target and workload, split into interleaved rounds. */
const DURATION_S = 5
const ROUNDS = 2
const WARMUP_S = 0.5
const USER_HEADER = 'x-bench-user'

interface AutocannonResult {
  requests: { average: number }
  latency: { p99: number }
  non2xx: number
  errors: number
  timeouts: number
}
type Autocannon = (options: { url: string, connections: number, duration: number, headers?: Record<string, string> }) => Promise<AutocannonResult>
// autocannon ships no type declarations.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

async function firstLine (child: ChildProcess): Promise<Record<string, string>> {
  const lines = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> })
  const [line] = await Promise.race([
    once(lines, 'line') as Promise<[string]>,
    once(child, 'exit').then(() => { throw new Error('a bench process exited before it was ready') })
  ])
  return JSON.parse(line) as Record<string, string>
}


interface Target { name: string, url: (path: string) => string, headers: Record<string, string> }
interface Figures { rps: number, p99: number, failed: number }

async function check (target: Target, path: string): Promise<void> {
  const res = await request(target.url(path), { headers: target.headers })
  const body = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`${target.name} answered ${res.statusCode} for ${path}: ${body.slice(0, 200)}`)
}

/** The 1-minute load average against the cores: the figures only compare within one run. */
function machineLoad (): string {
  return `load ${loadavg()[0]?.toFixed(2) ?? '?'} on ${availableParallelism()} cores`
}

function row (cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(26) : c.padStart(11))).join(' ')
}

/** Every target in turn, ROUNDS times: a busy machine then slows all of them alike, not just one. */
async function measure (targets: Target[], path: string): Promise<Figures[]> {
  for (const target of targets) {
    await check(target, path)
    await autocannon({ url: target.url(path), connections: CONNECTIONS, headers: target.headers, duration: WARMUP_S })
  }
  const runs = targets.map(() => [] as AutocannonResult[])
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, target] of targets.entries()) {
      runs[i]?.push(await autocannon({ url: target.url(path), connections: CONNECTIONS, headers: target.headers, duration: DURATION_S / ROUNDS }))
    }
  }
  return runs.map((r) => ({
    rps: r.reduce((sum, x) => sum + x.requests.average, 0) / r.length,
    p99: Math.max(...r.map((x) => x.latency.p99)),
    failed: r.reduce((sum, x) => sum + x.non2xx + x.errors + x.timeouts, 0)
  }))
}

async function main (): Promise<void> {
  const redis = await resolveRedis()
  const sandbox = spawn(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', '--patients', '1', '--rate-limit', '0', '--auto-approve', '--seed', 'bench'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore']
  })
  let hosts: ChildProcess | undefined
  try {
    const info = await firstLine(sandbox)
    hosts = spawn(process.execPath, ['--import', 'tsx', SELF, '--hosts'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_SANDBOX: JSON.stringify(info), BENCH_REDIS_URL: redis.url }
    })
    const ready = await firstLine(hosts)
    const fhirBase = info.fhirBaseUrl ?? ''
    const basePath = new URL(fhirBase).pathname
    const targets: Target[] = [
      { name: 'direct to the sandbox', url: (p) => `${fhirBase}/${p}`, headers: { authorization: `Bearer ${ready.token ?? ''}`, accept: 'application/json+fhir' } },
      { name: 'plain reply-from proxy', url: (p) => `${ready.replyFrom ?? ''}${basePath}/${p}`, headers: {} },
      { name: 'fastify-healow proxy', url: (p) => `${ready.ours ?? ''}/healow/proxy/${ready.connectionId ?? ''}/${p}`, headers: { [USER_HEADER]: 'bench-user' } }
    ]
    const pid = info.patientId ?? ''
    const workloads = [
      { name: 'read Patient/{id}', path: `Patient/${pid}` },
      { name: 'search page, links rewritten', path: `Observation?patient=${pid}&category=laboratory&_count=10` }
    ]
    process.stdout.write(`${CONNECTIONS} connections; ${DURATION_S} s per target in ${ROUNDS} interleaved rounds ` +
      `(req/s averaged, p99 the worst round); sandbox rate limit off; ${machineLoad()} at the start\n`)
    for (const workload of workloads) {
      const figures = await measure(targets, workload.path)
      const direct = figures[0] ?? { rps: 1, p99: 1, failed: 0 }
      process.stdout.write(`\n${workload.name}\n${row(['', 'req/s', 'p99 ms', 'failed', 'req/s ratio', 'p99 ratio'])}\n`)
      for (const [i, target] of targets.entries()) {
        const f = figures[i] ?? direct
        process.stdout.write(row([target.name, f.rps.toFixed(0), String(f.p99), String(f.failed),
          (f.rps / direct.rps).toFixed(2), (f.p99 / Math.max(1, direct.p99)).toFixed(2)]) + '\n')
      }
      const [, replyFrom, ours] = figures
      if (replyFrom !== undefined && ours !== undefined) {
        process.stdout.write(`fastify-healow proxy vs plain reply-from proxy: req/s ${(ours.rps / replyFrom.rps).toFixed(2)}x\n`)
      }
    }
    process.stdout.write(`\n${machineLoad()} at the end\n`)
  } finally {
    hosts?.kill('SIGTERM')
    sandbox.kill('SIGTERM')
    await Promise.all([hosts, sandbox].map(async (c) => { if (c !== undefined && c.exitCode === null) await once(c, 'exit') }))
    await redis.stop()
  }
}

/** The second process: our host with a patient connected through its own routes, and a reply-from proxy. */
async function runHosts (): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const { default: replyFrom } = await import('@fastify/reply-from')
  const { createDirectory } = await import('../core/directory.js')
  const { createPracticeBudget } = await import('../core/practice-budget.js')
  const { default: fastifyHealow } = await import('../plugin/index.js')
  const { Browser } = await import('../test/helpers/browser.js')
  const { freePort } = await import('../test/helpers/redis.js')
  const info = JSON.parse(process.env.BENCH_SANDBOX ?? '{}') as Record<string, string>
  const fhirBase = info.fhirBaseUrl ?? ''
  const code = fhirBase.slice(fhirBase.lastIndexOf('/') + 1)
  const keyPrefix = `bench-proxy-${randomBytes(4).toString('hex')}`

  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  await app.register(fastifyHealow, {
    publicUrl: origin,
    clientId: info.clientId,
    clientSecret: info.clientSecret,
    cookieSecret: randomBytes(32).toString('base64url'),
    encryptionKey: randomBytes(32).toString('base64'),
    redisUrl: process.env.BENCH_REDIS_URL,
    keyPrefix,
    insecureLoopback: true,
    directory: createDirectory([{ id: code, name: 'Bench practice', url: fhirBase, authorize: info.authorizeUrl ?? '', token: info.tokenUrl ?? '' }]),
    proxyRateLimit: 100_000,
    getUserId: (req) => req.headers[USER_HEADER] as string | undefined
  })
  await app.listen({ host: '127.0.0.1', port })
  const core = app.healow
  // Healow's ceiling (249/min) would answer 429 within a second: the bench keeps
  // the budget's Redis call on every request but raises its limit.
  core.budget = createPracticeBudget({ redis: core.redis, keys: core.keys, limitPerMinute: 100_000_000 })

  // Connect through the plugin's own routes (a cookie-keeping client); the sandbox approves at once.
  const browser = new Browser()
  const who = { [USER_HEADER]: 'bench-user' }
  const start = await browser.get(`${origin}/healow/authorize?tenant=${code}&returnTo=/done`, who)
  const approve = await browser.get(start.location ?? '')
  const done = await browser.get(approve.location ?? '', who)
  const connectionId = new URL(done.location ?? '/', origin).searchParams.get('connection') ?? ''
  if (connectionId === '') throw new Error(`connecting failed: ${start.status} ${approve.status} ${done.status}`)
  const token = (await core.connections.readTokens(connectionId))?.accessToken ?? ''

  const rfPort = await freePort()
  const rf = Fastify({ logger: false })
  await rf.register(replyFrom, { base: new URL(fhirBase).origin })
  rf.get('/fhir/*', (req, reply) => {
    void reply.from(req.url, { rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: `Bearer ${token}`, accept: 'application/json+fhir' }) })
  })
  await rf.listen({ host: '127.0.0.1', port: rfPort })

  process.once('SIGTERM', () => {
    void (async () => {
      await rf.close()
      await core.syncQueue.obliterate({ force: true }).catch(() => {})
      const keys = await core.redis.keys(`${keyPrefix}*`)
      if (keys.length > 0) await core.redis.del(...keys)
      await app.close()
      process.exit(0)
    })()
  })
  process.stdout.write(JSON.stringify({ ours: origin, replyFrom: `http://127.0.0.1:${rfPort}`, connectionId, token }) + '\n')
}

if (process.argv.includes('--hosts')) await runHosts()
else await main()
