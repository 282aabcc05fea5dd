import { spawn } from 'node:child_process'
import { childEnv } from '../helpers/child-env.js'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { ENV_NAMES } from '../../core/config.js'
import { freePort, useRedis } from '../helpers/redis.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** A stack frame: `at fn (file:line:col)` or `at file:line:col`. */
const STACK_FRAME = /^\s+at .*:\d+:\d+\)?$/m

/** The environment without any of our settings, so the machine's own cannot leak in. */
function cleanEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of [...Object.values(ENV_NAMES), 'HEALOW_WORKER']) delete env[name]
  return childEnv(extra, env)
}

async function runEntry (env: Record<string, string>, args: string[] = []): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'example/server.ts', ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += String(chunk) })
  child.stderr.on('data', (chunk: Buffer) => { output += String(chunk) })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, output }
}

t.test('npm start with Redis down exits non-zero, says how to get Redis, and prints no stack', async (t) => {
  const port = await freePort()
  const { code, output } = await runEntry({ REDIS_URL: `redis://127.0.0.1:${port}`, PORT: '0' })
  t.equal(code, 1)
  t.match(output, `Redis is not reachable at redis://127.0.0.1:${port} (REDIS_URL).`)
  t.match(output, 'docker compose up -d redis')
  t.match(output, 'apt-get install redis-server')
  t.notMatch(output, STACK_FRAME)
})

t.test('a bad configuration prints every bad field and exits 1 without a stack', async (t) => {
  const { code, output } = await runEntry({ HEALOW_SYNC_INTERVAL: 'often', HEALOW_PRACTICE_RATE_LIMIT: '400' })
  t.equal(code, 1)
  t.match(output, 'fastify-healow: invalid configuration. Fix these and start again:')
  t.match(output, 'HEALOW_SYNC_INTERVAL (option syncInterval): "often" is not a duration')
  t.match(output, 'HEALOW_PRACTICE_RATE_LIMIT (option practiceRateLimit): must be at most 249')
  t.notMatch(output, STACK_FRAME)
})

t.test('an unknown HEALOW_WORKER value is refused', async (t) => {
  const { code, output } = await runEntry({ HEALOW_WORKER: 'sometimes' })
  t.equal(code, 1)
  t.match(output, 'HEALOW_WORKER: must be inline (run the worker in this process) or separate')
  t.notMatch(output, STACK_FRAME)
})

t.test('npm start serves, and SIGTERM shuts it down cleanly', async (t) => {
  const redis = await useRedis(t)
  const child = spawn(process.execPath, ['--import', 'tsx', 'example/server.ts'], {
    cwd: ROOT,
    env: cleanEnv({ REDIS_URL: redis.url, HEALOW_KEY_PREFIX: redis.keyPrefix, PORT: '0', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => { output += String(chunk) })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += String(chunk)
      const match = /"msg":"ready: open (http:\/\/127\.0\.0\.1:\d+) in a browser"/.exec(output)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    void exited.then(() => { reject(new Error(`exited before ready:\n${output}`)) })
  })
  const page = await request(url)
  t.equal(page.statusCode, 200)
  t.match(await page.body.text(), '<h1>Your health records</h1>')
  t.match(output, '"msg":"no HEALOW_CLIENT_ID: using the built-in sandbox practice (synthetic records)"')
  t.match(output, '"msg":"sync worker started"', 'the worker runs in the same process')
  t.notMatch(output, 'PUBLIC_URL is a loopback address', 'no tunnel advice for the local sandbox')

  child.kill('SIGTERM')
  t.equal(await exited, 0)
  t.match(output, '"signal":"SIGTERM","msg":"stopping"')
  t.notMatch(output, 'shutdown step failed')
})
