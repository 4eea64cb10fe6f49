// The public mapping surface: mmap into an external ArrayBuffer, and operations that take that
// ArrayBuffer (never an address). munmap and mremap detach the old ArrayBuffer so that no view can reach
// pages that are gone.
#include <sys/mman.h>

#include <cerrno>

#include "args.h"
#include "compat.h"
#include "exports.h"
#include "region.h"

namespace memseal {
namespace {

// Resolves [offset, offset + length) inside the region behind info[0], or returns -EBADF / -EINVAL.
long Span(const Napi::CallbackInfo& info, RegionPtr* region, uint8_t** addr, size_t* length) {
  *region = RegionOf(info[0]);
  if (!*region) return -EBADF;
  uint64_t offset, len;
  if (!ArgU64(info, 1, &offset) || !ArgU64(info, 2, &len)) return -EINVAL;
  if (offset > (*region)->length || len > (*region)->length - offset) return -EINVAL;
  *addr = (*region)->base + offset;
  *length = static_cast<size_t>(len);
  return 0;
}

// mmap(length, prot, flags, fd, offset) -> ArrayBuffer | -errno. The kernel chooses the address:
// MAP_FIXED could replace someone else's pages, so it is refused here (the raw surface has it).
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length, offset;
  int prot, flags, fd;
  if (!ArgU64(info, 0, &length) || !ArgInt(info, 1, &prot) || !ArgInt(info, 2, &flags) || !ArgInt(info, 3, &fd) ||
      !ArgU64(info, 4, &offset)) {
    return env.Undefined();
  }
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) return Result(env, -EINVAL);
  void* p = mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return Result(env, -errno);
  // A hugetlbfs file is mapped in whole huge pages whatever the length asked for, and can only be
  // unmapped the same way: the region remembers how much the kernel really mapped.
  size_t granule = (flags & MAP_ANONYMOUS) ? 0 : HugetlbGranule(fd);
  return WrapRegion(env, static_cast<uint8_t*>(p), length, granule);
}

// munmap(buffer) -> 0 | -errno. On success the ArrayBuffer is detached: every view reads byteLength 0.
Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionPtr region = RegionOf(info[0]);
  if (!region) return Result(env, -EBADF);
  long r = UnmapRegion(region);
  if (r == 0) info[0].As<Napi::ArrayBuffer>().Detach();
  return Result(env, r);
}

// The shape of mprotect / madvise / mseal over a mapping: (buffer, offset, length, arg) -> 0 | -errno.
// The range must lie inside the mapping: these never reach pages that are not ours.
template <long (*Op)(const RegionPtr&, uint8_t*, size_t, uint64_t)>
Napi::Value SpanOp(const Napi::CallbackInfo& info) {
  RegionPtr region;
  uint8_t* addr;
  size_t len;
  uint64_t arg;
  long r = Span(info, &region, &addr, &len);
  if (info.Env().IsExceptionPending()) return info.Env().Undefined();
  if (r != 0) return Result(info.Env(), r);
  if (!ArgU64(info, 3, &arg)) return info.Env().Undefined();
  return Result(info.Env(), Op(region, addr, len, arg));
}

long DoMprotect(const RegionPtr&, uint8_t* a, size_t l, uint64_t prot) {
  return mprotect(a, l, static_cast<int>(prot)) == 0 ? 0 : -errno;
}
long DoMadvise(const RegionPtr&, uint8_t* a, size_t l, uint64_t advice) {
  return madvise(a, l, static_cast<int>(advice)) == 0 ? 0 : -errno;
}
// A sealed region can no longer be unmapped (mseal(2)'s contract): mark it, so that its finalizer and the
// teardown hook leave it alone instead of collecting an EPERM from munmap.
long DoMseal(const RegionPtr& region, uint8_t* a, size_t l, uint64_t flags) {
  long r = SysMseal(a, l, flags);
  if (r == 0 && l > 0) MarkSealed(region);
  return r;
}

// mremap(buffer, newLength, mayMove) -> ArrayBuffer | -errno. The old ArrayBuffer is detached on success
// and a new one covers the pages at their (possibly new) address.
Napi::Value Mremap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionPtr region = RegionOf(info[0]);
  if (!region) return Result(env, -EBADF);
  uint64_t newLength;
  if (!ArgU64(info, 1, &newLength)) return env.Undefined();
  int flags = info[2].ToBoolean() ? MREMAP_MAYMOVE : 0;
  // A hugetlb region is mapped in whole huge pages: the old length given is all of them (the kernel
  // rounds the new one itself, and refuses to grow such a mapping with EINVAL).
  void* p = mremap(region->base, region->span, newLength, flags);
  if (p == MAP_FAILED) return Result(env, -errno);
  ForgetRegion(region);
  info[0].As<Napi::ArrayBuffer>().Detach();
  return WrapRegion(env, static_cast<uint8_t*>(p), newLength, region->granule);
}

// isMapped(buffer) -> boolean: whether this ArrayBuffer still covers live pages of ours.
Napi::Value IsMapped(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), RegionOf(info[0]) != nullptr);
}

// liveMappings() -> number of regions this environment still holds (tests of finalizer and teardown).
Napi::Value LiveMappings(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(RegionCount(info.Env())));
}

// pendingFinalizers() -> mapping ArrayBuffers not yet finalized (tests that bookkeeping is given back).
Napi::Value PendingFinalizersJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PendingFinalizers()));
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  InstallRegionCleanup(env);
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("mprotect", Napi::Function::New(env, SpanOp<DoMprotect>, "mprotect"));
  exports.Set("madvise", Napi::Function::New(env, SpanOp<DoMadvise>, "madvise"));
  exports.Set("mseal", Napi::Function::New(env, SpanOp<DoMseal>, "mseal"));
  exports.Set("mremap", Napi::Function::New(env, Mremap, "mremap"));
  exports.Set("isMapped", Napi::Function::New(env, IsMapped, "isMapped"));
  exports.Set("liveMappings", Napi::Function::New(env, LiveMappings, "liveMappings"));
  exports.Set("pendingFinalizers", Napi::Function::New(env, PendingFinalizersJs, "pendingFinalizers"));
}

}  // namespace memseal
