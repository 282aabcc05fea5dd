import type { Test } from 'tap'
import { createDirectory } from '../../core/directory.js'
import type { HealowConfig } from '../../core/config.js'
import { readSyncStatus, type SyncStatus } from '../../core/sync-status.js'
import { startWorker, type RunningWorker } from '../../worker/start.js'
import type { TestApp } from './build.js'

/** A sync worker in this process, on the test app's Redis prefix and sandbox; closed on teardown. */
export async function startTestWorker (t: Test, ctx: TestApp, overrides: Partial<HealowConfig> = {}, options: { budgetWindowMs?: number } = {}): Promise<RunningWorker> {
  const config = { ...ctx.app.healow.config, ...overrides }
  const running = await startWorker({ config, log: ctx.app.log, directory: createDirectory([ctx.tenant]), budgetWindowMs: options.budgetWindowMs })
  t.teardown(async () => { await running.close() })
  return running
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T> (check: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Waits until the connection's last sync is finished (any outcome but running). */
export async function waitForSync (ctx: TestApp, connectionId: string, timeoutMs = 60_000): Promise<SyncStatus> {
  return await waitFor(async () => {
    const status = await readSyncStatus(ctx.app.healow, connectionId)
    return status !== null && status.outcome !== 'running' ? status : undefined
  }, timeoutMs, `sync of ${connectionId}`)
}
