// The registry of mappings handed to JavaScript.
//
// A region is one kernel mapping. JavaScript never holds its address: it holds the region's id (a number,
// which the registry resolves) and views (external ArrayBuffers over all or part of the pages). The views
// are the region's holders: the garbage collector unmaps it once the last of them is finalized; unmap()
// unmaps it at once and detaches every view that can still be reached. A Mapping keeps one view of its own
// (its head: the whole mapping, or its first page when it is longer than an ArrayBuffer can be), so the
// region lives as long as the Mapping or any ArrayBuffer handed out.
//
// An ArrayBuffer can be moved away from memseal's reach (ArrayBuffer.prototype.transfer() keeps the pages
// under a new ArrayBuffer the addon never saw), and Node runs ArrayBuffer finalizers on the event loop,
// after the collection. So whenever a view that was handed out could still be reachable without memseal
// being able to detach it, the file pages are replaced in place by anonymous zero pages instead of
// unmapped: the file and its memory are released, nothing JavaScript can reach ever dangles, and the
// address range is given back when the last finalizer runs.
#ifndef MEMSEAL_REGION_H_
#define MEMSEAL_REGION_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace memseal {

struct View;

struct Region {
  uint64_t id = 0;
  uint8_t* base = nullptr;
  size_t length = 0;      // what JavaScript asked for
  size_t granule = 0;     // the page size the kernel rounds this mapping to where it is not 4 KiB (hugetlbfs)
  size_t span = 0;        // what the kernel mapped: length rounded up to the granule; munmap needs all of it
  size_t filled = 0;      // a receive window (FillRegion): how much of the span maps its current file, 0 if none
  size_t filledUnit = 0;  // and that file's page size (a hugetlbfs VMA can only be split at huge page bounds)
  bool mapped = false;    // the pages are the mapping's own (false once unmapped, moved or released)
  bool reserved = false;  // replaced by anonymous pages a view may still reach: munmapped at the last release
  std::vector<std::pair<size_t, size_t>> sealed;  // mseal(2)ed [start, end) offsets: they stay until exit
  // The file mapped, for the resize() guard: st_dev and st_ino (-1 for anonymous memory), file offset.
  double dev = -1;
  double ino = -1;
  uint64_t fileOffset = 0;
  napi_env env = nullptr;
  int holders = 0;           // views not yet finalized
  bool exposed = false;      // a view was handed to code other than memseal's (it may have been transferred)
  std::vector<View*> views;  // views not yet finalized
  // The environment's list of regions not yet released (for its teardown), linked through the regions.
  Region* prev = nullptr;
  Region* next = nullptr;
  bool linked = false;
};
using RegionPtr = std::shared_ptr<Region>;

// The identity of a mapped file: st_dev, st_ino and the offset of the mapping; dev < 0 for anonymous memory.
struct FileId {
  double dev = -1;
  double ino = -1;
  uint64_t offset = 0;
};

// Registers freshly mapped pages under a new id. `granule`: the huge page size of a hugetlbfs mapping, whose
// length the kernel rounded up to it (and whose munmap fails with EINVAL for anything shorter); 0 otherwise.
RegionPtr NewRegion(napi_env env, uint8_t* base, size_t length, size_t granule, const FileId& file);

// Unmaps a region that never reached JavaScript (its first view could not be made).
void DiscardRegion(const RegionPtr& region);

// An external ArrayBuffer over [offset, offset + length) of the region; `exposed` when it is handed to code
// other than memseal's. Returns nullptr on failure, with a JavaScript exception pending when one can be
// thrown. Never a copy: a copy is not a mapping.
napi_value NewView(napi_env env, const RegionPtr& region, size_t offset, size_t length, bool exposed);

// Records that a view memseal kept to itself (a Mapping's head) has been handed out.
void Expose(const RegionPtr& region);

// The live region with this id, or nullptr.
RegionPtr RegionById(uint64_t id);

// The live region behind an ArrayBuffer whose data starts at a region's base (the whole mapping or a view
// at offset 0), or nullptr if it is not one of ours or no longer mapped.
RegionPtr RegionOf(Napi::Value value);

// munmap()s a region (or, when a view memseal cannot detach may still reach it, replaces the pages with
// anonymous memory), then detaches every view it can reach. 0 or -errno (EPERM when part of it is sealed).
long UnmapRegion(napi_env env, const RegionPtr& region);

// mremap()s a region to `length` bytes and detaches its views; the region then describes the new pages.
// -EBUSY when a view memseal cannot detach may still reach the old pages (they must not move under it).
long RemapRegion(napi_env env, const RegionPtr& region, size_t length, bool mayMove);

// Records a successful mseal(2) of [offset, offset + length): the finalizer and the teardown hook unmap only
// the rest of the region from now on (the kernel refuses to unmap a sealed VMA).
void MarkSealed(const RegionPtr& region, size_t offset, size_t length);

// A receive window: maps `length` bytes of `fd` (from offset 0, shared, read-only) at the start of the region, in
// place over what it showed before (MAP_FIXED over our own range), and turns any part of the previous file that
// the new one does not cover back into zero pages. `fileGranule`: the huge page size of a hugetlbfs file, 0
// otherwise; the region's base must be aligned to it. On failure the window is left empty (zero pages only), so
// it never shows half of two files. 0 or -errno (-EINVAL when the file does not fit or cannot be aligned).
long FillRegion(const RegionPtr& region, int fd, size_t length, size_t fileGranule, const FileId& file);

// A receive window back to zero pages only (the file's pages are released). 0 or -errno.
long ClearRegion(const RegionPtr& region);

// The largest file offset this process has mapped of the file (dev, ino), or 0: resize() may not cut it.
uint64_t MappedEnd(double dev, double ino);

// The largest ArrayBuffer the runtime can make (buffer.constants.MAX_LENGTH), set by lib/native.ts.
void SetMaxViewLength(size_t length);
size_t MaxViewLength();

// Live regions created in this environment; mapped regions in the whole process; views not yet
// finalized in the whole process (for tests of the finalizer, the eager reclamation and teardown).
size_t RegionCount(napi_env env);
size_t LiveRegions();
int64_t PendingFinalizers();

// Reclaims, at once, regions of this environment whose views the garbage collector has all collected (their
// finalizers wait for the event loop). Called before every new mapping; it looks only when the
// environment's mapped regions have doubled since the last look (or `force`), so a loop that never yields
// stays bounded at amortised constant cost.
void SweepRegions(napi_env env, bool force);

// Sets up this environment's state and the cleanup hook that releases its regions when it is torn down (a
// worker thread exiting), so a worker's mappings do not outlive it.
void InstallRegionCleanup(napi_env env);

// Makes room for one more mapping (mapping.cc): reclaims collected ones first. 0, or -ENOMEM at memseal's
// budget of mappings.
long Room(napi_env env);

// The huge page size when `fd` is a file on hugetlbfs (a MFD_HUGETLB memfd), 0 for other files, -errno.
long HugetlbGranule(int fd);

}  // namespace memseal

#endif  // MEMSEAL_REGION_H_
