/**
 * The documentation the `seal.` clauses quote, verbatim, with the version it was read in (line breaks and
 * the renderer's hyphenation aside). F_ADD_SEALS(2const) of man-pages 6.20 is the current text; man-pages
 * before 6.10 kept the same words in fcntl(2) "File Sealing", and before F_SEAL_EXEC (Linux 6.3) their
 * list of seals ended at F_SEAL_FUTURE_WRITE: the clauses whose verdict depends on that quote the
 * document of the kernel's era (man-pages 6.03 for kernels before 6.3).
 */
import type { Quote } from '../types'

const MAN = 'https://man7.org/linux/man-pages/man2'
export const MAN_NOW = 'man-pages 6.20'
export const MAN_BEFORE_SEAL_EXEC = 'man-pages 6.03'

/** F_ADD_SEALS(2const), man-pages 6.20. */
export function seals(section: string, text: string): Quote {
  return { doc: 'F_ADD_SEALS(2const)', version: MAN_NOW, section, url: `${MAN}/F_ADD_SEALS.2const.html`, text }
}

/** fcntl(2) "File Sealing" as man-pages 6.03 had it: the document of kernels before F_SEAL_EXEC (6.3). */
export function oldFcntl(section: string, text: string): Quote {
  return { doc: 'fcntl(2)', version: MAN_BEFORE_SEAL_EXEC, section, url: `${MAN}/fcntl.2.html`, text }
}

/** Another page of man-pages 6.20 ('write', 'truncate', 'open', 'fallocate', 'memfd_create'). */
export function man(page: string, section: string, text: string): Quote {
  return { doc: `${page}(2)`, version: MAN_NOW, section, url: `${MAN}/${page}.2.html`, text }
}

/** F_ADD_SEALS(2const) 6.20, sentence by sentence. */
export const SEALS = {
  sealed:
    'File seals limit the set of allowed operations on a given file. For each seal that is set on a file, a specific set of operations will fail with EPERM on this file from now on. The file is said to be sealed. The default set of seals depends on the type of the underlying file and filesystem.',
  otherFs:
    'Currently, file seals can be applied only to a file descriptor returned by memfd_create(2) (if the MFD_ALLOW_SEALING was employed). On other filesystems, all fcntl() operations that operate on seals will return EINVAL.',
  inode:
    'Seals are a property of an inode. Thus, all open file descriptors referring to the same inode share the same set of seals. Furthermore, seals can never be removed, only added.',
  add: 'F_ADD_SEALS Add the seals given in the bit-mask argument arg to the set of seals of the inode referred to by the file descriptor fd. Seals cannot be removed again. Once this call succeeds, the seals are enforced by the kernel immediately. If the current set of seals includes F_SEAL_SEAL (see below), then this call will be rejected with EPERM. Adding a seal that is already set is a no-op, in case F_SEAL_SEAL is not set already. In order to place a seal, the file descriptor fd must be writable.',
  noop: 'Adding a seal that is already set is a no-op, in case F_SEAL_SEAL is not set already.',
  writable: 'In order to place a seal, the file descriptor fd must be writable.',
  get: 'F_GET_SEALS Return (as the function result) the current set of seals of the inode referred to by fd. If no seals are set, 0 is returned. If the file does not support sealing, -1 is returned and errno is set to EINVAL.',
  sealSeal:
    'F_SEAL_SEAL If this seal is set, any further call to fcntl() with F_ADD_SEALS fails with the error EPERM. Therefore, this seal prevents any modifications to the set of seals itself. If the initial set of seals of a file includes F_SEAL_SEAL, then this effectively causes the set of seals to be constant and locked.',
  shrink:
    'F_SEAL_SHRINK If this seal is set, the file in question cannot be reduced in size. This affects open(2) with the O_TRUNC flag as well as truncate(2) and ftruncate(2). Those calls fail with EPERM if you try to shrink the file in question. Increasing the file size is still possible.',
  grow: 'F_SEAL_GROW If this seal is set, the size of the file in question cannot be increased. This affects write(2) beyond the end of the file, truncate(2), ftruncate(2), and fallocate(2). These calls fail with EPERM if you use them to increase the file size. If you keep the size or shrink it, those calls still work as expected.',
  write:
    'F_SEAL_WRITE If this seal is set, you cannot modify the contents of the file. Note that shrinking or growing the size of the file is still possible and allowed. Thus, this seal is normally used in combination with one of the other seals. This seal affects write(2) and fallocate(2) (only in combination with the FALLOC_FL_PUNCH_HOLE flag). Those calls fail with EPERM if this seal is set.',
  ebusy:
    'Using the F_ADD_SEALS operation to set the F_SEAL_WRITE seal fails with EBUSY if any writable, shared mapping exists. Such mappings must be unmapped before you can add this seal.',
  aio: 'Furthermore, if there are any asynchronous I/O operations (io_submit(2)) pending on the file, all outstanding writes will be discarded.',
  futureWrite:
    'F_SEAL_FUTURE_WRITE (since Linux 5.1) The effect of this seal is similar to F_SEAL_WRITE, but the contents of the file can still be modified via shared writable mappings that were created prior to the seal being set. Any attempt to create a new writable mapping on the file via mmap(2) will fail with EPERM. Likewise, an attempt to write to the file via write(2) will fail with EPERM.',
  exec: 'F_SEAL_EXEC (since Linux 6.3) If this seal is set, the execute mode bits of the file cannot be modified. … Adding this seal implicitly adds F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE, and F_SEAL_FUTURE_WRITE.',
  synopsis: 'int fcntl(int fd, F_ADD_SEALS, int arg);',
  returnAdd: 'F_ADD_SEALS Zero.',
  eBusy: 'EBUSY op is F_ADD_SEALS, arg includes F_SEAL_WRITE, and there exists a writable, shared mapping on the file referred to by fd.',
  eUnknownBit: 'EINVAL op is F_ADD_SEALS and arg includes an unrecognized sealing bit.',
  eNoSealing: 'EINVAL The filesystem containing the inode referred to by fd does not support sealing.',
  ePerm: 'EPERM op was F_ADD_SEALS, but fd was not open for writing or the current set of seals on the file already includes F_SEAL_SEAL.',
}

