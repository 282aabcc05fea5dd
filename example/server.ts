import closeWithGrace from 'close-with-grace'
import { ConfigError, readEnv } from '../core/config.js'
import { createLineStream } from './log-lines.js'
import { RedisUnavailableError } from './redis.js'
import { startExample, type ExampleHost } from './start.js'

/**
 * `npm start`: the example host. Reads the environment (see .env.example),
 * runs the sync worker in this process unless `--no-worker` or
 * HEALOW_WORKER=separate, and shuts down cleanly on SIGINT/SIGTERM.
 * Start-up problems print one plain message and exit 1, without a stack.
 */

const WORKER_MODES = ['inline', 'separate'] as const

function fail (message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(1)
}

function workerMode (): 'inline' | 'separate' {
  if (process.argv.includes('--no-worker')) return 'separate'
  // The one setting that is not the plugin's: how this process is laid out.
  const value = (process.env.HEALOW_WORKER ?? '').trim().toLowerCase()
  if (value === '') return 'inline'
  if ((WORKER_MODES as readonly string[]).includes(value)) return value as 'inline' | 'separate'
  return fail(`fastify-healow: invalid configuration. Fix these and start again:\n  - HEALOW_WORKER: must be inline (run the worker in this process) or separate (run npm run worker beside it)`)
}

async function main (): Promise<void> {
  let host: ExampleHost
  try {
    host = await startExample({
      settings: readEnv(),
      worker: workerMode(),
      // Readable lines in a terminal; JSON lines for log collectors.
      logStream: process.stdout.isTTY ? createLineStream() : undefined
    })
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RedisUnavailableError) fail(err.message)
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE') fail(`fastify-healow: the port is already in use (${e.message}). Set PORT to a free one.`)
    fail(`fastify-healow: could not start: ${e.message}`)
  }
  closeWithGrace({ delay: 15_000, logger: { error: (msg: unknown) => { host.app.log.error(String(msg)) } } }, async ({ signal, err }) => {
    if (err !== undefined) host.app.log.error({ err: { message: err.message } }, 'stopping after an error')
    else host.app.log.info({ signal }, 'stopping')
    await host.close()
  })
}

await main()
