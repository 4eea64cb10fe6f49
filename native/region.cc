#include "region.h"

#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>

namespace memseal {
namespace {

// Process-wide, because finalizers and cleanup hooks of different worker threads may touch it. Allocated
// once and never destroyed, so no static-destruction order can pull it from under a late finalizer.
struct Registry {
  std::mutex mutex;
  std::unordered_map<uintptr_t, RegionPtr> live;
};
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

// Called with the registry lock held.
long UnmapLocked(Registry* reg, Region* region) {
  if (!region->mapped) return 0;
  if (munmap(region->base, region->span) != 0) return -errno;  // EPERM when sealed: the pages stay
  region->mapped = false;
  reg->live.erase(reinterpret_cast<uintptr_t>(region->base));
  return 0;
}

// ArrayBuffers created and not yet finalized: the bookkeeping (a holder each) that finalizers give back.
std::atomic<int64_t> g_holders{0};

void FinalizeRegion(napi_env, void*, void* hint) {
  g_holders--;
  auto* holder = static_cast<RegionPtr*>(hint);
  Registry& reg = registry();
  {
    std::lock_guard<std::mutex> lock(reg.mutex);
    Region& region = **holder;
    if (region.mapped && (region.sealed || UnmapLocked(&reg, &region) != 0)) {
      // A sealed mapping cannot be unmapped (mseal(2)): it lives until the process exits. Forget it so
      // the registry does not grow, and never touch it again.
      region.mapped = false;
      reg.live.erase(reinterpret_cast<uintptr_t>(region.base));
    }
  }
  delete holder;
}

void ReleaseEnvironment(void* arg) {
  napi_env env = static_cast<napi_env>(arg);
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  for (auto it = reg.live.begin(); it != reg.live.end();) {
    Region& region = *it->second;
    if (region.env != env) {
      ++it;
      continue;
    }
    if (!region.sealed) munmap(region.base, region.span);  // sealed ones stay mapped until exit
    region.mapped = false;
    it = reg.live.erase(it);
  }
}

}  // namespace

size_t HugetlbGranule(int fd) {
  struct statfs fs;
  if (fd < 0 || fstatfs(fd, &fs) != 0 || static_cast<unsigned long>(fs.f_type) != HUGETLBFS_MAGIC) return 0;
  return static_cast<size_t>(fs.f_bsize);
}

Napi::Value WrapRegion(Napi::Env env, uint8_t* base, size_t length, size_t granule) {
  auto region = std::make_shared<Region>();
  region->base = base;
  region->length = length;
  region->granule = granule;
  region->span = granule == 0 ? length : (length + granule - 1) / granule * granule;
  region->mapped = true;
  region->env = env;
  auto* holder = new RegionPtr(region);
  g_holders++;
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(env, base, length, FinalizeRegion, holder, &buffer);
  if (status != napi_ok) {
    delete holder;
    g_holders--;
    munmap(base, region->span);
    Napi::Error err = Napi::Error::New(
        env, status == napi_no_external_buffers_allowed
                 ? "this runtime forbids external ArrayBuffers, so a mapping cannot be exposed without copying it"
                 : "could not create an external ArrayBuffer over the mapping");
    err.Set("code",
            Napi::String::New(env, status == napi_no_external_buffers_allowed ? "ERR_MEMSEAL_NO_EXTERNAL_BUFFERS"
                                                                              : "ERR_MEMSEAL_EXTERNAL_BUFFER"));
    err.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  reg.live[reinterpret_cast<uintptr_t>(base)] = region;
  return Napi::Value(env, buffer);
}

RegionPtr RegionOf(Napi::Value value) {
  if (!value.IsArrayBuffer()) return nullptr;
  Napi::ArrayBuffer ab = value.As<Napi::ArrayBuffer>();
  void* data = ab.Data();  // nullptr once detached
  if (data == nullptr) return nullptr;
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto it = reg.live.find(reinterpret_cast<uintptr_t>(data));
  if (it == reg.live.end() || !it->second->mapped || it->second->length != ab.ByteLength()) return nullptr;
  return it->second;
}

long UnmapRegion(const RegionPtr& region) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  return UnmapLocked(&reg, region.get());
}

void MarkSealed(const RegionPtr& region) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  region->sealed = true;
}

void ForgetRegion(const RegionPtr& region) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  region->mapped = false;
  reg.live.erase(reinterpret_cast<uintptr_t>(region->base));
}

size_t RegionCount(napi_env env) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  size_t n = 0;
  for (const auto& entry : reg.live) n += entry.second->env == env ? 1 : 0;
  return n;
}

int64_t PendingFinalizers() {
  return g_holders.load();
}

void InstallRegionCleanup(Napi::Env env) {
  napi_add_env_cleanup_hook(env, ReleaseEnvironment, static_cast<napi_env>(env));
}

}  // namespace memseal