/** fcntl(2) of man-pages 6.03: the seals a kernel before 6.3 knows, and its unknown-bit error. */
export const OLD_FCNTL = {
  seals: 'The following seals are available: F_SEAL_SEAL … F_SEAL_SHRINK … F_SEAL_GROW … F_SEAL_WRITE … F_SEAL_FUTURE_WRITE (since Linux 5.1)',
  eUnknownBit: 'EINVAL cmd is F_ADD_SEALS and arg includes an unrecognized sealing bit.',
}

/** "EPERM The operation was prevented by a file seal; see fcntl(2)." in write(2), truncate(2), open(2), fallocate(2). */
export const EPERM_SEAL = 'EPERM The operation was prevented by a file seal; see fcntl(2).'

/** write(2), man-pages 6.20. */
export const WRITE = {
  returned: 'On success, the number of bytes written is returned.',
  partial:
    'Note that a successful write() may transfer fewer than count bytes. … In the event of a partial write, the caller can make another write() call to transfer the remaining bytes. The subsequent call will either transfer further bytes or may result in an error (e.g., if the disk is now full).',
  unsuitable: 'EINVAL fd is attached to an object which is unsuitable for writing; or the file was opened with the O_DIRECT flag, …',
}

export const TRUNCATE = {
  truncates:
    'The truncate() and ftruncate() functions cause the regular file named by path or referenced by fd to be truncated to a size of precisely length bytes.',
  extends: "If the file previously was shorter, it is extended, and the extended part reads as null bytes ('\\0').",
}

export const OPEN_TRUNC =
  'O_TRUNC If the file already exists and is a regular file and the access mode allows writing (i.e., is O_RDWR or O_WRONLY) it will be truncated to length 0.'

export const FALLOCATE = {
  allocates:
    'The default operation (i.e., mode is zero) of fallocate() allocates the disk space within the range specified by offset and size. The file size (as reported by stat(2)) will be changed if offset+size is greater than the file size.',
  keepSize:
    'If the FALLOC_FL_KEEP_SIZE flag is specified in mode, the behavior of the call is similar, but the file size will not be changed even if offset+size is greater than the file size.',
  punch:
    'Specifying the FALLOC_FL_PUNCH_HOLE flag (available since Linux 2.6.38) in mode deallocates space (i.e., creates a hole) in the byte range starting at offset and continuing for size bytes. Within the specified range, partial filesystem blocks are zeroed, and whole filesystem blocks are removed from the file. After a successful call, subsequent reads from this range will return zeros.',
}
