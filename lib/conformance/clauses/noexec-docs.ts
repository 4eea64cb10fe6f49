/**
 * What the `noexec.` clauses quote, verbatim, and the kernel history they share: mfd_noexec.rst (the text is
 * the same in Linux 6.12 and 7.2), the man-pages 6.20 pages, and the 6.6 rework of vm.memfd_noexec.
 */
import { C } from '../abi'
import type { KernelFacts, Observation, Quote } from '../types'
import { inRange } from '../../kernel/version'
import { unfixed } from './unfixed'

const MAN = 'https://man7.org/linux/man-pages'
const MAN_VERSION = 'man-pages 6.20'

export const noexecDoc = (section: string, text: string): Quote => ({
  doc: 'mfd_noexec.rst',
  version: 'Linux 7.2',
  section,
  url: 'https://docs.kernel.org/userspace-api/mfd_noexec.html',
  text,
})
export const addSealsDoc = (section: string, text: string): Quote => ({
  doc: 'F_ADD_SEALS(2const)',
  version: MAN_VERSION,
  section,
  url: `${MAN}/man2/F_ADD_SEALS.2const.html`,
  text,
})
export const manDoc = (page: string, section: string, text: string): Quote => {
  const [name, chapter] = page.replace(')', '').split('(') as [string, string]
  return { doc: page, version: MAN_VERSION, section, url: `${MAN}/man${chapter}/${name}.${chapter}.html`, text }
}

/** mfd_noexec.rst, by section. */
export const NOEXEC = {
  noexecSeal: noexecDoc(
    'User API',
    "MFD_NOEXEC_SEAL When MFD_NOEXEC_SEAL bit is set in the flags, memfd is created with NX. F_SEAL_EXEC is set and the memfd can't be modified to add X later. MFD_ALLOW_SEALING is also implied.",
  ),
  common: noexecDoc('User API', 'This is the most common case for the application to use memfd.'),
  mfdExec: noexecDoc('User API', 'MFD_EXEC When MFD_EXEC bit is set in the flags, memfd is created with X.'),
  impliesSealing: noexecDoc(
    'User API',
    "Note: MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING. In case that an app doesn't want sealing, it can add F_SEAL_SEAL after creation.",
  ),
  runc: noexecDoc(
    'Introduction of non-executable mfd',
    'On the other hand, executable memfd has its legit use: runc uses memfd’s seal and executable feature to copy the contents of the binary then execute them.',
  ),
  values: noexecDoc('Sysctl', 'The new pid namespaced sysctl vm.memfd_noexec has 3 values:'),
  level0: noexecDoc('Sysctl', '0: MEMFD_NOEXEC_SCOPE_EXEC memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL acts like MFD_EXEC was set.'),
  level1: noexecDoc('Sysctl', '1: MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL acts like MFD_NOEXEC_SEAL was set.'),
  level2: noexecDoc('Sysctl', '2: MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED memfd_create() without MFD_NOEXEC_SEAL will be rejected.'),
  finer: noexecDoc(
    'Sysctl',
    "The sysctl allows finer control of memfd_create for old software that doesn't set the executable bit; for example, a container with vm.memfd_noexec=1 means the old software will create non-executable memfd by default while new software can create executable memfd by setting MFD_EXEC.",
  ),
  inherited: noexecDoc('Sysctl', 'The value of vm.memfd_noexec is passed to child namespace at creation time.'),
  hierarchy: noexecDoc(
    'Sysctl',
    'In addition, the setting is hierarchical, i.e. during memfd_create, we will search from current ns to root ns and use the most restrictive setting.',
  ),
}

/** man-pages 6.20: F_ADD_SEALS(2const) and memfd_create(2). */
export const MAN_TEXT = {
  sealExec: addSealsDoc(
    'DESCRIPTION',
    'F_SEAL_EXEC (since Linux 6.3) If this seal is set, the execute mode bits of the file cannot be modified. Attempting to change the execute mode bits via fchmod(2) or similar will fail with EPERM. This results in a memfd that is either permanently executable or permanently not executable.',
  ),
  implied: addSealsDoc(
    'DESCRIPTION',
    'Adding this seal implicitly adds F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE, and F_SEAL_FUTURE_WRITE. This ensures that the executable code is not writeable. All the pre-requisites to add the implied seals must be met to successfully add F_SEAL_EXEC.',
  ),
  writeBusy: addSealsDoc(
    'DESCRIPTION',
    'Using the F_ADD_SEALS operation to set the F_SEAL_WRITE seal fails with EBUSY if any writable, shared mapping exists.',
  ),
  sealWrite: addSealsDoc(
    'DESCRIPTION',
    'F_SEAL_WRITE If this seal is set, you cannot modify the contents of the file. … This seal affects write(2) and fallocate(2) (only in combination with the FALLOC_FL_PUNCH_HOLE flag). Those calls fail with EPERM if this seal is set.',
  ),
  unknownSeal: addSealsDoc('ERRORS', 'EINVAL op is F_ADD_SEALS and arg includes an unrecognized sealing bit.'),
  allowSealing: manDoc(
    'memfd_create(2)',
    'DESCRIPTION',
    'MFD_ALLOW_SEALING Allow sealing operations on this file. … The initial set of seals is empty. If this flag is not set, the initial set of seals will be F_SEAL_SEAL, meaning that no other seals can be set on the file.',
  ),
  unknownFlag: manDoc('memfd_create(2)', 'ERRORS', 'EINVAL flags included unknown bits.'),
}

