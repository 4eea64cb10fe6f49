#include "region.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace memseal {

// One ArrayBuffer over [offset, offset + length) of a region. Owned by the ArrayBuffer's finalizer.
struct View {
  RegionPtr region;
  napi_ref ref = nullptr;  // weak: null once the garbage collector took the ArrayBuffer
  size_t offset = 0;
  size_t length = 0;
  bool detached = false;  // detached by memseal: nothing can reach the pages through it any more
  bool creating = true;   // inside NewView: a finalizer call now is the runtime refusing the buffer
  bool exposed = false;   // handed to code other than memseal's: it may have been transferred
};

namespace {

// The environment's share of the registry.
struct EnvState {
  Region* regions = nullptr;           // every region not yet released: a list linked through the regions
  std::unordered_set<Region*> mapped;  // those whose pages are still the mapping's own
  size_t nextSweep = 0;
};

// Process-wide, because finalizers and cleanup hooks of different worker threads touch it and resize()
// on any thread must see the mappings of every thread. Allocated once and never destroyed, so no
// static-destruction order can pull it from under a late finalizer.
struct Registry {
  std::mutex mutex;
  std::unordered_map<uintptr_t, RegionPtr> live;  // mapped regions by base address
  std::unordered_map<uint64_t, RegionPtr> byId;   // mapped regions by id
  std::unordered_map<napi_env, EnvState> envs;
  std::multimap<std::pair<double, double>, Region*> files;  // mapped regions of files, by (dev, ino)
  uint64_t nextId = 1;
};
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

std::atomic<int64_t> g_holders{0};
std::atomic<size_t> g_maxView{size_t{1} << 32};  // Node 18 and 20 (buffer.constants.MAX_LENGTH)
constexpr size_t kFirstSweep = 1024;

// The ranges of [0, span) that are not sealed, in order.
std::vector<std::pair<size_t, size_t>> Unsealed(const Region& region) {
  std::vector<std::pair<size_t, size_t>> sealed = region.sealed;
  std::sort(sealed.begin(), sealed.end());
  std::vector<std::pair<size_t, size_t>> out;
  size_t at = 0;
  for (const auto& s : sealed) {
    if (s.first > at) out.emplace_back(at, s.first);
    at = std::max(at, s.second);
  }
  if (at < region.span) out.emplace_back(at, region.span);
  return out;
}

// The resize() guard stops counting the region as a mapping of its file. Lock held.
void UnindexFileLocked(Registry* reg, Region* region) {
  if (region->dev < 0) return;
  auto range = reg->files.equal_range({region->dev, region->ino});
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == region) {
      reg->files.erase(it);
      return;
    }
  }
}

