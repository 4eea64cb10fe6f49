// The raw mapping surface used by the conformance suite in its child processes: MAP_FIXED, partial
// munmap, mremap moves, pkey_mprotect, mseal at absolute addresses, /proc/self/mem writes, long-term page
// pins and the VMA flags from /proc/self/smaps. Addresses stay in C++: JavaScript passes a region and an
// offset, and gets offsets back. Raw regions are never unmapped by a finalizer: the suite owns them.
#include "raw.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "args.h"
#include "compat.h"
#include "exports.h"
#include "region.h"

namespace memseal {
namespace {

// The pathname column of a /proc/self/maps line that starts at `at`, without the trailing newline/spaces.
std::string MapsName(const char* line, int at) {
  std::string name = at > 0 ? std::string(line + at) : std::string();
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  return name;
}

Napi::Value NewRaw(Napi::Env env, uint8_t* base, size_t length) {
  return Napi::External<RawRegion>::New(env, new RawRegion{base, length}, [](Napi::Env, RawRegion* r) { delete r; });
}

// The address at region + offset (the offset may be negative or past the end: the kernel decides).
bool AddrArg(const Napi::CallbackInfo& info, size_t i, uint8_t** addr) {
  uint8_t* base;
  size_t length;
  int64_t offset;
  if (!TargetOf(info, i, &base, &length) || !ArgI64(info, i + 1, &offset)) return false;
  *addr = base + offset;
  return true;
}

// rawMmap(length, prot, flags, fd, offset[, hint, hintOffset]) -> External | -errno
Napi::Value RawMmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length, offset;
  int prot, flags, fd;
  if (!ArgU64(info, 0, &length) || !ArgInt(info, 1, &prot) || !ArgInt(info, 2, &flags) || !ArgInt(info, 3, &fd) ||
      !ArgU64(info, 4, &offset)) {
    return env.Undefined();
  }
  uint8_t* hint = nullptr;
  if (info.Length() > 5 && !info[5].IsUndefined() && !info[5].IsNull() && !AddrArg(info, 5, &hint)) {
    return env.Undefined();
  }
  void* p = mmap(hint, length, prot, flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return Result(env, -errno);
  return NewRaw(env, static_cast<uint8_t*>(p), length);
}

// Shared shape of rawMunmap / rawMprotect / rawMadvise / rawMseal / rawMlock: (region, offset, length, arg)
template <long (*Op)(uint8_t*, uint64_t, uint64_t)>
Napi::Value RangeOp(const Napi::CallbackInfo& info) {
  uint8_t* addr;
  uint64_t length, arg = 0;
  if (!AddrArg(info, 0, &addr) || !ArgU64(info, 2, &length)) return info.Env().Undefined();
  if (info.Length() > 3 && !info[3].IsUndefined() && !ArgU64(info, 3, &arg)) return info.Env().Undefined();
  return Result(info.Env(), Op(addr, length, arg));
}

long OpMunmap(uint8_t* a, uint64_t l, uint64_t) {
  return munmap(a, l) == 0 ? 0 : -errno;
}
long OpMprotect(uint8_t* a, uint64_t l, uint64_t p) {
  return mprotect(a, l, static_cast<int>(p)) == 0 ? 0 : -errno;
}
long OpMadvise(uint8_t* a, uint64_t l, uint64_t v) {
  return madvise(a, l, static_cast<int>(v)) == 0 ? 0 : -errno;
}
long OpMseal(uint8_t* a, uint64_t l, uint64_t f) {
  return SysMseal(a, l, f);
}
// Through syscall(2), not mlock(3): the sanitizer runtimes interpose mlock(3) as a no-op that returns 0
// (sanitizer_common's MlockIsUnsupported), and so could any preloaded library; the clause asks the kernel.
long OpMlock(uint8_t* a, uint64_t l, uint64_t) {
  return Ret(syscall(SYS_mlock, a, l));
}

// rawPkeyMprotect(region, offset, length, prot, pkey) -> 0 | -errno
Napi::Value RawPkeyMprotect(const Napi::CallbackInfo& info) {
  uint8_t* addr;
  uint64_t length;
  int prot, pkey;
  if (!AddrArg(info, 0, &addr) || !ArgU64(info, 2, &length) || !ArgInt(info, 3, &prot) || !ArgInt(info, 4, &pkey)) {
    return info.Env().Undefined();
  }
#ifdef __NR_pkey_mprotect
  return Result(info.Env(), SysPkeyMprotect(addr, length, prot, pkey));
#else
  return Result(info.Env(), -ENOSYS);
#endif
}

// rawMsealAt(address, length, flags) -> 0 | -errno, for the documented cases at fixed addresses
// (an unmapped page, the x86-64 vsyscall gate). The address comes from JavaScript; none goes back.
Napi::Value RawMsealAt(const Napi::CallbackInfo& info) {
  uint64_t addr, length, flags;
  if (!ArgU64(info, 0, &addr) || !ArgU64(info, 1, &length) || !ArgU64(info, 2, &flags)) return info.Env().Undefined();
  return Result(info.Env(), SysMseal(reinterpret_cast<void*>(addr), length, flags));
}

// rawMremap(region, offset, oldLength, newLength, flags[, target, targetOffset]) -> External | -errno
Napi::Value RawMremap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* addr;
  uint64_t oldLength, newLength;
  int flags;
  if (!AddrArg(info, 0, &addr) || !ArgU64(info, 2, &oldLength) || !ArgU64(info, 3, &newLength) ||
      !ArgInt(info, 4, &flags)) {
    return env.Undefined();
  }
  uint8_t* target = nullptr;
  if (info.Length() > 5 && !info[5].IsUndefined() && !AddrArg(info, 5, &target)) return env.Undefined();
  void* p = mremap(addr, oldLength, newLength, flags, target);
  if (p == MAP_FAILED) return Result(env, -errno);
  return NewRaw(env, static_cast<uint8_t*>(p), newLength);
}

// rawDistance(a, b) -> b.base - a.base: whether a mapping landed where it was asked to, without an address.
Napi::Value RawDistance(const Napi::CallbackInfo& info) {
  uint8_t *a, *b;
  size_t la, lb;
  if (!TargetOf(info, 0, &a, &la) || !TargetOf(info, 1, &b, &lb)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(b - a));
}

// rawVma(region, offset) -> { start, end, perms, flags, name, rssKb, lazyFreeKb, anonymousKb } | null, from
// /proc/self/smaps; start and end are offsets from the region's base.
Napi::Value RawVma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* base;
  size_t length;
  int64_t offset;
  if (!TargetOf(info, 0, &base, &length) || !ArgI64(info, 1, &offset)) return env.Undefined();
  uintptr_t want = reinterpret_cast<uintptr_t>(base) + offset;
  FILE* f = fopen("/proc/self/smaps", "re");
  if (f == nullptr) return Result(env, -errno);
  char* line = nullptr;
  size_t cap = 0;
  bool inside = false;
  Napi::Value out = env.Null();
  Napi::Object vma;
  while (getline(&line, &cap, f) > 0) {
    unsigned long start, end;
    char perms[8] = {0};
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &name_at) >= 3 && strchr(line, '-') &&
        line[0] != 'V') {
      if (inside) break;  // the VMA we wanted had no VmFlags line (older kernels always have one)
      if (want >= start && want < end) {
        inside = true;
        vma = Napi::Object::New(env);
        vma.Set("start", Napi::Number::New(env, static_cast<double>(
                                                    static_cast<int64_t>(start - reinterpret_cast<uintptr_t>(base)))));
        vma.Set("end", Napi::Number::New(
                           env, static_cast<double>(static_cast<int64_t>(end - reinterpret_cast<uintptr_t>(base)))));
        vma.Set("perms", Napi::String::New(env, perms));
        vma.Set("name", Napi::String::New(env, MapsName(line, name_at)));
        vma.Set("flags", Napi::Array::New(env));
        out = vma;
      }
      continue;
    }
    unsigned long kb;
    if (inside && (sscanf(line, "Rss: %lu kB", &kb) == 1 || sscanf(line, "LazyFree: %lu kB", &kb) == 1 ||
                   sscanf(line, "Anonymous: %lu kB", &kb) == 1)) {
      vma.Set(line[0] == 'R'   ? "rssKb"
              : line[0] == 'L' ? "lazyFreeKb"
                               : "anonymousKb",
              Napi::Number::New(env, static_cast<double>(kb)));
      continue;
    }
    if (inside && strncmp(line, "VmFlags:", 8) == 0) {
      Napi::Array flags = Napi::Array::New(env);
      uint32_t n = 0;
      char* save = nullptr;
      for (char* tok = strtok_r(line + 8, " \n", &save); tok != nullptr; tok = strtok_r(nullptr, " \n", &save)) {
        flags.Set(n++, Napi::String::New(env, tok));
      }
      vma.Set("flags", flags);
      break;
    }
  }
  free(line);
  fclose(f);
  return out;
}

