/**
 * The documentation the `memfd.` clauses quote, verbatim, with the version it was read in: memfd_create(2)
 * of man-pages 6.20 and mfd_noexec.rst of Linux 7.2 (the same text since 6.12), plus what the level of
 * vm.memfd_noexec means for a memfd made without MFD_EXEC or MFD_NOEXEC_SEAL.
 */
import { C } from '../abi'
import { noflagRejected, REF_ENFORCED } from './noexec-docs'
import type { KernelFacts, KnownBehaviour, Observation, Quote } from '../types'
import { MAN_NOW } from './seal-docs'

const MAN = 'https://man7.org/linux/man-pages'

/** memfd_create(2), man-pages 6.20. */
export function memfdCreate(section: string, text: string): Quote {
  return { doc: 'memfd_create(2)', version: MAN_NOW, section, url: `${MAN}/man2/memfd_create.2.html`, text }
}

/** mfd_noexec.rst of Linux 7.2 (unchanged since 6.12). */
export function noexecDoc(section: string, text: string): Quote {
  return { doc: 'mfd_noexec.rst', version: 'Linux 7.2', section, url: 'https://docs.kernel.org/userspace-api/mfd_noexec.html', text }
}

export const MEMFD = {
  unusedBits: 'Unused bits in flags must be 0.',
  eUnknownBits: 'EINVAL flags included unknown bits.',
  flags: 'The following values may be bitwise ORed in flags to change the behavior of memfd_create():',
  eNameTooLong: 'EINVAL name was too long. (The limit is 249 bytes, excluding the terminating null byte.)',
  eFault: 'EFAULT The address in name points to invalid memory.',
  link: 'The name supplied in name is used as a filename and will be displayed as the target of the corresponding symbolic link in the directory /proc/self/fd/. The displayed name is always prefixed with memfd: and serves only for debugging purposes.',
  sameName: 'Names do not affect the behavior of the file descriptor, and as such multiple files can have the same name without any side effects.',
  example: '$ readlink /proc/11775/fd/3; /memfd:my_memfd_file (deleted)',
  cloexec: 'MFD_CLOEXEC Set the close-on-exec (FD_CLOEXEC) flag on the new file descriptor.',
  execve:
    'With respect to fork(2) and execve(2), the usual semantics apply for the file descriptor created by memfd_create(). A copy of the file descriptor is inherited by the child produced by fork(2) and refers to the same file. The file descriptor is preserved across execve(2), unless the close-on-exec flag has been set.',
  rdwr: 'This file descriptor is opened for both reading and writing (O_RDWR) and O_LARGEFILE is set for the file descriptor.',
  size: 'The initial size of the file is set to 0.',
  allowSealing:
    'MFD_ALLOW_SEALING Allow sealing operations on this file. See the discussion of the F_ADD_SEALS and F_GET_SEALS operations in fcntl(2), and also NOTES, below. The initial set of seals is empty. If this flag is not set, the initial set of seals will be F_SEAL_SEAL, meaning that no other seals can be set on the file.',
  hugetlb:
    'MFD_HUGETLB (since Linux 4.14) The anonymous file will be created in the hugetlbfs filesystem using huge pages. See the Linux kernel source file Documentation/admin-guide/mm/hugetlbpage.rst for more information about hugetlbfs. Specifying both MFD_HUGETLB and MFD_ALLOW_SEALING in flags is supported since Linux 4.16.',
  hugeSizes:
    'MFD_HUGE_2MB MFD_HUGE_1GB ... Used in conjunction with MFD_HUGETLB to select alternative hugetlb page sizes (respectively, 2 MB, 1 GB, ...) on systems that support multiple hugetlb page sizes. Definitions for known huge page sizes are included in the header file <linux/memfd.h>.',
  eHugetlbSealing: 'EINVAL Both MFD_HUGETLB and MFD_ALLOW_SEALING were specified in flags.',
  eMfile: 'EMFILE The per-process limit on the number of open file descriptors has been reached.',
  ePermHugetlb:
    'EPERM The MFD_HUGETLB flag was specified, but the caller was not privileged (did not have the CAP_IPC_LOCK capability) and is not a member of the hugetlb_shm_group group; see the description of /proc/sys/vm/hugetlb_shm_group in proc_sys_vm(5).',
  tmpfs: '(1) The first process creates a tmpfs(5) file using memfd_create(). The call yields a file descriptor used in subsequent steps.',
}