// Anonymous zero pages over [base, base + length), in place and atomically (MAP_FIXED over our own range).
// MAP_NORESERVE: they cost nothing unless written. 0 or -errno.
long AnonymousOver(uint8_t* base, size_t length, int prot) {
  void* p = mmap(base, length, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? -errno : 0;
}

// Called with the lock held: the region no longer maps its file's pages at its address.
void ForgetLocked(Registry* reg, Region* region) {
  if (!region->mapped) return;
  region->mapped = false;
  reg->live.erase(reinterpret_cast<uintptr_t>(region->base));
  reg->byId.erase(region->id);
  auto env = reg->envs.find(region->env);
  if (env != reg->envs.end()) env->second.mapped.erase(region);
  UnindexFileLocked(reg, region);
}

// Gives the address range back for good, except sealed parts (mseal(2): they live until exit). Lock held.
void ReleaseLocked(Registry* reg, Region* region) {
  if (region->mapped || region->reserved) {
    for (const auto& r : Unsealed(*region)) munmap(region->base + r.first, r.second - r.first);
  }
  region->reserved = false;
  ForgetLocked(reg, region);
}

// Replaces the region's unsealed pages with anonymous zero pages (writable, as the mapping may have been),
// so that a view memseal cannot detach still reads memory, not a hole someone else may map. 0 or -errno.
long ReplaceLocked(Region* region) {
  for (const auto& r : Unsealed(*region)) {
    long err = AnonymousOver(region->base + r.first, r.second - r.first, PROT_READ | PROT_WRITE);
    if (err != 0) return err;
  }
  region->reserved = true;
  return 0;
}

void LinkLocked(Registry* reg, Region* region) {
  EnvState& state = reg->envs[region->env];
  region->next = state.regions;
  if (state.regions != nullptr) state.regions->prev = region;
  state.regions = region;
  region->linked = true;
}

void UnlinkLocked(Registry* reg, Region* region) {
  if (!region->linked) return;
  if (region->prev != nullptr) {
    region->prev->next = region->next;
  } else {
    auto env = reg->envs.find(region->env);
    if (env != reg->envs.end() && env->second.regions == region) env->second.regions = region->next;
  }
  if (region->next != nullptr) region->next->prev = region->prev;
  region->prev = region->next = nullptr;
  region->linked = false;
}

// One holder (a view) is gone; the last one releases the region. Lock held.
void DropHolderLocked(Registry* reg, const RegionPtr& region) {
  g_holders--;
  if (--region->holders > 0) return;
  ReleaseLocked(reg, region.get());
  UnlinkLocked(reg, region.get());
}

// Whether a view could still give JavaScript the region's pages without memseal being able to detach it:
// its ArrayBuffer is collected (and may have been transferred before), or detached by someone else
// (ArrayBuffer.prototype.transfer() moved the pages to an ArrayBuffer memseal never saw). Fills `reach`
// with the ArrayBuffers that can be detached. Runs on the region's own thread.
bool Unreachable(napi_env env, const Region& region, std::vector<std::pair<View*, napi_value>>* reach) {
  bool uncertain = false;
  for (View* v : region.views) {
    if (v->detached) continue;
    napi_value ab = nullptr;
    if (v->ref == nullptr || napi_get_reference_value(env, v->ref, &ab) != napi_ok || ab == nullptr) {
      // Collected: a view memseal kept to itself went with its Mapping; one handed out may have been
      // transferred first, and its pages may still be reachable.
      uncertain = uncertain || v->exposed;
      continue;
    }
    bool detached = false;
    if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached) {
      uncertain = true;
      continue;
    }
    if (reach != nullptr) reach->emplace_back(v, ab);
  }
  return uncertain;
}

void DetachAll(napi_env env, const std::vector<std::pair<View*, napi_value>>& reach) {
  for (const auto& entry : reach) {
    entry.first->detached = true;
    napi_detach_arraybuffer(env, entry.second);  // fails only while the environment is torn down
  }
}

void FinalizeView(napi_env env, void*, void* hint) {
  View* view = static_cast<View*>(hint);
  if (view->creating) return;  // the runtime refused the buffer: NewView cleans up
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  Region& region = *view->region;
  region.views.erase(std::remove(region.views.begin(), region.views.end(), view), region.views.end());
  if (view->ref != nullptr) napi_delete_reference(env, view->ref);
  DropHolderLocked(&reg, view->region);
  delete view;
}

void ReleaseEnvironment(void* arg) {
  napi_env env = static_cast<napi_env>(arg);
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto it = reg.envs.find(env);
  if (it == reg.envs.end()) return;
  // Node has finalized this environment's ArrayBuffers already (its cleanup hooks were added after this
  // one, and run first); no JavaScript runs any more, so every remaining page can go.
  for (Region* region = it->second.regions; region != nullptr;) {
    Region* next = region->next;
    ReleaseLocked(&reg, region);
    region->prev = region->next = nullptr;
    region->linked = false;
    region = next;
  }
  reg.envs.erase(it);
}

}  // namespace

void SetMaxViewLength(size_t length) {
  g_maxView = length;
}
size_t MaxViewLength() {
  return g_maxView.load();
}