// rawMapsVma(region, offset) -> { start, end, perms, name } | null, from /proc/self/maps: the same VMA as
// rawVma without its VmFlags and memory counters, at a fraction of the cost (smaps walks the page tables
// of every VMA before the one asked for; maps does not).
Napi::Value RawMapsVma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* base;
  size_t length;
  int64_t offset;
  if (!TargetOf(info, 0, &base, &length) || !ArgI64(info, 1, &offset)) return env.Undefined();
  uintptr_t want = reinterpret_cast<uintptr_t>(base) + offset;
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return Result(env, -errno);
  char* line = nullptr;
  size_t cap = 0;
  Napi::Value out = env.Null();
  while (getline(&line, &cap, f) > 0) {
    unsigned long start, end;
    char perms[8] = {0};
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &name_at) < 3) continue;
    if (want < start || want >= end) continue;
    Napi::Object vma = Napi::Object::New(env);
    uintptr_t b = reinterpret_cast<uintptr_t>(base);
    vma.Set("start", Napi::Number::New(env, static_cast<double>(static_cast<int64_t>(start - b))));
    vma.Set("end", Napi::Number::New(env, static_cast<double>(static_cast<int64_t>(end - b))));
    vma.Set("perms", Napi::String::New(env, perms));
    vma.Set("name", Napi::String::New(env, MapsName(line, name_at)));
    out = vma;
    break;
  }
  free(line);
  fclose(f);
  return out;
}

