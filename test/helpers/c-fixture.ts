/**
 * Builds a C program from test/fixtures/NAME.c with the machine's C compiler into a temporary directory
 * (seccomp-fault: runs a command under a seccomp filter that fails or fakes chosen system calls).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface BuiltFixture {
  /** Path of the program, or null when it could not be built. */
  path: string | null
  /** Why it could not be built. */
  reason: string | null
  /** Removes the temporary directory. */
  remove(): void
}

export function buildFixture(name: string): BuiltFixture {
  const dir = mkdtempSync(join(tmpdir(), `memseal-${name}-`))
  const remove = (): void => rmSync(dir, { recursive: true, force: true })
  const path = join(dir, name)
  const cc = process.env.CC ?? 'cc'
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', path, join(__dirname, '..', 'fixtures', `${name}.c`)], { encoding: 'utf8' })
  if (r.error) return { path: null, reason: `no C compiler (${cc}: ${(r.error as NodeJS.ErrnoException).code})`, remove }
  if (r.status !== 0) return { path: null, reason: `${cc} failed: ${r.stderr.trim()}`, remove }
  return { path, reason: null, remove }
}
