// Fallback constants and raw syscall wrappers for what older glibc or kernel headers lack.
// Kept in one header, as LTP's include/lapi/memfd.h does, so every other file can assume them.
#ifndef MEMSEAL_COMPAT_H_
#define MEMSEAL_COMPAT_H_

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>

// memfd_create(2) flags (include/uapi/linux/memfd.h).
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_NOEXEC_SEAL  // Linux 6.3
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC  // Linux 6.3
#define MFD_EXEC 0x0010U
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGE_MASK
#define MFD_HUGE_MASK 0x3fU
#endif

// fcntl(2) seals (include/uapi/linux/fcntl.h).
#ifndef F_LINUX_SPECIFIC_BASE
#define F_LINUX_SPECIFIC_BASE 1024
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS (F_LINUX_SPECIFIC_BASE + 9)
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS (F_LINUX_SPECIFIC_BASE + 10)
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#endif
#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif
#ifndef F_SEAL_GROW
#define F_SEAL_GROW 0x0004
#endif
#ifndef F_SEAL_WRITE
#define F_SEAL_WRITE 0x0008
#endif
#ifndef F_SEAL_FUTURE_WRITE  // Linux 5.1
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC  // Linux 6.3
#define F_SEAL_EXEC 0x0020
#endif

// mmap(2) / mremap(2) flags newer than some libcs.
#ifndef MAP_FIXED_NOREPLACE  // Linux 4.17
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef MREMAP_DONTUNMAP  // Linux 5.7
#define MREMAP_DONTUNMAP 4
#endif

// madvise(2) advice values that differ in age; the numbers are the same on x86-64 and arm64.
#ifndef MADV_FREE  // Linux 4.5
#define MADV_FREE 8
#endif
#ifndef MADV_WIPEONFORK  // Linux 4.14
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_KEEPONFORK
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_COLD  // Linux 5.4
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ  // Linux 5.14
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_DONTNEED_LOCKED  // Linux 5.18
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_COLLAPSE  // Linux 6.1
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_GUARD_INSTALL  // Linux 6.13
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

// mseal(2), Linux 6.10: glibc has no wrapper yet. The number is 462 on every architecture,
// including the i386 compat table, because it was allocated after the syscall tables were unified.
#ifndef __NR_mseal
#define __NR_mseal 462
#endif
// pkey_mprotect(2) arrived in glibc 2.27; call it raw so older libcs build too.
#ifndef __NR_pkey_mprotect
#if defined(__x86_64__)
#define __NR_pkey_mprotect 329
#elif defined(__aarch64__)
#define __NR_pkey_mprotect 288
#endif
#endif
// pkey_alloc(2), for the protection-key clauses and their seccomp canary.
#ifndef __NR_pkey_alloc
#if defined(__x86_64__)
#define __NR_pkey_alloc 330
#elif defined(__aarch64__)
#define __NR_pkey_alloc 289
#endif
#endif
#ifndef MAP_32BIT  // x86-64: a mapping in the first 2 GiB, where an i386 system call can name it
#define MAP_32BIT 0x40
#endif
#ifndef __NR_memfd_create
#if defined(__x86_64__)
#define __NR_memfd_create 319
#elif defined(__aarch64__)
#define __NR_memfd_create 279
#endif
#endif
#ifndef __NR_execveat
#if defined(__x86_64__)
#define __NR_execveat 322
#elif defined(__aarch64__)
#define __NR_execveat 281
#endif
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

namespace memseal {

// Every wrapper returns the raw result or -errno, never -1 with errno set: callers pass it straight on.
inline long Ret(long r) {
  return r < 0 ? -errno : r;
}

inline long SysMemfdCreate(const char* name, unsigned int flags) {
  return Ret(syscall(__NR_memfd_create, name, flags));
}
inline long SysMseal(void* addr, size_t len, unsigned long flags) {
  return Ret(syscall(__NR_mseal, addr, len, flags));
}
// fcntl through syscall(2) so the full 64-bit argument reaches the kernel (glibc's wrapper takes an int
// for F_ADD_SEALS on some versions, which would hide the upper-32-bit behaviour the suite checks).
inline long SysFcntl(int fd, int cmd, unsigned long arg) {
  return Ret(syscall(SYS_fcntl, fd, cmd, arg));
}
// F_GET_SEALS for Memfd#sealBits, the hottest call: the system call instruction made right here instead
// of in libc's syscall(). On this path every return after the kernel entry mispredicts (the kernel's own
// calls leave the return predictor pointing elsewhere), so one frame fewer between the kernel and
// JavaScript is ~10 ns of a ~290 ns call (bench/README.md). The kernel returns -errno itself.
inline long SysGetSeals(int fd) {
#if defined(__x86_64__)
  long r;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "0"(static_cast<long>(SYS_fcntl)), "D"(static_cast<long>(fd)), "S"(static_cast<long>(F_GET_SEALS))
                   : "rcx", "r11", "memory");
  return r;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = SYS_fcntl;
  register long x0 __asm__("x0") = fd;
  register long x1 __asm__("x1") = F_GET_SEALS;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
  return x0;
#else
  return SysFcntl(fd, F_GET_SEALS, 0);
#endif
}
// fallocate(2) on hugetlbfs gives up with EINTR whenever a signal is pending (hugetlbfs_fallocate checks
// signal_pending() between pages), and it is not restarted by SA_RESTART. Node's own SIGCHLD and
// profiling signals arrive at any time, so a transient EINTR would read as the kernel's answer. The
// call is idempotent (pages already allocated stay), so it is repeated; a bound keeps a filter that
// answers EINTR every time (seccomp fault injection) from looping forever: that EINTR is reported.
inline long SysFallocate(int fd, int mode, off_t offset, off_t length) {
  long r = -EINTR;
  for (int attempt = 0; attempt < 64 && r == -EINTR; attempt++) r = Ret(fallocate(fd, mode, offset, length));
  return r;
}
#ifdef __NR_pkey_mprotect
inline long SysPkeyMprotect(void* addr, size_t len, int prot, int pkey) {
  return Ret(syscall(__NR_pkey_mprotect, addr, len, prot, pkey));
}
#endif

}  // namespace memseal

#endif  // MEMSEAL_COMPAT_H_