/** The man pages' silence on MFD_EXEC, MFD_NOEXEC_SEAL and vm.memfd_noexec, for the notes and divergences. */
export const MAN_SILENT = 'memfd_create(2) (man-pages 6.03, 6.9.1 and 6.20 alike) names neither MFD_EXEC, MFD_NOEXEC_SEAL nor vm.memfd_noexec'

// ── the 6.6 rework of vm.memfd_noexec (stable 6.4.16 and 6.5.3) ─────────────────────────────────────

/** Kernels before the 6.6 fixes: the 6.3 ratchet, level 2 checked only calls without a flag (EINVAL). */
export const PRE_66 = unfixed({ since: '6.3', mainline: '6.6', stable: { '6.4': '6.4.16', '6.5': '6.5.3' } })
export const REF_ENFORCED =
  'Jeff Xu, "mm/memfd: sysctl: fix MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED"; 202e14222fad "memfd: do not -EACCES old memfd_create() users with vm.memfd_noexec=2" (6.6; stable 6.4.16, 6.5.3)'
export const REF_HIERARCHY = '9876cfe8ec1c "memfd: replace ratcheting feature from vm.memfd_noexec with hierarchy" (6.6; stable 6.4.16, 6.5.3)'

/**
 * MFD_EXEC at level 2: mfd_noexec.rst says "rejected" and gives no errno; the kernel's is EACCES
 * (check_sysctl_memfd_noexec(), since the 6.6 rework: before it MFD_EXEC was let through).
 */
export const EXEC_REJECTED: Observation = { errno: 'EACCES' }
/**
 * A call without an exec flag at level 2: mfd_noexec.rst says "rejected" and gives no errno, so the errno is
 * the kernel's of the era: EINVAL before the 6.6 rework (which rejected these calls), EACCES since (its
 * level check's only errno, though it no longer rejects these calls: the recorded difference).
 */
export function noflagRejected(k: KernelFacts): Observation {
  return { errno: inRange(k.version, PRE_66) ? 'EINVAL' : 'EACCES' }
}

/** The level of vm.memfd_noexec where memseal runs (null before 6.3): the level its namespaces start at. */
export function levelOf(k: KernelFacts): number {
  return k.environment.memfdNoexec ?? 0
}

/**
 * The seals of a memfd made with MFD_ALLOW_SEALING and no exec flag here: none at level 0, F_SEAL_EXEC at
 * levels 1 and 2 ("acts like MFD_NOEXEC_SEAL was set"; at 2 since 6.6, where such a call is not rejected).
 */
export function sealableSeals(k: KernelFacts): number {
  return levelOf(k) >= 1 ? C.F_SEAL_EXEC : 0
}

/** The write seals F_SEAL_EXEC implies on an executable file (mm/memfd.c memfd_add_seals()), and F_SEAL_EXEC. */
export const SEALS_WX = C.F_SEAL_SHRINK | C.F_SEAL_GROW | C.F_SEAL_WRITE | C.F_SEAL_FUTURE_WRITE | C.F_SEAL_EXEC

// ── F_SEAL_EXEC on hugetlbfs ────────────────────────────────────────────────────────────────────────

/** hugetlbfs never checks F_SEAL_EXEC when the mode changes: the check is shmem's alone. */
export const HUGETLB_EXEC_SEAL_IGNORED = {
  behaviour:
    'On a hugetlbfs memfd fchmod changes the execute bits whatever F_SEAL_EXEC says: hugetlbfs_setattr() checks F_SEAL_SHRINK and F_SEAL_GROW but not F_SEAL_EXEC, whose check is in shmem_setattr() alone. memfd_test.c\'s own hugetlbfs run stops there ("fchmod(/memfd:kern_memfd_seal_exec (deleted), 00777) didn\'t fail as expected").',
  ref: 'fs/hugetlbfs/inode.c hugetlbfs_setattr() (Linux 7.2) against mm/shmem.c shmem_setattr() "if ((info->seals & F_SEAL_EXEC) && (attr->ia_valid & ATTR_MODE))"',
}
export const HUGETLB_EXEC_SEAL_DIVERGENCE = {
  doc: 'F_ADD_SEALS(2const) (man-pages 6.20): "F_SEAL_EXEC (since Linux 6.3) If this seal is set, the execute mode bits of the file cannot be modified. Attempting to change the execute mode bits via fchmod(2) or similar will fail with EPERM." mfd_noexec.rst: "the memfd can\'t be modified to add X later". Neither excepts hugetlbfs memfds.',
  kernel:
    "fs/hugetlbfs/inode.c hugetlbfs_setattr() (6.3 to 7.2) has no F_SEAL_EXEC check (mm/shmem.c shmem_setattr() has it): on a MFD_HUGETLB memfd, F_SEAL_EXEC is set and reported by F_GET_SEALS, but fchmod adds or removes execute bits all the same. The kernel's memfd_test.c hugetlbfs run fails on it.",
}
