/**
 * The sync worker on a 2k and a 200k-resource record, beside a bare undici
 * fetch-and-parse loop over the same pages and attachments:
 * - resources per second, worker vs bare loop (the cost of the budget,
 *   token handling, encryption and the idempotent store);
 * - the worker process's peak RSS: it must not grow with the record
 *   (200k within 50 MB of 2k). Without a heap ceiling V8 lets garbage
 *   pile up in a long run, which is why `npm run worker` sets
 *   --max-old-space-size (and so does this bench).
 *
 *   npm run bench -- worker-sync
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { buildSearchPlan } from '../core/search-plan.js'
import { rebaseLink, searchUrl } from '../core/fhir-paging.js'
import { startSandbox, type Sandbox } from '../sandbox/index.js'
import { childEnv } from '../test/helpers/child-env.js'
import { resolveRedis } from '../test/helpers/redis.js'

const SIZES = [2_000, 200_000]
const MAX_GROWTH_BYTES = 50 * 1024 * 1024
const CHILD = fileURLToPath(new URL('./worker-sync.child.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MB = 1024 * 1024
/** The heap flags `npm run worker` starts the worker with (package.json), so the bench measures the same process. */
const WORKER_NODE_FLAGS = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.worker as string)
  .split(' ').filter((arg) => arg.startsWith('--max-old-space-size'))

interface WorkerRun { outcome: string, stored: number, seconds: number, startRss: number, peakRss: number, failures: number }

async function runWorker (sandbox: Sandbox, redisUrl: string): Promise<WorkerRun> {
  const tokens = await sandbox.issueTokens()
  const input = {
    settings: {
      publicUrl: 'http://127.0.0.1:1',
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      cookieSecret: randomBytes(32).toString('hex'),
      encryptionKey: randomBytes(32).toString('base64'),
      redisUrl,
      keyPrefix: `bench-${randomBytes(4).toString('hex')}`,
      insecureLoopback: true,
      practiceRateLimit: 249,
      workerConcurrency: 1
    },
    tenant: { id: sandbox.practiceCode, name: sandbox.practiceName, url: sandbox.fhirBaseUrl, authorize: sandbox.authorizeUrl, token: sandbox.tokenUrl },
    patientId: sandbox.patientId,
    tokens
  }
  const child = spawn(process.execPath, ['--import', 'tsx', ...WORKER_NODE_FLAGS, CHILD], { cwd: ROOT, env: childEnv({ HEALOW_BENCH: JSON.stringify(input) }), stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += String(chunk) })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`worker run exited ${String(code)}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as WorkerRun
}

/** The same pages and attachments, fetched and parsed with nothing else. */
async function runBareLoop (sandbox: Sandbox): Promise<{ resources: number, seconds: number }> {
  const { access_token: token } = await sandbox.issueTokens()
  const agent = new Agent({ keepAliveTimeout: 10_000 })
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json+fhir' }
  const get = async (url: string): Promise<any> => {
    const res = await request(url, { headers, dispatcher: agent })
    return res.headers['content-type']?.toString().includes('json') === true ? await res.body.json() : await res.body.arrayBuffer()
  }
  let resources = 0
  const started = process.hrtime.bigint()
  for (const search of buildSearchPlan(sandbox.patientId)) {
    let next: string | undefined = searchUrl(sandbox.fhirBaseUrl, search).href
    while (next !== undefined) {
      const bundle = await get(next)
      for (const entry of bundle.entry ?? []) {
        resources++
        for (const content of entry.resource?.content ?? []) {
          if (typeof content.attachment?.url === 'string') {
            await get(content.attachment.url)
            resources++
          }
        }
      }
      const link = (bundle.link ?? []).find((l: { relation: string }) => l.relation === 'next')?.url
      next = link !== undefined ? rebaseLink(link, sandbox.fhirBaseUrl)?.href : undefined
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  await agent.close()
  return { resources, seconds }
}

async function main (): Promise<void> {
  const redis = await resolveRedis()
  const rows: Array<{ size: number, worker: WorkerRun, bare: { resources: number, seconds: number } }> = []
  try {
    for (const size of SIZES) {
      const sandbox = await startSandbox({ size, patients: 1, rateLimit: 0, seed: 'bench' })
      try {
        const bare = await runBareLoop(sandbox)
        const worker = await runWorker(sandbox, redis.url)
        rows.push({ size, worker, bare })
      } finally {
        await sandbox.close()
      }
    }
  } finally {
    await redis.stop()
  }
  console.log('record     stored  worker s  worker res/s  bare res/s  ratio   RSS start  RSS peak')
  for (const { size, worker, bare } of rows) {
    const wr = worker.stored / worker.seconds
    const br = bare.resources / bare.seconds
    console.log(`${String(size).padStart(7)}  ${String(worker.stored).padStart(8)}  ${worker.seconds.toFixed(1).padStart(8)}  ${wr.toFixed(0).padStart(12)}  ${br.toFixed(0).padStart(10)}  ${(wr / br).toFixed(2).padStart(5)}x  ${(worker.startRss / MB).toFixed(1).padStart(7)} MB  ${(worker.peakRss / MB).toFixed(1).padStart(6)} MB`)
    if (worker.outcome !== 'succeeded' || worker.stored !== bare.resources) console.log(`  ! outcome ${worker.outcome}, stored ${worker.stored} vs ${bare.resources} fetched`)
  }
  const growth = (rows[1]?.worker.peakRss ?? 0) - (rows[0]?.worker.peakRss ?? 0)
  const ok = growth <= MAX_GROWTH_BYTES
  console.log(`peak RSS growth, ${SIZES[1]} vs ${SIZES[0]} resources: ${(growth / MB).toFixed(1)} MB (limit ${MAX_GROWTH_BYTES / MB} MB): ${ok ? 'ok' : 'TOO MUCH'}`)
  if (!ok) process.exitCode = 1
}

await main()
