import { Writable } from 'node:stream'
import type { Test } from 'tap'
import { startExample, type ExampleHost, type StartExampleOptions } from '../../example/start.js'
import { Browser } from '../helpers/browser.js'
import { useRedis } from '../helpers/redis.js'

export interface TestHost {
  host: ExampleHost
  /** Every log line the host wrote. */
  logs: () => string
}

/** The example host on a free port, this test's Redis prefix and its own sandbox; closed on teardown. */
export async function startTestHost (t: Test, options: StartExampleOptions = {}): Promise<TestHost> {
  const redis = await useRedis(t)
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const host = await startExample({ port: 0, redisUrl: redis.url, keyPrefix: redis.keyPrefix, logStream, ...options })
  t.teardown(host.close)
  return { host, logs: () => lines.join('') }
}

/** Connects the sandbox practice with a plain HTTP client (the sandbox must auto-approve); returns the connection id. */
export async function connectSandbox (host: ExampleHost, browser: Browser): Promise<string> {
  const tenant = host.sandbox?.practiceCode ?? ''
  const start = await browser.get(`${host.url}/healow/authorize?tenant=${tenant}&returnTo=/`)
  if (start.location === undefined) throw new Error(`authorize answered ${start.status}: ${start.body}`)
  const atPractice = await browser.get(start.location)
  if (atPractice.location === undefined) throw new Error(`practice answered ${atPractice.status}`)
  const back = await browser.get(atPractice.location)
  const id = back.location !== undefined ? new URL(back.location).searchParams.get('connection') : null
  if (id === null) throw new Error(`callback answered ${back.status} ${back.location ?? ''}`)
  return id
}

/** Polls the connection's status until its last sync with this trigger has finished; returns that status. */
export async function waitForSync (host: ExampleHost, browser: Browser, id: string, trigger: string): Promise<Record<string, any>> {
  for (;;) {
    const res = await browser.get(`${host.url}/healow/connections/${id}`)
    const status = JSON.parse(res.body) as Record<string, any>
    const last = status.lastSync as { trigger?: string, outcome?: string } | null
    if (last !== null && last.trigger === trigger && last.outcome !== 'running') return status
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
