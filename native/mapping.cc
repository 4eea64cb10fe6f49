// The public mapping surface: mmap into a region that JavaScript reaches through its id and views (external
// ArrayBuffers), and operations that take the id or a view at offset 0 (never an address). munmap and mremap
// detach every view that can still be reached, so no view can reach pages that are gone.
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>

#include "args.h"
#include "compat.h"
#include "exports.h"
#include "region.h"

namespace memseal {
namespace {

// The region of an id (a number, what a Mapping holds) or behind a view at offset 0 (the ArrayBuffer
// mmap() returned).
RegionPtr Target(const Napi::CallbackInfo& info, size_t i) {
  double id;
  if (napi_get_value_double(info.Env(), info[i], &id) == napi_ok) {
    return id >= 1 && id <= 9007199254740991.0 ? RegionById(static_cast<uint64_t>(id)) : nullptr;
  }
  return RegionOf(info[i]);
}

// How many mappings memseal keeps at once in the whole process: half of vm.max_map_count, so that the
// runtime's own mappings (V8's heap and code space, thread stacks, malloc arenas) always find room. A
// program that drops mappings in a loop that never yields meets this limit as ENOMEM, not V8 failing to
// map its own memory.
size_t MappingBudget() {
  static size_t budget = [] {
    long limit = 65530;  // the kernel's default
    if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
      if (std::fscanf(f, "%ld", &limit) != 1) limit = 65530;
      std::fclose(f);
    }
    return static_cast<size_t>(limit > 2 ? limit / 2 : 1);
  }();
  return budget;
}

// mmap(2) with the kernel choosing the address: MAP_FIXED could replace someone else's pages, so it is
// refused here (the raw surface has it). Returns the new region, or nullptr with -errno in *err.
RegionPtr MapPages(napi_env env, uint64_t length, int prot, int flags, int fd, uint64_t offset, double dev, double ino,
                   long* err) {
  *err = 0;
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    *err = -EINVAL;
    return nullptr;
  }
  if ((*err = Room(env)) != 0) return nullptr;
  void* p = mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    *err = -errno;
    return nullptr;
  }
  // A hugetlbfs file is mapped in whole huge pages whatever the length asked for, and can only be
  // unmapped the same way: the region remembers how much the kernel really mapped.
  long granule = (flags & MAP_ANONYMOUS) ? 0 : HugetlbGranule(fd);
  FileId file;
  if (!(flags & MAP_ANONYMOUS)) file = {dev, ino, offset};
  return NewRegion(env, static_cast<uint8_t*>(p), length, granule > 0 ? static_cast<size_t>(granule) : 0, file);
}

// mmap(length, prot, flags, fd, offset) -> ArrayBuffer | -errno: a region whose only holder is one view
// over all of it (the conformance suite's form; unmapped when that ArrayBuffer is collected).
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length, offset;
  int prot, flags, fd;
  if (!ArgU64(info, 0, &length) || !ArgInt(info, 1, &prot) || !ArgInt(info, 2, &flags) || !ArgInt(info, 3, &fd) ||
      !ArgU64(info, 4, &offset)) {
    return env.Undefined();
  }
  long err;
  RegionPtr region = MapPages(env, length, prot, flags, fd, offset, -1, -1, &err);
  if (!region) return Result(env, err);
  napi_value view = NewView(env, region, 0, region->length, true);
  if (view == nullptr) {
    DiscardRegion(region);
    return env.Undefined();  // the exception NewView left pending, if one could be thrown
  }
  return Napi::Value(env, view);
}