long HugetlbGranule(int fd) {
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0) return -errno;
  return static_cast<unsigned long>(fs.f_type) == HUGETLBFS_MAGIC ? static_cast<long>(fs.f_bsize) : 0;
}

RegionPtr NewRegion(napi_env env, uint8_t* base, size_t length, size_t granule, const FileId& file) {
  auto region = std::make_shared<Region>();
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  region->id = reg.nextId++;
  region->base = base;
  region->length = length;
  region->granule = granule;
  region->span = granule == 0 ? length : (length + granule - 1) / granule * granule;
  region->mapped = true;
  region->env = env;
  region->dev = file.dev;
  region->ino = file.ino;
  region->fileOffset = file.offset;
  reg.live[reinterpret_cast<uintptr_t>(base)] = region;
  reg.byId[region->id] = region;
  if (file.dev >= 0) reg.files.emplace(std::make_pair(file.dev, file.ino), region.get());
  reg.envs[env].mapped.insert(region.get());
  LinkLocked(&reg, region.get());
  return region;
}

void DiscardRegion(const RegionPtr& region) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  if (region->holders > 0) return;  // something reached JavaScript after all: its finalizer releases it
  ReleaseLocked(&reg, region.get());
  UnlinkLocked(&reg, region.get());
}

napi_value NewView(napi_env env, const RegionPtr& region, size_t offset, size_t length, bool exposed) {
  if (length > MaxViewLength()) {
    // Beyond what the runtime can make, Node would refuse with its own exception after calling the
    // finalizer; say why here instead, naming the limit.
    std::string msg = "a view of " + std::to_string(length) + " bytes is larger than the largest ArrayBuffer " +
                      "this runtime can make (" + std::to_string(MaxViewLength()) + " bytes)";
    napi_value text, code, err;
    if (napi_create_string_utf8(env, msg.c_str(), NAPI_AUTO_LENGTH, &text) == napi_ok &&
        napi_create_string_utf8(env, "ERR_MEMSEAL_BUFFER_TOO_LARGE", NAPI_AUTO_LENGTH, &code) == napi_ok &&
        napi_create_range_error(env, code, text, &err) == napi_ok) {
      napi_throw(env, err);  // napi_pending_exception while the environment is torn down: nothing to do
    }
    return nullptr;
  }
  auto* view = new View();
  view->region = region;
  view->offset = offset;
  view->length = length;
  view->exposed = exposed;
  {
    Registry& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    if (!region->mapped) {
      delete view;
      return nullptr;
    }
    region->views.push_back(view);
    region->holders++;
    region->exposed = region->exposed || exposed;
    g_holders++;
  }
  napi_value buffer = nullptr;
  napi_status status =
      napi_create_external_arraybuffer(env, region->base + offset, length, FinalizeView, view, &buffer);
  if (status == napi_ok) napi_create_reference(env, buffer, 0, &view->ref);  // a null ref reads as uncertain
  {
    Registry& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    view->creating = false;
    if (status != napi_ok) {
      // The runtime refused (and may have called FinalizeView already, which left everything to us).
      region->views.erase(std::remove(region->views.begin(), region->views.end(), view), region->views.end());
      region->holders--;
      g_holders--;
      delete view;
      buffer = nullptr;
    }
  }
  if (status != napi_ok && status != napi_pending_exception) {
    const char* msg =
        status == napi_no_external_buffers_allowed
            ? "this runtime forbids external ArrayBuffers, so a mapping cannot be exposed without copying it"
            : "could not create an external ArrayBuffer over the mapping";
    const char* code =
        status == napi_no_external_buffers_allowed ? "ERR_MEMSEAL_NO_EXTERNAL_BUFFERS" : "ERR_MEMSEAL_EXTERNAL_BUFFER";
    napi_throw_error(env, code, msg);
  }
  return buffer;
}

void Expose(const RegionPtr& region) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  region->exposed = true;
  for (View* v : region->views) v->exposed = true;
}

