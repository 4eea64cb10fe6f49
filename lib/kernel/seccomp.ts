/**
 * Whether a seccomp filter, not the kernel, answered a system call. One rule for every probe and every
 * clause: under an active filter (Seccomp: 2), the call is made once more with one argument the kernel
 * must refuse (a descriptor of -1, an unaligned address, a length of 0, a bad pointer; native/canary.cc),
 * keeping the arguments a filter matches on (the fcntl command, the protection, the advice, the flags).
 * The kernel refuses such a call with a known errno (EBADF, EINVAL, EFAULT, or ENOSYS on a kernel older
 * than the call). Any other answer (ENOSYS or EPERM from a profile, 0 from a filter that fakes success,
 * whatever errno a filter was written to return) came from a filter standing in front of the call, and so
 * did the answers the same call got with the same matched arguments. A filter that matches on the very
 * argument the canary changes is not seen; the verdict then names the active filter as a possible cause.
 */
import { errnoName } from '../errors'
import { native } from '../native'
import { compareVersions, parseVersion, type KernelVersion } from './version'

/** What the kernel answers each canary, and the version that brought the call (ENOSYS before it). */
const CANARIES: Record<string, { answers: readonly string[]; since?: string; note?: string }> = {
  // memfd_create checks its flags (EINVAL; EACCES for MFD_EXEC at vm.memfd_noexec=2) before it reads the name.
  memfd_create: { answers: ['EFAULT', 'EINVAL', 'EACCES'], since: '3.17' },
  fcntl: { answers: ['EBADF'] },
  ftruncate: { answers: ['EBADF'] },
  truncate: { answers: ['EFAULT'] },
  fallocate: { answers: ['EBADF'] },
  pwrite64: { answers: ['EBADF'] },
  write: { answers: ['EBADF'] },
  pread64: { answers: ['EBADF'] },
  read: { answers: ['EBADF'] },
  fchmod: { answers: ['EBADF'] },
  fstat: { answers: ['EBADF'] },
  openat: { answers: ['EBADF'] },
  mmap: { answers: ['EINVAL'] },
  munmap: { answers: ['EINVAL'] },
  mprotect: { answers: ['EINVAL'] },
  pkey_mprotect: { answers: ['EINVAL'], since: '4.9' },
  madvise: { answers: ['EINVAL'] },
  mseal: { answers: ['EINVAL'], since: '6.10' },
  mremap: { answers: ['EINVAL'] },
  msync: { answers: ['EINVAL'] },
  execveat: { answers: ['EBADF'], since: '3.19' },
  // kernel.io_uring_disabled makes io_uring_setup itself answer EPERM, and CONFIG_IO_URING=n ENOSYS: a
  // filter cannot be told apart from those.
  io_uring_setup: { answers: ['EFAULT', 'EINVAL', 'EPERM', 'ENOSYS'], since: '5.1' },
  io_uring_register: { answers: ['EBADF', 'ENOSYS'], since: '5.1' },
  prlimit64: { answers: ['EINVAL'] },
  shmget: { answers: ['EINVAL', 'ENOSYS'] },
  shmat: { answers: ['EINVAL', 'ENOSYS'] },
  shmdt: { answers: ['EINVAL', 'ENOSYS'] },
  shmctl: { answers: ['EINVAL', 'ENOSYS'] },
  // ENOSYS where the kernel has no protection keys at all (CONFIG_ARCH_HAS_PKEYS=n).
  pkey_alloc: { answers: ['EINVAL', 'ENOSYS'], since: '4.9' },
  // brk refuses by returning the break unchanged; the canary reports that as EINVAL (native/canary.cc).
  brk: { answers: ['EINVAL'] },
  clone: { answers: ['EINVAL'] },
  close: { answers: ['EBADF'] },
  kill: { answers: ['ESRCH'] },
}

/** Evidence that a filter answers a system call: its canary got what the kernel never answers. */
export interface FilterEvidence {
  syscall: string
  /** The matched arguments the canary kept (command, protection, advice, flags …). */
  args: number[]
  /** What the kernel answers that canary. */
  kernel: string[]
  /** What the canary got: an errno name, or 'success'. */
  got: string
}

const cache = new Map<string, FilterEvidence | null>()

/** Whether a canary exists for this system call. */
export function hasCanary(syscall: string): boolean {
  return Object.prototype.hasOwnProperty.call(CANARIES, syscall)
}

/**
 * The evidence that a filter answers `syscall` called with these matched arguments, or null when the
 * kernel answers it (or there is no canary). Call only under an active filter: canaries cost a system
 * call each (cached per process).
 */
export function filterEvidence(syscall: string, args: readonly number[], version: KernelVersion): FilterEvidence | null {
  const canary = CANARIES[syscall]
  if (!canary) return null
  const key = `${syscall}(${args.join(',')})`
  const cached = cache.get(key)
  if (cached !== undefined) return cached
  const ret = native.seccompCanary(syscall, [...args])
  const got = ret >= 0 ? 'success' : errnoName(ret)
  const kernel = [...canary.answers]
  if (canary.since && compareVersions(version, parseVersion(canary.since)) < 0) kernel.push('ENOSYS')
  const evidence = kernel.includes(got) ? null : { syscall, args: [...args], kernel, got }
  cache.set(key, evidence)
  return evidence
}

/** One sentence for people: what the canary showed. */
export function evidenceText(e: FilterEvidence): string {
  const kernel = e.kernel.length === 1 ? e.kernel[0]! : `${e.kernel.slice(0, -1).join(', ')} or ${e.kernel[e.kernel.length - 1]!}`
  return `${e.syscall} with an argument the kernel must refuse (it answers ${kernel}) got ${e.got === 'success' ? 'success (0)' : e.got}`
}