// rawPeek(region, offset, length) -> Buffer (a copy). Faults if the pages are not readable: children only.
Napi::Value RawPeek(const Napi::CallbackInfo& info) {
  uint8_t* addr;
  uint64_t length;
  if (!AddrArg(info, 0, &addr) || !ArgU64(info, 2, &length)) return info.Env().Undefined();
  if (length > (1u << 30)) return Result(info.Env(), -EINVAL);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), addr, length);
}

// rawPoke(region, offset, bytes) -> bytes written. Faults if the pages are not writable: children only.
Napi::Value RawPoke(const Napi::CallbackInfo& info) {
  uint8_t* addr;
  if (!AddrArg(info, 0, &addr)) return info.Env().Undefined();
  if (!info[2].IsBuffer()) {
    Fail(info, 2, "a Buffer");
    return info.Env().Undefined();
  }
  auto bytes = info[2].As<Napi::Buffer<uint8_t>>();
  volatile uint8_t* dst = addr;
  for (size_t i = 0; i < bytes.Length(); i++) dst[i] = bytes.Data()[i];
  return Result(info.Env(), static_cast<long>(bytes.Length()));
}

// rawProcMemWrite(region, offset, bytes) -> bytes written | -errno: a write through /proc/self/mem, which
// uses FOLL_FORCE and so ignores page protections (and, as documented, mseal).
Napi::Value RawProcMemWrite(const Napi::CallbackInfo& info) {
  uint8_t* addr;
  if (!AddrArg(info, 0, &addr)) return info.Env().Undefined();
  if (!info[2].IsBuffer()) {
    Fail(info, 2, "a Buffer");
    return info.Env().Undefined();
  }
  auto bytes = info[2].As<Napi::Buffer<uint8_t>>();
  int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (fd < 0) return Result(info.Env(), -errno);
  ssize_t n = pwrite(fd, bytes.Data(), bytes.Length(), static_cast<off_t>(reinterpret_cast<uintptr_t>(addr)));
  long r = n < 0 ? -errno : n;
  close(fd);
  return Result(info.Env(), r);
}

