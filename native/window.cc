// Receive windows: one reserved, read-only address range with one ArrayBuffer over it, made once, into which
// received files are mapped in place, one after the other. A new ArrayBuffer of a mapping is charged to V8's
// external memory at its full length, and every charge past the limit since the last collection starts
// one (a 256 MiB hand-off cost milliseconds of marking); a window is charged once, when it is made, and a
// dropped window is collected and unmapped like any mapping. Between files it holds zero pages, so its
// ArrayBuffer always reads mapped memory.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "args.h"
#include "exports.h"
#include "region.h"

namespace memseal {
namespace {

// open(out, capacity, align) -> ArrayBuffer | -errno: reserves capacity bytes (rounded up to whole align
// units) at an address aligned to align (a power of two, at least a page: huge pages need their own
// alignment), as read-only zero pages, and returns the ArrayBuffer over the first capacity bytes; the
// region's id goes into out[0] (a Float64Array).
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t capacity, align;
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::Float64Array>().ElementLength() < 1) {
    Fail(info, 0, "a Float64Array");
    return env.Undefined();
  }
  if (!ArgU64(info, 1, &capacity) || !ArgU64(info, 2, &align)) return env.Undefined();
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (capacity == 0 || align < page || (align & (align - 1)) != 0 || capacity > (uint64_t{1} << 46)) {
    return Result(env, -EINVAL);
  }
  long err = Room(env);
  if (err != 0) return Result(env, err);
  size_t span = static_cast<size_t>((capacity + align - 1) / align * align);
  // Reserve an align unit more than needed, then give back the unaligned head and the tail.
  size_t over = span + static_cast<size_t>(align) - static_cast<size_t>(page);
  void* p = mmap(nullptr, over, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return Result(env, -errno);
  uintptr_t start = reinterpret_cast<uintptr_t>(p);
  uintptr_t base = (start + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
  if (base > start) munmap(p, base - start);
  uintptr_t end = start + over;
  if (end > base + span) munmap(reinterpret_cast<void*>(base + span), end - (base + span));
  RegionPtr region = NewRegion(env, reinterpret_cast<uint8_t*>(base), static_cast<size_t>(capacity),
                               static_cast<size_t>(align), FileId{});
  napi_value buffer = NewView(env, region, 0, region->length, true);
  if (buffer == nullptr) {
    DiscardRegion(region);
    return env.Undefined();  // the exception NewView left pending, if one could be thrown
  }
  info[0].As<Napi::Float64Array>()[0] = static_cast<double>(region->id);
  return Napi::Value(env, buffer);
}

RegionPtr Window(const Napi::CallbackInfo& info) {
  uint64_t id;
  if (!ArgU64(info, 0, &id)) return nullptr;
  return RegionById(id);
}

// fill(id, fd, length, dev, ino) -> 0 | -errno: shows the first length bytes of fd (verified by the caller)
// in the window. -EBADF for a window closed or collected.
Napi::Value Fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionPtr region = Window(info);
  int fd;
  uint64_t length;
  double dev, ino;
  if (env.IsExceptionPending() || !ArgInt(info, 1, &fd) || !ArgU64(info, 2, &length) || !ArgDouble(info, 3, &dev) ||
      !ArgDouble(info, 4, &ino)) {
    return env.Undefined();
  }
  if (!region) return Result(env, -EBADF);
  long granule = HugetlbGranule(fd);
  if (granule < 0) return Result(env, granule);
  return Result(env,
                FillRegion(region, fd, static_cast<size_t>(length), static_cast<size_t>(granule), FileId{dev, ino, 0}));
}

// clear(id) -> 0 | -errno: zero pages only again.
Napi::Value Clear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionPtr region = Window(info);
  if (env.IsExceptionPending()) return env.Undefined();
  if (!region) return Result(env, -EBADF);
  return Result(env, ClearRegion(region));
}

}  // namespace

void InitWindow(Napi::Env env, Napi::Object exports) {
  Napi::Object window = Napi::Object::New(env);
  window.Set("open", Napi::Function::New(env, Open, "open"));
  window.Set("fill", Napi::Function::New(env, Fill, "fill"));
  window.Set("clear", Napi::Function::New(env, Clear, "clear"));
  exports.Set("window", window);
}

}  // namespace memseal