// map(out, length, prot, flags, fd, offset, dev, ino, headLength) -> ArrayBuffer | -errno. Maps, writes the
// region's id into out[0] (a Float64Array), and returns its head: a view of its first headLength bytes that
// the caller (a Mapping) keeps to itself, so that the pages stay mapped while it lives. dev and ino
// identify the file for the resize() guard (-1 for anonymous memory).
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length, offset, headLength;
  int prot, flags, fd;
  double dev, ino;
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::Float64Array>().ElementLength() < 1) {
    Fail(info, 0, "a Float64Array");
    return env.Undefined();
  }
  if (!ArgU64(info, 1, &length) || !ArgInt(info, 2, &prot) || !ArgInt(info, 3, &flags) || !ArgInt(info, 4, &fd) ||
      !ArgU64(info, 5, &offset) || !ArgDouble(info, 6, &dev) || !ArgDouble(info, 7, &ino) ||
      !ArgU64(info, 8, &headLength)) {
    return env.Undefined();
  }
  if (headLength == 0 || headLength > length) return Result(env, -EINVAL);
  long err;
  RegionPtr region = MapPages(env, length, prot, flags, fd, offset, dev, ino, &err);
  if (!region) return Result(env, err);
  napi_value head = NewView(env, region, 0, static_cast<size_t>(headLength), false);
  if (head == nullptr) {
    DiscardRegion(region);
    return env.Undefined();  // the exception NewView left pending, if one could be thrown
  }
  info[0].As<Napi::Float64Array>()[0] = static_cast<double>(region->id);
  return Napi::Value(env, head);
}

// expose(target) -> 0 | -EBADF: the views kept so far (a Mapping's head) have been handed out.
Napi::Value ExposeJs(const Napi::CallbackInfo& info) {
  RegionPtr region = Target(info, 0);
  if (!region) return Result(info.Env(), -EBADF);
  Expose(region);
  return Result(info.Env(), 0);
}

// view(target, offset, length, exposed = true) -> ArrayBuffer | -errno: an ArrayBuffer over
// [offset, offset + length); exposed false for a head the caller keeps to itself.
Napi::Value ViewOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionPtr region = Target(info, 0);
  uint64_t offset, length;
  bool exposed = true;
  if (!ArgU64(info, 1, &offset) || !ArgU64(info, 2, &length)) return env.Undefined();
  if (info.Length() > 3 && !info[3].IsUndefined() && !ArgBool(info, 3, &exposed)) return env.Undefined();
  if (!region || !region->mapped) return Result(env, -EBADF);
  if (length == 0 || offset > region->length || length > region->length - offset) return Result(env, -EINVAL);
  napi_value view = NewView(env, region, offset, length, exposed);
  return view == nullptr ? env.Undefined() : Napi::Value(env, view);
}

// munmap(target) -> 0 | -errno. Every view that can still be reached is detached (byteLength 0).
Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionPtr region = Target(info, 0);
  if (!region || !region->mapped) return Result(env, -EBADF);
  return Result(env, UnmapRegion(env, region));
}

// Resolves [offset, offset + length) inside the region behind info[0], or returns -EBADF / -EINVAL.
long Span(const Napi::CallbackInfo& info, RegionPtr* region, uint8_t** addr, size_t* length) {
  *region = Target(info, 0);
  if (!*region || !(*region)->mapped) return -EBADF;
  uint64_t offset, len;
  if (!ArgU64(info, 1, &offset) || !ArgU64(info, 2, &len)) return -EINVAL;
  if (offset > (*region)->length || len > (*region)->length - offset) return -EINVAL;
  *addr = (*region)->base + offset;
  *length = static_cast<size_t>(len);
  return 0;
}

// The shape of mprotect / madvise / mseal over a mapping: (target, offset, length, arg) -> 0 | -errno.
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
// A sealed range can no longer be unmapped (mseal(2)'s contract): record it, so that the finalizer and the
// teardown hook unmap only the rest instead of collecting an EPERM from munmap.
long DoMseal(const RegionPtr& region, uint8_t* a, size_t l, uint64_t flags) {
  long r = SysMseal(a, l, flags);
  if (r == 0 && l > 0) MarkSealed(region, static_cast<size_t>(a - region->base), l);
  return r;
}

// mremap(target, newLength, mayMove). For an id: 0 | -errno, the id then names the new pages (the caller
// makes its new head with view()). For an ArrayBuffer (the conformance suite's form): a new ArrayBuffer over
// the new pages | -errno. Either way every view of the old pages is detached.
Napi::Value Mremap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool byId = info[0].IsNumber();
  RegionPtr region = Target(info, 0);
  if (!region || !region->mapped) return Result(env, -EBADF);
  uint64_t newLength;
  bool mayMove;
  if (!ArgU64(info, 1, &newLength) || !ArgBool(info, 2, &mayMove)) return env.Undefined();
  long r = RemapRegion(env, region, static_cast<size_t>(newLength), mayMove);
  if (r != 0 || byId) return Result(env, r);
  napi_value view = NewView(env, region, 0, region->length, true);
  if (view == nullptr) {
    // The old view is detached and the new one could not be made: nothing reaches the pages, unmap them.
    UnmapRegion(env, region);
    return env.Undefined();
  }
  return Napi::Value(env, view);
}

