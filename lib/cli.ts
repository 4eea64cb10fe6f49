#!/usr/bin/env node
/**
 * The `memseal` command (package.json "bin"). The commands live in lib/cli/, one module each; this file
 * is the entry point: it guards standard output and standard error (a closed pipe, a full disk), runs
 * main() and exits with its status (lib/cli/status.ts).
 */
import { main } from './cli/main'
import { guardStandardStreams } from './cli/output'
import { EXIT } from './cli/status'

export { main }
export { EXIT } from './cli/status'

if (require.main === module) {
  guardStandardStreams()
  // Never silent: a run that ends before main() settled (an event loop left with nothing to wait for,
  // a promise that can no longer settle) must not exit 0 with nothing printed.
  let settled = false
  process.on('exit', (code) => {
    if (settled || code !== 0) return
    process.stderr.write('memseal: internal error: the run stopped before it finished, without a report\n')
    process.exitCode = EXIT.software
  })
  main(process.argv.slice(2))
    .finally(() => (settled = true))
    .then(
      (status) => {
        process.exitCode = status
      },
      (err: unknown) => {
        process.stderr.write(`memseal: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
        process.exitCode = EXIT.software
      },
    )
}
