/**
 * Builds test/fixtures/seccomp-deny.c with the machine's C compiler into a temporary directory: a
 * launcher that runs a command under a seccomp filter refusing one system call (ENOSYS by default).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const SOURCE = join(__dirname, '..', 'fixtures', 'seccomp-deny.c')

export interface SeccompDeny {
  /** Path of the launcher, or null when it could not be built. */
  path: string | null
  /** Why it could not be built. */
  reason: string | null
  /** Removes the temporary directory. */
  remove(): void
}

export function buildSeccompDeny(): SeccompDeny {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-seccomp-'))
  const remove = (): void => rmSync(dir, { recursive: true, force: true })
  const path = join(dir, 'seccomp-deny')
  const cc = process.env.CC ?? 'cc'
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', path, SOURCE], { encoding: 'utf8' })
  if (r.error) return { path: null, reason: `no C compiler (${cc}: ${(r.error as NodeJS.ErrnoException).code})`, remove }
  if (r.status !== 0) return { path: null, reason: `${cc} failed: ${r.stderr.trim()}`, remove }
  return { path, reason: null, remove }
}
