// A sync worker as its own process, for tests of several workers and of
// crashes. Options arrive as JSON in HEALOW_TEST_WORKER; it prints "ready"
// on stdout once the worker runs, and closes on SIGTERM.
import pino from 'pino'
import { resolveConfig, type HealowOptions } from '../../core/config.js'
import { createDirectory, type Tenant } from '../../core/directory.js'
import { startWorker } from '../../worker/start.js'

interface WorkerProcessOptions {
  settings: HealowOptions
  tenant: Tenant
  budgetWindowMs?: number
  lockDurationMs?: number
}

const options = JSON.parse(process.env.HEALOW_TEST_WORKER ?? '{}') as WorkerProcessOptions
const { config } = resolveConfig(options.settings)
const log = pino({ level: 'warn' }, pino.destination(2))
const running = await startWorker({
  config,
  log,
  directory: createDirectory([options.tenant]),
  budgetWindowMs: options.budgetWindowMs,
  lockDurationMs: options.lockDurationMs
})
process.stdout.write('ready\n')
process.once('SIGTERM', () => {
  void running.close().then(() => process.exit(0))
})