// rawSystemMapping(name) -> External | null: a region over a mapping the kernel made, such as "[vdso]".
Napi::Value RawSystemMapping(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Fail(info, 0, "a string");
    return env.Undefined();
  }
  std::string want = info[0].As<Napi::String>().Utf8Value();
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return Result(env, -errno);
  char* line = nullptr;
  size_t cap = 0;
  Napi::Value out = env.Null();
  while (getline(&line, &cap, f) > 0) {
    unsigned long start, end;
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &name_at) < 2 || name_at == 0) continue;
    if (MapsName(line, name_at) == want) {
      out = NewRaw(env, reinterpret_cast<uint8_t*>(start), end - start);
      break;
    }
  }
  free(line);
  fclose(f);
  return out;
}

// rawPinPages(region, offset, length) -> io_uring fd | -errno. Registers the range as an io_uring fixed
// buffer, which takes a long-term GUP pin on the pages (the case F_SEAL_WRITE waits for and refuses).
Napi::Value RawPinPages(const Napi::CallbackInfo& info) {
  uint8_t* addr;
  uint64_t length;
  if (!AddrArg(info, 0, &addr) || !ArgU64(info, 2, &length)) return info.Env().Undefined();
#if defined(__NR_io_uring_setup) && defined(__NR_io_uring_register)
  unsigned char params[120] = {0};  // struct io_uring_params, all defaults
  long ring = syscall(__NR_io_uring_setup, 1, params);
  if (ring < 0) return Result(info.Env(), -errno);
  struct iovec iov = {addr, static_cast<size_t>(length)};
  if (syscall(__NR_io_uring_register, ring, 0 /* IORING_REGISTER_BUFFERS */, &iov, 1) < 0) {
    long err = -errno;
    close(static_cast<int>(ring));
    return Result(info.Env(), err);
  }
  fcntl(static_cast<int>(ring), F_SETFD, FD_CLOEXEC);
  return Result(info.Env(), ring);
#else
  return Result(info.Env(), -ENOSYS);
#endif
}

// rawUnpinPages(ringFd) -> 0 | -errno: unregisters the buffers (dropping the pins) and closes the ring.
Napi::Value RawUnpinPages(const Napi::CallbackInfo& info) {
  int ring;
  if (!ArgInt(info, 0, &ring)) return info.Env().Undefined();
#if defined(__NR_io_uring_register)
  long r = syscall(__NR_io_uring_register, ring, 1 /* IORING_UNREGISTER_BUFFERS */, nullptr, 0) < 0 ? -errno : 0;
#else
  long r = -ENOSYS;
#endif
  close(ring);
  return Result(info.Env(), r);
}

// rawGetrlimit(resource) -> [soft, hard] (-1 for RLIM_INFINITY); rawSetrlimit(resource, soft, hard) -> 0 | -errno
Napi::Value RawGetrlimit(const Napi::CallbackInfo& info) {
  int resource;
  if (!ArgInt(info, 0, &resource)) return info.Env().Undefined();
  struct rlimit rl;
  if (getrlimit(resource, &rl) != 0) return Result(info.Env(), -errno);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), rl.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(rl.rlim_cur)));
  out.Set(1u, Napi::Number::New(info.Env(), rl.rlim_max == RLIM_INFINITY ? -1.0 : static_cast<double>(rl.rlim_max)));
  return out;
}

