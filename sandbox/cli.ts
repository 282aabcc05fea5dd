import { cliHelp, parseCliOptions } from './cli-options.js'
import { startSandbox } from './index.js'

/**
 * `npm run sandbox`: starts the sandbox practice, prints one JSON line with
 * what a client needs (URLs, client ids and secret, default patient), and
 * serves until SIGINT or SIGTERM. Only this file reads SANDBOX_* variables.
 */
async function main (): Promise<void> {
  let parsed
  try {
    parsed = parseCliOptions(process.argv.slice(2), process.env)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${cliHelp()}`)
    process.exitCode = 2
    return
  }
  if (parsed.help) {
    process.stdout.write(cliHelp())
    return
  }
  const sandbox = await startSandbox(parsed.options)
  process.stdout.write(JSON.stringify({
    fhirBaseUrl: sandbox.fhirBaseUrl,
    authorizeUrl: sandbox.authorizeUrl,
    tokenUrl: sandbox.tokenUrl,
    jwksUrl: sandbox.jwksUrl,
    issuer: sandbox.issuer,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    publicClientId: sandbox.publicClientId,
    patientId: sandbox.patientId,
    patients: sandbox.patients,
    redirectUris: sandbox.redirectUris
  }) + '\n')
  process.stderr.write(`Sandbox practice "${sandbox.practiceName}" at ${sandbox.fhirBaseUrl} (Ctrl-C to stop)\n`)
  const stop = (): void => {
    sandbox.close().then(() => { process.exitCode = 0 }, (err: unknown) => {
      process.stderr.write(`sandbox close failed: ${(err as Error).message}\n`)
      process.exitCode = 1
    })
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed to start: ${(err as Error).message}\n`)
  process.exitCode = 1
})
