/**
 * What the `mmap.` clauses quote, verbatim: man-pages 6.20 (F_ADD_SEALS(2const), mmap(2), mprotect(2),
 * fork(2); the F_SEAL_WRITE and F_SEAL_FUTURE_WRITE text is the same in fcntl(2) of 6.03 and 6.9.1) and the
 * kernel's code where no document says how a rule is kept.
 */
import type { Quote } from '../types'

const MAN = 'https://man7.org/linux/man-pages'
const man = (doc: string, url: string, section: string, text: string): Quote => ({ doc, version: 'man-pages 6.20', section, url: `${MAN}/${url}`, text })

export const Q = {
  writeMmap: man(
    'F_ADD_SEALS(2const)',
    'man2/F_ADD_SEALS.2const.html',
    'DESCRIPTION',
    'F_SEAL_WRITE If this seal is set, you cannot modify the contents of the file. … Furthermore, trying to create new shared, writable memory-mappings via mmap(2) will also fail with EPERM.',
  ),
  futureWrite: man(
    'F_ADD_SEALS(2const)',
    'man2/F_ADD_SEALS.2const.html',
    'DESCRIPTION',
    'F_SEAL_FUTURE_WRITE (since Linux 5.1) The effect of this seal is similar to F_SEAL_WRITE, but the contents of the file can still be modified via shared writable mappings that were created prior to the seal being set. Any attempt to create a new writable mapping on the file via mmap(2) will fail with EPERM.',
  ),
  futureUse: man(
    'F_ADD_SEALS(2const)',
    'man2/F_ADD_SEALS.2const.html',
    'DESCRIPTION',
    'Using this seal, one process can create a memory buffer that it can continue to modify while sharing that buffer on a "read-only" basis with other processes.',
  ),
  mmapEperm: man('mmap(2)', 'man2/mmap.2.html', 'ERRORS', 'EPERM The operation was prevented by a file seal; see fcntl(2).'),
  mprotectEacces: man(
    'mprotect(2)',
    'man2/mprotect.2.html',
    'ERRORS',
    'EACCES The memory cannot be given the specified access. This can happen, for example, if you mmap(2) a file to which you have read-only access, then ask mprotect() to mark it PROT_WRITE.',
  ),
  mprotect: man(
    'mprotect(2)',
    'man2/mprotect.2.html',
    'DESCRIPTION',
    "mprotect() changes the access protections for the calling process's memory pages containing any part of the address range in the interval [addr, addr+size-1].",
  ),
  private: man(
    'mmap(2)',
    'man2/mmap.2.html',
    'DESCRIPTION',
    'MAP_PRIVATE Create a private copy-on-write mapping. Updates to the mapping are not visible to other processes mapping the same file, and are not carried through to the underlying file.',
  ),
  shared: man(
    'mmap(2)',
    'man2/mmap.2.html',
    'DESCRIPTION',
    'MAP_SHARED Share this mapping. Updates to the mapping are visible to other processes mapping the same region, and (in the case of file-backed mappings) are carried through to the underlying file.',
  ),
  fork: man(
    'fork(2)',
    'man2/fork.2.html',
    'DESCRIPTION',
    'The child process and the parent process run in separate memory spaces. At the time of fork() both memory spaces have the same content. Memory writes, file mappings (mmap(2)), and unmappings (munmap(2)) performed by one of the processes do not affect the other.',
  ),
}
export const MEMFD_C = (text: string): Quote => ({ doc: 'mm/memfd.c', version: 'Linux 7.2', text })
export const CLEARS_MAYWRITE = MEMFD_C(
  '/* This is a read-only mapping, disallow mprotect() from making a write-sealed mapping writable in future. */ *vm_flags_ptr &= ~VM_MAYWRITE;',
)
