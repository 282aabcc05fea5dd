// One worker process syncing one connection, for bench/worker-sync.bench.ts.
// Settings arrive as JSON in HEALOW_BENCH; prints one JSON line of results.
import { resolveConfig, type HealowOptions } from '../core/config.js'
import { createDirectory, type Tenant } from '../core/directory.js'
import { enqueueSync } from '../core/sync-jobs.js'
import { readSyncStatus } from '../core/sync-status.js'
import { startWorker } from '../worker/start.js'

interface BenchInput {
  settings: HealowOptions
  tenant: Tenant
  patientId: string
  tokens: { access_token: string, refresh_token?: string, expires_in: number, scope: string }
}

const input = JSON.parse(process.env.HEALOW_BENCH ?? '{}') as BenchInput
const silent = { info () {}, warn () {}, error () {}, debug () {} }
let peakRss = process.memoryUsage().rss
const startRss = peakRss
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 20)

const { config } = resolveConfig(input.settings)
// A short budget window: the bench measures our code, not Healow's 250 a minute.
const running = await startWorker({ config, log: silent, directory: createDirectory([input.tenant]), budgetWindowMs: 100 })
const core = running.core
const { connection } = await core.connections.upsert({
  userId: 'bench-user',
  tenant: input.tenant,
  patientId: input.patientId,
  mode: 'confidential',
  tokens: {
    accessToken: input.tokens.access_token,
    refreshToken: input.tokens.refresh_token,
    expiresAt: Date.now() + input.tokens.expires_in * 1000,
    obtainedAt: Date.now(),
    scope: input.tokens.scope,
    patientId: input.patientId
  }
})
const started = process.hrtime.bigint()
await enqueueSync(core.syncQueue, connection.id, 'manual')
let status = await readSyncStatus(core, connection.id)
while (status === null || status.outcome === 'running') {
  await new Promise((resolve) => setTimeout(resolve, 50))
  status = await readSyncStatus(core, connection.id)
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9
clearInterval(sampler)
const stored = Object.values(status.counts).reduce((a, b) => a + b, 0)
process.stdout.write(`${JSON.stringify({ outcome: status.outcome, stored, seconds, startRss, peakRss, failures: status.failures.length })}\n`)
await core.records.removeAll(connection.id)
await core.connections.remove(connection.id)
await core.syncQueue.obliterate({ force: true })
await running.close()