// isMapped(target) -> boolean: whether an id or an ArrayBuffer still names live pages of ours.
Napi::Value IsMapped(const Napi::CallbackInfo& info) {
  RegionPtr region = Target(info, 0);
  return Napi::Boolean::New(info.Env(), region != nullptr && region->mapped);
}

// mappedEnd(dev, ino) -> the largest file offset any live mapping of this process covers, or 0.
Napi::Value MappedEndJs(const Napi::CallbackInfo& info) {
  double dev, ino;
  if (!ArgDouble(info, 0, &dev) || !ArgDouble(info, 1, &ino)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(MappedEnd(dev, ino)));
}

// hugePageSize(fd) -> the huge page size of a hugetlbfs file, 0 for any other file, or -errno.
Napi::Value HugePageSize(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  return Result(info.Env(), HugetlbGranule(fd));
}

// setMaxViewLength(n): the largest ArrayBuffer this runtime makes (buffer.constants.MAX_LENGTH).
Napi::Value SetMaxViewLengthJs(const Napi::CallbackInfo& info) {
  uint64_t n;
  if (!ArgU64(info, 0, &n)) return info.Env().Undefined();
  SetMaxViewLength(static_cast<size_t>(n));
  return info.Env().Undefined();
}

// liveMappings() -> regions this environment still maps (tests of finalizer, sweep and teardown).
Napi::Value LiveMappings(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(RegionCount(info.Env())));
}

// mappingBudget() -> [live regions in the process, the most memseal keeps at once].
Napi::Value MappingBudgetJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_value out, live, budget;
  if (napi_create_array_with_length(env, 2, &out) != napi_ok ||
      napi_create_double(env, static_cast<double>(LiveRegions()), &live) != napi_ok ||
      napi_create_double(env, static_cast<double>(MappingBudget()), &budget) != napi_ok ||
      napi_set_element(env, out, 0, live) != napi_ok || napi_set_element(env, out, 1, budget) != napi_ok) {
    return env.Undefined();
  }
  return Napi::Value(env, out);
}

// pendingFinalizers() -> views not yet finalized, process-wide (bookkeeping given back).
Napi::Value PendingFinalizersJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PendingFinalizers()));
}

}  // namespace

long Room(napi_env env) {
  SweepRegions(env, false);
  if (LiveRegions() < MappingBudget()) return 0;
  SweepRegions(env, true);
  return LiveRegions() < MappingBudget() ? 0 : -ENOMEM;
}

void InitMapping(Napi::Env env, Napi::Object exports) {
  InstallRegionCleanup(env);
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("map", Napi::Function::New(env, Map, "map"));
  exports.Set("view", Napi::Function::New(env, ViewOf, "view"));
  exports.Set("expose", Napi::Function::New(env, ExposeJs, "expose"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("mprotect", Napi::Function::New(env, SpanOp<DoMprotect>, "mprotect"));
  exports.Set("madvise", Napi::Function::New(env, SpanOp<DoMadvise>, "madvise"));
  exports.Set("mseal", Napi::Function::New(env, SpanOp<DoMseal>, "mseal"));
  exports.Set("mremap", Napi::Function::New(env, Mremap, "mremap"));
  exports.Set("remap", Napi::Function::New(env, Mremap, "remap"));
  exports.Set("isMapped", Napi::Function::New(env, IsMapped, "isMapped"));
  exports.Set("mappedEnd", Napi::Function::New(env, MappedEndJs, "mappedEnd"));
  exports.Set("hugePageSize", Napi::Function::New(env, HugePageSize, "hugePageSize"));
  exports.Set("setMaxViewLength", Napi::Function::New(env, SetMaxViewLengthJs, "setMaxViewLength"));
  exports.Set("liveMappings", Napi::Function::New(env, LiveMappings, "liveMappings"));
  exports.Set("mappingBudget", Napi::Function::New(env, MappingBudgetJs, "mappingBudget"));
  exports.Set("pendingFinalizers", Napi::Function::New(env, PendingFinalizersJs, "pendingFinalizers"));
}

}  // namespace memseal