RegionPtr RegionById(uint64_t id) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto it = reg.byId.find(id);
  return it == reg.byId.end() ? nullptr : it->second;
}

RegionPtr RegionOf(Napi::Value value) {
  if (!value.IsArrayBuffer()) return nullptr;
  Napi::ArrayBuffer ab = value.As<Napi::ArrayBuffer>();
  void* data = ab.Data();  // nullptr once detached
  if (data == nullptr) return nullptr;
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto it = reg.live.find(reinterpret_cast<uintptr_t>(data));
  if (it == reg.live.end() || !it->second->mapped || ab.ByteLength() > it->second->length) return nullptr;
  return it->second;
}

long UnmapRegion(napi_env env, const RegionPtr& region) {
  Registry& reg = registry();
  std::vector<std::pair<View*, napi_value>> reach;
  {
    std::lock_guard<std::mutex> lock(reg.mutex);
    if (!region->mapped) return 0;
    bool uncertain = Unreachable(env, *region, &reach);
    if (!region->sealed.empty()) {
      // The kernel refuses to unmap a range that holds a sealed VMA, and munmap(2) is atomic: ask it, so
      // the caller gets its own answer (EPERM), and leave everything as it is.
      if (munmap(region->base, region->span) != 0) return -errno;
    } else if (uncertain) {
      long r = ReplaceLocked(region.get());
      if (r != 0) return r;
    } else if (munmap(region->base, region->span) != 0) {
      return -errno;
    }
    ForgetLocked(&reg, region.get());
    if (region->holders == 0) ReleaseLocked(&reg, region.get());
  }
  DetachAll(env, reach);
  return 0;
}

long RemapRegion(napi_env env, const RegionPtr& region, size_t length, bool mayMove) {
  Registry& reg = registry();
  std::vector<std::pair<View*, napi_value>> reach;
  {
    std::lock_guard<std::mutex> lock(reg.mutex);
    if (!region->mapped) return -EBADF;
    if (Unreachable(env, *region, &reach)) return -EBUSY;
    // A hugetlb region is mapped in whole huge pages: the old length given is all of them (the kernel
    // rounds the new one itself, and refuses to grow such a mapping with EINVAL).
    void* p = mremap(region->base, region->span, length, mayMove ? MREMAP_MAYMOVE : 0);
    if (p == MAP_FAILED) return -errno;
    ForgetLocked(&reg, region.get());
    region->base = static_cast<uint8_t*>(p);
    region->length = length;
    region->span = region->granule == 0 ? length : (length + region->granule - 1) / region->granule * region->granule;
    region->mapped = true;
    reg.live[reinterpret_cast<uintptr_t>(region->base)] = region;
    reg.byId[region->id] = region;
    if (region->dev >= 0) reg.files.emplace(std::make_pair(region->dev, region->ino), region.get());
    auto state = reg.envs.find(env);
    if (state != reg.envs.end()) state->second.mapped.insert(region.get());
    // Sealed ranges cannot move (mseal(2)): a sealed region never gets this far.
  }
  DetachAll(env, reach);
  return 0;
}

namespace {

// Zero pages over [from, to) of a window, read-only as its files are mapped. Lock held. 0 or -errno.
long ZeroLocked(Region* region, size_t from, size_t to) {
  return to <= from ? 0 : AnonymousOver(region->base + from, to - from, PROT_READ);
}

// The window no longer shows a file: the resize() guard forgets it. Lock held.
void ForgetFileLocked(Registry* reg, Region* region) {
  UnindexFileLocked(reg, region);
  region->dev = region->ino = -1;
  region->fileOffset = 0;
  region->filled = 0;
  region->filledUnit = 0;
}

}  // namespace

