/** Shared test helpers: error codes, child processes, fd counts. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = join(__dirname, '..', '..')
/** Under AddressSanitizer (npm run test:asan) everything, fork above all, is several times slower. */
export const SLOW = process.env.MEMSEAL_SANITIZER ? 5 : 1
export const FIXTURES = join(ROOT, 'test', 'fixtures')

export interface CaughtError extends Error {
  code?: string
  errno?: number
  syscall?: string
}

/** The error fn throws (fails the test if it does not throw). */
export function errorOf(fn: () => unknown): CaughtError {
  try {
    fn()
  } catch (err) {
    return err as CaughtError
  }
  throw new Error('expected the call to throw, and it returned')
}

/** The `code` of what fn throws, or undefined when it succeeds. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return (err as CaughtError).code ?? `no code: ${String(err)}`
  }
}

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length
}

/**
 * Runs a fixture script (test/fixtures/NAME.js) in a fresh node process: everything that seals address
 * space or faults happens there, never in the jest worker.
 */
export function runFixture(name: string, args: string[] = [], nodeArgs: string[] = []): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...nodeArgs, join(FIXTURES, `${name}.js`), ...args], {
    encoding: 'utf8',
    env: { ...process.env, MEMSEAL_ROOT: ROOT },
    timeout: 60_000 * SLOW,
  })
}

/** Runs a fixture that prints one JSON line; fails with its stderr if it did not exit cleanly. */
export function fixtureJson<T = Record<string, unknown>>(name: string, args: string[] = [], nodeArgs: string[] = []): T {
  const r = runFixture(name, args, nodeArgs)
  if (r.status !== 0 || r.signal) {
    throw new Error(`fixture ${name} ended with status ${r.status} signal ${r.signal}\n${r.stderr}`)
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null') as T
}