export const NOEXEC = {
  always:
    "Since Linux introduced the memfd feature, memfds have always had their execute bit set, and the memfd_create() syscall doesn't allow setting it differently.",
  noexecSeal:
    "MFD_NOEXEC_SEAL When MFD_NOEXEC_SEAL bit is set in the flags, memfd is created with NX. F_SEAL_EXEC is set and the memfd can't be modified to add X later. MFD_ALLOW_SEALING is also implied.",
  level0: '0: MEMFD_NOEXEC_SCOPE_EXEC memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL acts like MFD_EXEC was set.',
  level1: '1: MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL memfd_create() without MFD_EXEC nor MFD_NOEXEC_SEAL acts like MFD_NOEXEC_SEAL was set.',
  level2: '2: MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED memfd_create() without MFD_NOEXEC_SEAL will be rejected.',
}

/**
 * Kernels where vm.memfd_noexec=2 turns a call without MFD_EXEC or MFD_NOEXEC_SEAL into MFD_NOEXEC_SEAL
 * instead of rejecting it: the 6.6 rework (mainline 6.6; stable 6.4.16 and 6.5.3), as the noexec clauses
 * record it.
 */
export const LEVEL2_NOFLAG_ACCEPTED = '>=6.4.16 <6.5 || >=6.5.3'

/** The level of vm.memfd_noexec in this pid namespace; null where the sysctl does not exist (before 6.3). */
export function levelOf(k: KernelFacts): number | null {
  return k.environment.memfdNoexec
}

/** The seals every memfd made without MFD_EXEC starts with here: F_SEAL_EXEC where the level makes it MFD_NOEXEC_SEAL. */
export function levelSeals(k: KernelFacts): number {
  return (k.environment.memfdNoexec ?? 0) >= 1 ? C.F_SEAL_EXEC : 0
}

/**
 * What a call with neither MFD_EXEC nor MFD_NOEXEC_SEAL gives at this level (mfd_noexec.rst): at 0 (or
 * before the sysctl) `atZero`, at 1 `asNoexecSeal`, at 2 a refusal. The document gives no errno for the
 * refusal, so the errno is the kernel's of the era, the one the noexec clauses expect (noflagRejected):
 * EINVAL before the 6.6 rework (which rejected these calls), EACCES since (its level check's only errno,
 * though since then it no longer rejects these calls: the recorded difference, level2History). The
 * observation carries the level.
 */
export function byLevel(atZero: Observation, asNoexecSeal: Observation): (k: KernelFacts) => Observation {
  return (k): Observation => {
    const level = k.environment.memfdNoexec
    if (level === null || level === 0) return { level, ...atZero }
    if (level === 1) return { level, ...asNoexecSeal }
    return { level, ...noflagRejected(k) }
  }
}

/** Since 6.6 (6.4.16 and 6.5.3 in the stable trees) level 2 accepts a call without exec flags as MFD_NOEXEC_SEAL. */
export function level2History(asNoexecSeal: Observation): KnownBehaviour[] {
  return [
    {
      range: LEVEL2_NOFLAG_ACCEPTED,
      observed: { level: 2, ...asNoexecSeal },
      behaviour:
        'At vm.memfd_noexec=2 a call without MFD_EXEC or MFD_NOEXEC_SEAL is not rejected: it is treated as MFD_NOEXEC_SEAL (mode 0666, F_SEAL_EXEC); only MFD_EXEC is refused.',
      ref: REF_ENFORCED,
    },
  ]
}
