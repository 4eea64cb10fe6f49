// Seccomp canaries: each system call the conformance suite makes, called once more with one argument the
// kernel must refuse (a descriptor of -1, an unaligned address, a length of 0, a bad pointer), keeping the
// arguments a filter is likely to match on (the fcntl command, the protection, the advice, the flags).
// The kernel answers such a call with EBADF, EINVAL or EFAULT; a seccomp filter that sits in front of the
// system call answers with whatever it was written to return (ENOSYS, EPERM, or 0 without running it).
// lib/conformance/seccomp.ts compares the two. Nothing here can change state: every call is refused.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "args.h"
#include "compat.h"
#include "exports.h"

namespace memseal {
namespace {

// An address no mapping can start at: the kernel refuses it with EINVAL before it looks at anything else.
void* const kUnaligned = reinterpret_cast<void*>(1);
// A user pointer the kernel cannot read: EFAULT when it copies from it.
const char* const kBadPointer = reinterpret_cast<const char*>(1);

// Runs the canary of `name` with the scalar arguments of the original call; -ENOTSUP when there is none.
long RunCanary(const std::string& name, const std::vector<int64_t>& a) {
  auto arg = [&a](size_t i) -> int64_t { return i < a.size() ? a[i] : 0; };
  long ps = sysconf(_SC_PAGESIZE);
  char byte = 0;
  struct stat st;
  if (name == "memfd_create") return SysMemfdCreate(kBadPointer, static_cast<unsigned>(arg(0)));
  if (name == "fcntl") return SysFcntl(-1, static_cast<int>(arg(0)), static_cast<unsigned long>(arg(1)));
  if (name == "ftruncate") return Ret(ftruncate(-1, static_cast<off_t>(arg(0))));
  if (name == "truncate") return Ret(truncate(kBadPointer, static_cast<off_t>(arg(0))));
  if (name == "fallocate") {
    return Ret(fallocate(-1, static_cast<int>(arg(0)), static_cast<off_t>(arg(1)), static_cast<off_t>(arg(2))));
  }
  if (name == "pwrite64") return Ret(pwrite(-1, &byte, 1, static_cast<off_t>(arg(0))));
  if (name == "write") return Ret(write(-1, &byte, 1));
  if (name == "pread64") return Ret(pread(-1, &byte, 1, static_cast<off_t>(arg(0))));
  if (name == "read") return Ret(read(-1, &byte, 1));
  if (name == "fchmod") return Ret(fchmod(-1, static_cast<mode_t>(arg(0))));
  if (name == "fstat") return Ret(fstat(-1, &st));
  if (name == "openat") return Ret(openat(-1, "memseal-canary", static_cast<int>(arg(0)) | O_CLOEXEC, 0600));
  if (name == "mmap") {
    void* p = mmap(nullptr, 0, static_cast<int>(arg(0)), static_cast<int>(arg(1)), -1, 0);
    return p == MAP_FAILED ? -errno : 0;
  }
  if (name == "munmap") return Ret(munmap(kUnaligned, ps));
  if (name == "mprotect") return Ret(mprotect(kUnaligned, ps, static_cast<int>(arg(0))));
#ifdef __NR_pkey_mprotect
  if (name == "pkey_mprotect")
    return SysPkeyMprotect(kUnaligned, ps, static_cast<int>(arg(0)), static_cast<int>(arg(1)));
#endif
  if (name == "madvise") return Ret(madvise(kUnaligned, ps, static_cast<int>(arg(0))));
  if (name == "mseal") return SysMseal(kUnaligned, ps, static_cast<uint64_t>(arg(0)));
  if (name == "mremap") {
    void* p = mremap(kUnaligned, ps, ps, static_cast<int>(arg(0)));
    return p == MAP_FAILED ? -errno : 0;
  }
  if (name == "msync") return Ret(msync(kUnaligned, ps, static_cast<int>(arg(0))));
  if (name == "execveat") {
    char* const argv[] = {nullptr};
    return Ret(syscall(__NR_execveat, -1, "", argv, argv, AT_EMPTY_PATH));
  }
  if (name == "io_uring_setup") return Ret(syscall(__NR_io_uring_setup, 0, kBadPointer));
  if (name == "io_uring_register") return Ret(syscall(__NR_io_uring_register, -1, static_cast<unsigned>(arg(0)), 0, 0));
  if (name == "prlimit64") return Ret(syscall(SYS_prlimit64, 0, 9999, nullptr, nullptr));
  if (name == "shmget") return Ret(shmget(IPC_PRIVATE, 0, static_cast<int>(arg(0))));
  if (name == "shmat") return shmat(-1, nullptr, static_cast<int>(arg(0))) == reinterpret_cast<void*>(-1) ? -errno : 0;
  if (name == "shmdt") return Ret(shmdt(kUnaligned));
  if (name == "shmctl") return Ret(shmctl(-1, static_cast<int>(arg(0)), nullptr));
#ifdef __NR_pkey_alloc
  // An access-rights value with unknown bits: EINVAL before any key is looked at; the flags are kept.
  if (name == "pkey_alloc") return Ret(syscall(__NR_pkey_alloc, static_cast<unsigned long>(arg(0)), ~0UL));
#endif
  // brk(2) never fails with an errno: below the start of the heap it refuses by returning the current
  // break unchanged, which this canary reports as EINVAL; 0 or -errno can only come from a filter.
  if (name == "brk") {
    long r = syscall(SYS_brk, 1);
    return r > 0 ? -EINVAL : r == 0 ? 0 : -errno;
  }
  // CLONE_THREAD without CLONE_SIGHAND is always EINVAL: no process is made.
  if (name == "clone") return Ret(syscall(SYS_clone, 0x00010000 /* CLONE_THREAD */, 0, 0, 0, 0));
  if (name == "close") return Ret(close(-1));
  // pid INT_MIN names no process and no group: ESRCH, whatever the signal (kept: filters match on it).
  if (name == "kill") return Ret(kill(INT32_MIN, static_cast<int>(arg(0))));
  return -ENOTSUP;
}

// seccompCanary(name, [scalar args]) -> the canary's result (>= 0) or -errno; -ENOTSUP: no canary for it.
Napi::Value SeccompCanary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Fail(info, 0, "a system call name");
    return env.Undefined();
  }
  if (!info[1].IsArray()) {
    Fail(info, 1, "an array of numbers");
    return env.Undefined();
  }
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<int64_t> args;
  for (uint32_t i = 0; i < list.Length() && i < 6; i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) {
      Fail(info, 1, "an array of numbers");
      return env.Undefined();
    }
    args.push_back(v.As<Napi::Number>().Int64Value());
  }
  int saved = errno;
  long r = RunCanary(info[0].As<Napi::String>().Utf8Value(), args);
  errno = saved;
  return Result(env, r);
}

}  // namespace

void InitCanary(Napi::Env env, Napi::Object exports) {
  exports.Set("seccompCanary", Napi::Function::New(env, SeccompCanary, "seccompCanary"));
}

}  // namespace memseal
