import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { ConfigError, readEnv, resolveConfig } from '../core/config.js'
import { LOG_REDACT_PATHS } from '../core/logging.js'
import { startWorker } from './start.js'

/** `npm run worker`: the sync worker as its own process (several may share one Redis). */
async function main (): Promise<void> {
  let resolved
  try {
    resolved = resolveConfig(readEnv())
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  const { config, warnings } = resolved
  const log = pino({ level: config.logLevel, redact: [...LOG_REDACT_PATHS], base: { process: 'healow-worker' } })
  if (config.sandbox) {
    process.stderr.write('fastify-healow worker: HEALOW_CLIENT_ID is not set. The built-in sandbox practice runs inside `npm start`, which also runs the worker; set HEALOW_CLIENT_ID (and HEALOW_CLIENT_SECRET) to run workers on their own.\n')
    process.exit(1)
  }
  for (const warning of warnings) log.warn(warning)
  const running = await startWorker({ config, log })
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err: { message: err.message } }, 'worker stopping after an error')
    else log.info({ signal }, 'worker stopping')
    await running.close()
  })
}

await main()
