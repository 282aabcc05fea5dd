/**
 * The environment for a child `node --import tsx` process in a test: tap's
 * process hooks would otherwise instrument the child's differently compiled
 * copy of the same files and corrupt the merged coverage report.
 */
export function childEnv (extra: NodeJS.ProcessEnv = {}, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...extra, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  delete env.NODE_OPTIONS
  return env
}
