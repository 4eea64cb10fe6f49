/**
 * Where memseal's output goes, and what happens when it cannot get there:
 * - an output file (`--junit FILE`, and every other option that names one) is checked before anything
 *   runs, so that a typo costs a second and not a whole suite;
 * - writing it afterwards fails with one line and the I/O exit status, never a stack trace;
 * - a reader that closes the pipe early (`memseal list | head -1`) ends memseal quietly, killed by
 *   SIGPIPE as other Unix tools are; any other error on standard output is an I/O error.
 */
import { accessSync, constants, statSync, writeFileSync, writeSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { getSystemErrorMap } from 'node:util'
import { EXIT, SIGPIPE_STATUS } from './status'
import { UsageError } from './usage'

/** A report that could not be written: the command ends with EXIT.io and this one line. */
export class OutputError extends Error {
  readonly status = EXIT.io
  constructor(message: string) {
    super(message)
    this.name = 'OutputError'
  }
}

/** 'ENOSPC (no space left on device)' for a system error, its message otherwise. */
export function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code !== 'string') return err instanceof Error ? err.message : String(err)
  const description = typeof e.errno === 'number' ? getSystemErrorMap().get(e.errno)?.[1] : undefined
  return description ? `${e.code} (${description})` : e.code
}

/**
 * Throws unless `path` can be written the way `writeOutput` will write it: an empty name is a usage
 * error; a directory, a missing or unwritable directory, or a file this process may not write is an
 * OutputError. Creates nothing (a run that fails later leaves no empty file behind). A device such as
 * /dev/full passes: only writing to it can tell, and writeOutput reports that.
 */
export function checkOutputPath(path: string, option: string, command?: string): void {
  if (path === '') throw new UsageError(`${option} needs a file name, not an empty string`, command)
  const cannot = (why: string) => new OutputError(`cannot write ${option} ${path}: ${why}`)
  let exists = true
  try {
    if (statSync(path).isDirectory()) throw cannot('it is a directory')
  } catch (err) {
    if (err instanceof OutputError) throw err
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw cannot(errnoText(err))
    exists = false
  }
  if (exists) {
    try {
      accessSync(path, constants.W_OK)
    } catch (err) {
      throw cannot(errnoText(err))
    }
    return
  }
  const dir = dirname(resolve(path))
  try {
    if (!statSync(dir).isDirectory()) throw cannot(`${dir} is not a directory`)
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (err) {
    if (err instanceof OutputError) throw err
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw cannot(`the directory ${dir} does not exist`)
    throw cannot(`${errnoText(err)} on the directory ${dir}`)
  }
}

/** Writes a report file; a failure is an OutputError with one line that names the option and the path. */
export function writeOutput(path: string, text: string, option: string): void {
  try {
    writeFileSync(path, text)
  } catch (err) {
    throw new OutputError(`cannot write ${option} ${path}: ${errnoText(err)}`)
  }
}

/**
 * Ends the process as the default action of SIGPIPE would. Node ignores SIGPIPE so that writes return
 * EPIPE instead; listening for the signal and letting go again gives it back its default action, and
 * the process then dies of it, as `yes | head -1` does (a shell shows status 141).
 */
export function dieOfSigpipe(): never {
  const ignore = (): void => undefined
  process.on('SIGPIPE', ignore)
  process.off('SIGPIPE', ignore)
  process.kill(process.pid, 'SIGPIPE')
  process.exit(SIGPIPE_STATUS) // where the signal could not end the process: the status a shell would show
}

/**
 * Errors on standard output and standard error, which Node raises as 'error' events (a crash with a stack
 * trace when nothing listens): a closed pipe ends the process by SIGPIPE, anything else (a full disk, a
 * closed descriptor) with one line on standard error and EXIT.io.
 */
export function guardStandardStreams(program = 'memseal'): void {
  const onError = (name: string) => (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') dieOfSigpipe()
    try {
      writeSync(2, `${program}: cannot write to standard ${name}: ${errnoText(err)}\n`)
    } catch {
      // standard error is gone too: the exit status is all that is left to say it
    }
    process.exit(EXIT.io)
  }
  process.stdout.on('error', onError('output'))
  process.stderr.on('error', onError('error'))
}
