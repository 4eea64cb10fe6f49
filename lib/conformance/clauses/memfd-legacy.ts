/**
 * Legacy helpers of the `noexec.` clauses, kept only until noexec.ts is converted to the Ctx operations
 * (ctx.file, ctx.proc, ctx.try); then this file goes. memfd.ts re-exports them under their old names. The
 * `memfd.` clauses use memfd-docs.ts and the Ctx, and nothing else should import from here.
 */
import { fstatSync, readFileSync, writeSync } from 'node:fs'
import { kernel } from '../../kernel'
import { constants as C, native } from '../../native'
import { type Ctx, outcome, SetupError } from '../ctx'
import type { Observation, Source } from '../types'

export const MAN_MEMFD: Source = { doc: 'memfd_create(2)', url: 'https://man7.org/linux/man-pages/man2/memfd_create.2.html' }
export const MAN_SEALS: Source = { doc: 'F_ADD_SEALS(2const)', url: 'https://man7.org/linux/man-pages/man2/F_ADD_SEALS.2const.html' }
export const NOEXEC_DOC: Source = { doc: 'mfd_noexec.rst', url: 'https://docs.kernel.org/userspace-api/mfd_noexec.html' }

/** The file mode's permission bits as a 4-digit octal string: '0666'. */
export function modeOf(fd: number): string {
  return (fstatSync(fd).mode & 0o7777).toString(8).padStart(4, '0')
}

/** F_GET_SEALS; a failure here is a setup failure, not an observation. */
export function sealsOf(ctx: Ctx, fd: number): number {
  return ctx.setup(native.fcntl(fd, C.F_GET_SEALS), 'fcntl(F_GET_SEALS)')
}

/** memfd_create's result as an observation: { ret: 0 } when it made an fd (fd numbers vary), else { errno }. */
export function created(fd: number): Observation {
  return fd >= 0 ? { ret: 0 } : outcome(fd)
}

/** vm.memfd_noexec as this process's pid namespace sees it (the effective value); null before 6.3. */
export function noexecLevel(): number | null {
  try {
    return Number(readFileSync('/proc/sys/vm/memfd_noexec', 'utf8').trim())
  } catch {
    return null
  }
}

/**
 * Creation flags whose outcome does not depend on vm.memfd_noexec: MFD_NOEXEC_SEAL where the kernel has
 * it (no flag is rejected at level 2 on 6.3–6.5), nothing before 6.3.
 */
export function quietFlags(): number {
  return kernel.features().noexecSeal ? C.MFD_NOEXEC_SEAL : 0
}

/** Writes /bin/true into fd (for the exec clauses). */
export function copyTrue(fd: number): void {
  const bytes = readFileSync('/bin/true')
  if (writeSync(fd, bytes, 0, bytes.length, 0) !== bytes.length) throw new SetupError('short write of /bin/true into the memfd')
}
