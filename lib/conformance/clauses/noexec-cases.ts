/**
 * The memfds the vm.memfd_noexec level clauses make at each level, shared by the clauses (noexec-sysctl.ts)
 * and the script that makes them in a private pid namespace (noexec-scripts.ts): memfd_test.c's
 * test_sysctl_sysctl0/1/2 ("dfl", "exec", "noexec"), plus a call without any flag.
 */
import { C } from '../abi'

export interface CreateCase {
  slug: 'allow-sealing' | 'no-flags' | 'mfd-exec' | 'mfd-noexec-seal'
  /** The flags of memfd_create (MFD_CLOEXEC is added). */
  flags: number
}

export const CREATE_CASES: readonly CreateCase[] = [
  { slug: 'allow-sealing', flags: C.MFD_ALLOW_SEALING },
  { slug: 'no-flags', flags: 0 },
  { slug: 'mfd-exec', flags: C.MFD_EXEC | C.MFD_ALLOW_SEALING },
  { slug: 'mfd-noexec-seal', flags: C.MFD_NOEXEC_SEAL | C.MFD_ALLOW_SEALING },
]

export type Fs = 'shmem' | 'hugetlbfs'
export const FILESYSTEMS: readonly Fs[] = ['shmem', 'hugetlbfs']

/** The key of one memfd of the level script's report: '1.hugetlbfs.mfd-exec'. */
export function caseKey(level: number, fs: Fs, slug: CreateCase['slug']): string {
  return `${level}.${fs}.${slug}`
}

/**
 * The fchmod each new memfd gets (memfd_test.c mfd_assert_chmod / mfd_fail_chmod): an executable one loses
 * its execute bits (0644), a non-executable one is asked for them (0777); F_SEAL_EXEC refuses either.
 */
export function chmodTarget(mode: string): number {
  return (parseInt(mode, 8) & 0o111) !== 0 ? 0o644 : 0o777
}

export const TEXT_LEVEL2_EXEC = 'memfd_create() requires MFD_NOEXEC_SEAL with vm.memfd_noexec=2'
