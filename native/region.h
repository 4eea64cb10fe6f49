// The registry of mappings handed to JavaScript as external ArrayBuffers.
//
// JavaScript only ever holds the ArrayBuffer; the address stays here. Each region is shared between the
// registry (found by base address when a method is called with the ArrayBuffer) and the ArrayBuffer's
// finalizer, so whichever of munmap(), the finalizer and an environment's teardown runs first, the others
// see `mapped == false` and leave the address alone: it may already belong to someone else.
#ifndef MEMSEAL_REGION_H_
#define MEMSEAL_REGION_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace memseal {

struct Region {
  uint8_t* base = nullptr;
  size_t length = 0;    // what JavaScript sees: the ArrayBuffer's byteLength
  size_t granule = 0;   // the mapping's page size where the kernel rounds lengths to it (hugetlbfs), else 0
  size_t span = 0;      // what the kernel mapped: length rounded up to the granule; munmap needs all of it
  bool mapped = false;  // false once munmapped, moved by mremap, or released at teardown
  bool sealed = false;  // mseal(2)ed through this region: munmap can only fail with EPERM from now on
  napi_env env = nullptr;
};
using RegionPtr = std::shared_ptr<Region>;

// Wraps freshly mapped pages in an external ArrayBuffer whose finalizer munmaps them. On failure the
// pages are unmapped again and a JavaScript exception is pending (never a copy: a copy is not a mapping).
// `granule`: the huge page size of a hugetlbfs mapping, whose length the kernel rounded up to it (and
// whose munmap fails with EINVAL for anything shorter); 0 for ordinary pages.
Napi::Value WrapRegion(Napi::Env env, uint8_t* base, size_t length, size_t granule);

// The huge page size when `fd` is a file on hugetlbfs (a MFD_HUGETLB memfd), else 0.
size_t HugetlbGranule(int fd);

// The live region behind an ArrayBuffer, or nullptr if it is not one of ours or no longer mapped.
RegionPtr RegionOf(Napi::Value value);

// munmap()s a whole region. Returns 0 or -errno; on success the region is marked unmapped and dropped
// from the registry (the caller detaches the ArrayBuffer).
long UnmapRegion(const RegionPtr& region);

// Records a successful mseal(2) of (part of) the region. The kernel refuses to unmap any range that holds a
// sealed VMA, so the finalizer and the teardown hook stop asking it to (they would only collect EPERM).
void MarkSealed(const RegionPtr& region);

// Forgets a region whose pages were moved (mremap) without unmapping them.
void ForgetRegion(const RegionPtr& region);

// Live regions created in this environment (for tests of the finalizer and of teardown).
size_t RegionCount(napi_env env);

// ArrayBuffers over mappings whose finalizer has not run yet, in the whole process.
int64_t PendingFinalizers();

// Installs the environment cleanup hook that releases this environment's regions when it is torn down
// (a worker thread exiting), so a worker's mappings do not outlive it.
void InstallRegionCleanup(Napi::Env env);

}  // namespace memseal

#endif  // MEMSEAL_REGION_H_