Napi::Value RawSetrlimit(const Napi::CallbackInfo& info) {
  int resource;
  int64_t soft, hard;
  if (!ArgInt(info, 0, &resource) || !ArgI64(info, 1, &soft) || !ArgI64(info, 2, &hard)) return info.Env().Undefined();
  struct rlimit rl;
  rl.rlim_cur = soft < 0 ? RLIM_INFINITY : static_cast<rlim_t>(soft);
  rl.rlim_max = hard < 0 ? RLIM_INFINITY : static_cast<rlim_t>(hard);
  return Result(info.Env(), setrlimit(resource, &rl) == 0 ? 0 : -errno);
}

}  // namespace

bool TargetOf(const Napi::CallbackInfo& info, size_t i, uint8_t** base, size_t* length) {
  Napi::Value v = info[i];
  if (v.IsExternal()) {
    RawRegion* r = v.As<Napi::External<RawRegion>>().Data();
    *base = r->base;
    *length = r->length;
    return true;
  }
  if (v.IsArrayBuffer()) {
    RegionPtr region = RegionOf(v);
    if (region) {
      *base = region->base;
      *length = region->length;
      return true;
    }
    return Fail(info, i, "a mapped ArrayBuffer (this one is unmapped or not a mapping)");
  }
  return Fail(info, i, "a mapping ArrayBuffer or a raw region");
}

void InitRaw(Napi::Env env, Napi::Object exports) {
  Napi::Object raw = Napi::Object::New(env);
  raw.Set("mmap", Napi::Function::New(env, RawMmap, "rawMmap"));
  raw.Set("munmap", Napi::Function::New(env, RangeOp<OpMunmap>, "rawMunmap"));
  raw.Set("mprotect", Napi::Function::New(env, RangeOp<OpMprotect>, "rawMprotect"));
  raw.Set("madvise", Napi::Function::New(env, RangeOp<OpMadvise>, "rawMadvise"));
  raw.Set("mseal", Napi::Function::New(env, RangeOp<OpMseal>, "rawMseal"));
  raw.Set("mlock", Napi::Function::New(env, RangeOp<OpMlock>, "rawMlock"));
  raw.Set("pkeyMprotect", Napi::Function::New(env, RawPkeyMprotect, "rawPkeyMprotect"));
  raw.Set("msealAt", Napi::Function::New(env, RawMsealAt, "rawMsealAt"));
  raw.Set("mremap", Napi::Function::New(env, RawMremap, "rawMremap"));
  raw.Set("distance", Napi::Function::New(env, RawDistance, "rawDistance"));
  raw.Set("vma", Napi::Function::New(env, RawVma, "rawVma"));
  raw.Set("mapsVma", Napi::Function::New(env, RawMapsVma, "rawMapsVma"));
  raw.Set("peek", Napi::Function::New(env, RawPeek, "rawPeek"));
  raw.Set("poke", Napi::Function::New(env, RawPoke, "rawPoke"));
  raw.Set("procMemWrite", Napi::Function::New(env, RawProcMemWrite, "rawProcMemWrite"));
  raw.Set("systemMapping", Napi::Function::New(env, RawSystemMapping, "rawSystemMapping"));
  raw.Set("pinPages", Napi::Function::New(env, RawPinPages, "rawPinPages"));
  raw.Set("unpinPages", Napi::Function::New(env, RawUnpinPages, "rawUnpinPages"));
  raw.Set("getrlimit", Napi::Function::New(env, RawGetrlimit, "rawGetrlimit"));
  raw.Set("setrlimit", Napi::Function::New(env, RawSetrlimit, "rawSetrlimit"));
  exports.Set("raw", raw);
}

}  // namespace memseal
