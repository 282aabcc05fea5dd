import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * `npm run bench [-- name...]`: runs every `bench/*.bench.ts` (or those whose
 * name contains one of the arguments) one after another, each in its own
 * process so one bench's memory never colours another's figures. Each prints
 * its own figures beside a baseline measured in the same run.
 */
const dir = fileURLToPath(new URL('.', import.meta.url))
const filters = process.argv.slice(2)
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()

if (benches.length === 0) {
  process.stderr.write(`no bench matches ${filters.join(', ')}\n`)
  process.exit(1)
}
let failed = 0
for (const file of benches) {
  process.stdout.write(`\n=== ${file} ===\n`)
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', `${dir}${file}`], { stdio: 'inherit' })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