long FillRegion(const RegionPtr& region, int fd, size_t length, size_t fileGranule, const FileId& file) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  if (!region->mapped) return -EBADF;
  if (!region->sealed.empty()) return -EPERM;  // mseal(2)ed pages cannot be replaced
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t unit = fileGranule != 0 ? fileGranule : page;
  size_t span = (length + unit - 1) / unit * unit;
  if (length == 0 || length > region->length || span > region->span ||
      reinterpret_cast<uintptr_t>(region->base) % unit != 0) {
    return -EINVAL;
  }
  size_t before = region->filled;
  bool hugeBefore = region->filledUnit > page;
  ForgetFileLocked(&reg, region.get());
  // A hugetlbfs mapping cannot be partly replaced at a bound inside a huge page (EINVAL): replace it whole
  // with zero pages first.
  if (hugeBefore) {
    long z = ZeroLocked(region.get(), 0, before);
    if (z != 0) return z;
    before = 0;
  }
  void* p = mmap(region->base, span, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED) {
    long err = -errno;
    ZeroLocked(region.get(), 0, std::max(before, span));  // whatever the kernel left there: zeros, not a hole
    return err;
  }
  long r = ZeroLocked(region.get(), span, before);
  if (r != 0) {
    ZeroLocked(region.get(), 0, std::max(before, span));
    return r;
  }
  region->filled = span;
  region->filledUnit = unit;
  region->dev = file.dev;
  region->ino = file.ino;
  region->fileOffset = file.offset;
  if (file.dev >= 0) reg.files.emplace(std::make_pair(file.dev, file.ino), region.get());
  return 0;
}

long ClearRegion(const RegionPtr& region) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  if (!region->mapped) return -EBADF;
  if (region->filled == 0) return 0;
  long r = ZeroLocked(region.get(), 0, region->filled);
  if (r != 0) return r;
  ForgetFileLocked(&reg, region.get());
  return 0;
}

void MarkSealed(const RegionPtr& region, size_t offset, size_t length) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  size_t end = offset + length;
  if (region->granule != 0) end = (end + region->granule - 1) / region->granule * region->granule;
  region->sealed.emplace_back(offset, std::min(end, region->span));
}

uint64_t MappedEnd(double dev, double ino) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  uint64_t end = 0;
  auto range = reg.files.equal_range({dev, ino});
  for (auto it = range.first; it != range.second; ++it) {
    const Region& r = *it->second;
    end = std::max<uint64_t>(end, r.fileOffset + (r.filled != 0 ? r.filled : r.span));
  }
  return end;
}

size_t RegionCount(napi_env env) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto it = reg.envs.find(env);
  return it == reg.envs.end() ? 0 : it->second.mapped.size();
}

int64_t PendingFinalizers() {
  return g_holders.load();
}

size_t LiveRegions() {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  return reg.live.size();
}

void SweepRegions(napi_env env, bool force) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto it = reg.envs.find(env);
  if (it == reg.envs.end()) return;
  EnvState& state = it->second;
  if (!force && state.mapped.size() < state.nextSweep) return;
  std::vector<Region*> gone;
  for (Region* region : state.mapped) {
    if (!region->sealed.empty()) continue;
    bool alive = false;
    for (View* v : region->views) {
      napi_value value = nullptr;
      if (!v->detached && v->ref != nullptr && (napi_get_reference_value(env, v->ref, &value) != napi_ok || value)) {
        alive = true;
        break;
      }
    }
    if (!alive) gone.push_back(region);
  }
  for (Region* region : gone) {
    // Collected, its finalizers still waiting for the event loop. If no view was ever handed out, nothing
    // can reach the pages: unmap them. Otherwise a transferred ArrayBuffer might: release the file in place.
    if (!region->exposed) {
      if (munmap(region->base, region->span) == 0) ForgetLocked(&reg, region);
    } else if (ReplaceLocked(region) == 0) {
      ForgetLocked(&reg, region);
    }
  }
  state.nextSweep = std::max(kFirstSweep, 2 * state.mapped.size());
}

void InstallRegionCleanup(napi_env env) {
  {
    Registry& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    reg.envs[env].nextSweep = kFirstSweep;
  }
  napi_add_env_cleanup_hook(env, ReleaseEnvironment, env);
}

}  // namespace memseal
