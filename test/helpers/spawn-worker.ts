import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import type { HealowOptions } from '../../core/config.js'
import type { Tenant } from '../../core/directory.js'
import type { TestApp } from './build.js'
import { childEnv } from './child-env.js'
import { TEST_COOKIE_SECRET, TEST_ENCRYPTION_KEY } from './build.js'

const SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface WorkerProcess {
  child: ChildProcess
  /** Resolves when the process has exited. */
  exited: Promise<number | null>
}

/** The settings a test app was built with, for a worker in another process. */
export function settingsOf (ctx: TestApp, extra: HealowOptions = {}): HealowOptions {
  const c = ctx.app.healow.config
  return {
    publicUrl: c.publicUrl,
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    cookieSecret: TEST_COOKIE_SECRET,
    encryptionKey: TEST_ENCRYPTION_KEY,
    redisUrl: c.redisUrl,
    keyPrefix: c.keyPrefix,
    insecureLoopback: true,
    practiceRateLimit: c.practiceRateLimit,
    ...extra
  }
}

/** Starts a worker process and waits until it runs; it is stopped on teardown. */
export async function spawnWorker (t: Test, options: { settings: HealowOptions, tenant: Tenant, budgetWindowMs?: number, lockDurationMs?: number }): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    cwd: ROOT,
    env: childEnv({ HEALOW_TEST_WORKER: JSON.stringify(options) }),
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code) }))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += String(chunk)
      if (out.includes('ready')) resolve()
    })
    child.once('exit', (code) => { reject(new Error(`worker process exited early (${code})`)) })
  })
  return { child, exited }
}
