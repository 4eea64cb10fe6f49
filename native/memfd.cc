// memfd_create(2), fcntl(2) for seals, and fallocate(2): the file-side calls node:fs does not offer.
// ftruncate, pread/pwrite and fchmod go through node:fs on the same fd in lib/. fstat is also here, for the
// hot paths only: node:fs would build a whole fs.Stats (with four Dates) for the three numbers they use.
//
// And the ownership of a Memfd's descriptor, as fs.FileHandle has it: the Memfd object is wrapped with
// the descriptor's identity (st_dev, st_ino). close() closes it; a Memfd the garbage collector takes
// closes it in its finalizer (Node runs it on the event loop), or earlier, when a later adopt() finds it
// collected; an environment torn down (a worker thread ending) closes every one it still owns. Every
// close first checks that the number still refers to the same file: one closed elsewhere and reused by
// someone else is left alone.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "args.h"
#include "compat.h"
#include "exports.h"
#include "region.h"

namespace memseal {
namespace {

struct Owner {
  int fd = -1;  // -1 once closed
  dev_t dev = 0;
  ino_t ino = 0;
  napi_env env = nullptr;
  napi_ref ref = nullptr;  // weak, returned by napi_wrap; deleted by the finalizer
};

struct OwnerEnv {
  std::unordered_set<Owner*> open;
  size_t nextSweep = 0;
};

// Process-wide for the same reasons as the region registry; never destroyed.
struct Owners {
  std::mutex mutex;
  std::unordered_map<napi_env, OwnerEnv> envs;
  // Every owner not yet finalized: napi_unwrap of an object wrapped by someone else gives a pointer that is
  // not in here, so it is never taken for an owner.
  std::unordered_set<const void*> all;
};
Owners& owners() {
  static Owners* o = new Owners();
  return *o;
}

constexpr size_t kFirstOwnerSweep = 256;

// Closes the owner's descriptor if it is still the same file. Lock held.
void CloseOwnerLocked(Owners* o, Owner* owner) {
  if (owner->fd < 0) return;
  struct stat st;
  if (fstat(owner->fd, &st) == 0 && st.st_dev == owner->dev && st.st_ino == owner->ino) close(owner->fd);
  owner->fd = -1;
  auto env = o->envs.find(owner->env);
  if (env != o->envs.end()) env->second.open.erase(owner);
}

void FinalizeOwner(napi_env env, void* data, void*) {
  Owner* owner = static_cast<Owner*>(data);
  Owners& o = owners();
  std::lock_guard<std::mutex> lock(o.mutex);
  o.all.erase(owner);
  CloseOwnerLocked(&o, owner);
  if (owner->ref != nullptr) napi_delete_reference(env, owner->ref);
  delete owner;
}

void ReleaseOwners(void* arg) {
  napi_env env = static_cast<napi_env>(arg);
  Owners& o = owners();
  std::lock_guard<std::mutex> lock(o.mutex);
  auto it = o.envs.find(env);
  if (it == o.envs.end()) return;
  std::vector<Owner*> open(it->second.open.begin(), it->second.open.end());
  for (Owner* owner : open) CloseOwnerLocked(&o, owner);
  o.envs.erase(it);
}

// Closes, at once, the descriptors of Memfds the garbage collector has taken (their finalizers wait for
// the event loop), when the environment owns twice as many as after the last look. Lock held.
void SweepOwnersLocked(Owners* o, napi_env env, OwnerEnv* state) {
  if (state->open.size() < state->nextSweep) return;
  std::vector<Owner*> gone;
  for (Owner* owner : state->open) {
    napi_value value = nullptr;
    if (napi_get_reference_value(env, owner->ref, &value) == napi_ok && value == nullptr) gone.push_back(owner);
  }
  for (Owner* owner : gone) CloseOwnerLocked(o, owner);
  state->nextSweep = std::max(kFirstOwnerSweep, 2 * state->open.size());
}

// The owner wrapped into `value`, or nullptr. Call with the lock held.
Owner* OwnerOfLocked(Owners* o, napi_env env, napi_value value) {
  napi_valuetype type;
  void* data = nullptr;
  if (value == nullptr || napi_typeof(env, value, &type) != napi_ok || type != napi_object ||
      napi_unwrap(env, value, &data) != napi_ok || o->all.count(data) == 0) {
    return nullptr;
  }
  return static_cast<Owner*>(data);
}

bool StatOut(const Napi::CallbackInfo& info, size_t i, double** out) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[i].As<Napi::Float64Array>().ElementLength() < 4) {
    return Fail(info, i, "a Float64Array of at least 4 elements");
  }
  *out = info[i].As<Napi::Float64Array>().Data();
  return true;
}

void Store(double* out, const struct stat& st) {
  out[0] = static_cast<double>(st.st_dev);
  out[1] = static_cast<double>(st.st_ino);
  out[2] = static_cast<double>(st.st_size);
  out[3] = static_cast<double>(st.st_mode);
}

// memfdCreate(name, flags) -> fd | -errno.
// name: a string (NUL-terminated here); a Buffer, passed as raw bytes with no terminator added (for the
// documented name-length limits); null for a NULL pointer; or a number used as the pointer itself (the
// documented EFAULT cases). The last two exist for the conformance suite; lib/ only passes strings.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int flags;
  if (!ArgInt(info, 1, &flags)) return env.Undefined();
  Napi::Value name = info[0];
  if (name.IsString()) {
    std::string s = name.As<Napi::String>().Utf8Value();
    return Result(env, SysMemfdCreate(s.c_str(), static_cast<unsigned>(flags)));
  }
  if (name.IsBuffer()) {
    return Result(env, SysMemfdCreate(name.As<Napi::Buffer<char>>().Data(), static_cast<unsigned>(flags)));
  }
  if (name.IsNull()) return Result(env, SysMemfdCreate(nullptr, static_cast<unsigned>(flags)));
  if (name.IsNumber()) {
    uint64_t p;
    if (!ArgU64(info, 0, &p)) return env.Undefined();
    return Result(env, SysMemfdCreate(reinterpret_cast<const char*>(p), static_cast<unsigned>(flags)));
  }
  Fail(info, 0, "a string, Buffer, null or number");
  return env.Undefined();
}

// fcntl(fd, cmd, arg) -> result | -errno. arg may be a BigInt so that all 64 bits reach the kernel.
Napi::Value Fcntl(const Napi::CallbackInfo& info) {
  int fd, cmd;
  uint64_t arg = 0;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &cmd)) return info.Env().Undefined();
  if (info.Length() > 2 && !info[2].IsUndefined() && !ArgU64(info, 2, &arg)) return info.Env().Undefined();
  return Result(info.Env(), SysFcntl(fd, cmd, static_cast<unsigned long>(arg)));
}

// fallocate(fd, mode, offset, length) -> 0 | -errno
Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  int fd, mode;
  int64_t offset, length;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &mode) || !ArgI64(info, 2, &offset) || !ArgI64(info, 3, &length)) {
    return info.Env().Undefined();
  }
  return Result(info.Env(), SysFallocate(fd, mode, offset, length));
}

// close(fd) -> 0 | -errno. memseal closes the fds it creates itself: node:fs tracks descriptors it
// opened in worker threads and warns about closing any other one.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  return Result(info.Env(), close(fd) == 0 ? 0 : -errno);
}

// getSeals(fd) -> F_GET_SEALS bits | -errno: Memfd#sealBits, the hottest call in the API. Written against
// the plain C Node-API (one argument fetched, no Napi::CallbackInfo) because at ~200 ns per call the
// wrapper's own bookkeeping shows: it is ~15% of the call. The guard is ArgInt's, with its messages.
napi_value GetSeals(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value arg;
  double d;
  napi_value out;
  if (napi_get_cb_info(env, cbinfo, &argc, &arg, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 1 || napi_get_value_double(env, arg, &d) != napi_ok) {
    napi_throw_type_error(env, nullptr, "argument 0 must be a number");
    return nullptr;
  }
  if (!std::isfinite(d) || std::floor(d) != d || d < -2147483648.0 || d > 4294967295.0) {
    napi_throw_type_error(env, nullptr, "argument 0 must be a 32-bit integer");
    return nullptr;
  }
  long r = SysGetSeals(static_cast<int>(static_cast<int64_t>(d)));
  return napi_create_int32(env, static_cast<int32_t>(r), &out) == napi_ok ? out : nullptr;
}

// fstat(fd, out) -> 0 | -errno. Stores st_dev, st_ino, st_size and st_mode into out, a Float64Array of
// at least 4 elements that the caller reuses, so no object is allocated per call.
Napi::Value Fstat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  double* out;
  if (!ArgInt(info, 0, &fd) || !StatOut(info, 1, &out)) return env.Undefined();
  struct stat st;
  if (fstat(fd, &st) != 0) return Result(env, -errno);
  Store(out, st);
  return Result(env, 0);
}

// Makes `object` (a fresh Memfd) the owner of fd, after fstat(fd) into out. Returns fd or -errno; on
// failure fd is closed when `ours` (a descriptor made or taken for this owner), else left to the caller.
long Own(napi_env env, napi_value object, int fd, double* out, bool ours) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    long r = -errno;
    if (ours) close(fd);
    return r;
  }
  Store(out, st);
  auto* owner = new Owner();
  owner->fd = fd;
  owner->dev = st.st_dev;
  owner->ino = st.st_ino;
  owner->env = env;
  Owners& o = owners();
  {
    std::lock_guard<std::mutex> lock(o.mutex);
    o.all.insert(owner);
  }
  if (napi_wrap(env, object, owner, FinalizeOwner, nullptr, &owner->ref) != napi_ok) {
    {
      std::lock_guard<std::mutex> lock(o.mutex);
      o.all.erase(owner);
    }
    delete owner;
    if (ours) close(fd);
    return -EINVAL;  // already owned, or the environment is going away
  }
  std::lock_guard<std::mutex> lock(o.mutex);
  auto it = o.envs.find(env);
  if (it == o.envs.end()) return -EINVAL;  // torn down already: the finalizer closes it
  it->second.open.insert(owner);
  SweepOwnersLocked(&o, env, &it->second);
  return fd;
}

// create(memfd, name, flags, out) -> fd | -errno: memfd_create(2), the new descriptor owned by `memfd` at
// once (no moment in which a terminated thread could leave it to nobody).
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int flags;
  double* out;
  if (!info[0].IsObject()) {
    Fail(info, 0, "an object");
    return env.Undefined();
  }
  if (!info[1].IsString()) {
    Fail(info, 1, "a string");
    return env.Undefined();
  }
  if (!ArgInt(info, 2, &flags) || !StatOut(info, 3, &out)) return env.Undefined();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  long fd = SysMemfdCreate(name.c_str(), static_cast<unsigned>(flags));
  if (fd < 0) return Result(env, fd);
  return Result(env, Own(env, info[0], static_cast<int>(fd), out, true));
}

// adopt(memfd, fd, out, dup, poller?) -> fd | -errno: `memfd` (a fresh object) owns fd from now on, or,
// with dup, a close-on-exec duplicate of it; with a poller, fd is taken from the descriptors it holds
// (received, not yet handed out), in the same step. fstat of the owned descriptor goes into out.
Napi::Value Adopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  double* out;
  bool dup;
  if (!info[0].IsObject()) {
    Fail(info, 0, "an object");
    return env.Undefined();
  }
  if (!ArgInt(info, 1, &fd) || !StatOut(info, 2, &out) || !ArgBool(info, 3, &dup)) return env.Undefined();
  bool taken = false;
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    if (!info[4].IsExternal()) {
      Fail(info, 4, "a poller");
      return env.Undefined();
    }
    if (!TakeHeld(info[4], fd)) return Result(env, -EBADF);  // not a descriptor this poller holds
    taken = true;
  }
  if (dup) {
    long d = SysFcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (taken) close(fd);
    if (d < 0) return Result(env, d);
    fd = static_cast<int>(d);
  }
  return Result(env, Own(env, info[0], fd, out, dup || taken));
}

// verify(memfd, out) -> 0 | 1 | -errno: fstat of the owned descriptor into out; 1 when the number now
// refers to another file (closed elsewhere and reused), -EBADF when it is closed.
Napi::Value Verify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double* out;
  if (!StatOut(info, 1, &out)) return env.Undefined();
  Owners& o = owners();
  int fd;
  dev_t dev;
  ino_t ino;
  {
    std::lock_guard<std::mutex> lock(o.mutex);
    Owner* owner = OwnerOfLocked(&o, env, info[0]);
    if (owner == nullptr || owner->fd < 0) return Result(env, -EBADF);
    fd = owner->fd;
    dev = owner->dev;
    ino = owner->ino;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return Result(env, -errno);
  Store(out, st);
  return Result(env, st.st_dev == dev && st.st_ino == ino ? 0 : 1);
}

// release(memfd, close) -> 0 | 1 | -errno: gives up the descriptor, closing it when `close` is true and
// it still refers to the same file (1: it did not, and was left to its new owner). The Memfd is unwrapped
// on the way: nothing is left for a finalizer to do. -EBADF when it owns nothing (any more).
Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool doClose;
  if (!ArgBool(info, 1, &doClose)) return env.Undefined();
  Owners& o = owners();
  Owner* owner;
  int fd;
  dev_t dev;
  ino_t ino;
  {
    std::lock_guard<std::mutex> lock(o.mutex);
    owner = OwnerOfLocked(&o, env, info[0]);
    if (owner == nullptr) return Result(env, -EBADF);
    fd = owner->fd;
    dev = owner->dev;
    ino = owner->ino;
    owner->fd = -1;
    auto it = o.envs.find(owner->env);
    if (it != o.envs.end()) it->second.open.erase(owner);
    o.all.erase(owner);
  }
  void* data = nullptr;
  if (napi_remove_wrap(env, info[0], &data) == napi_ok) {
    // Its finalizer will not run: what it would have freed goes now (the reference napi_wrap returned too).
    napi_delete_reference(env, owner->ref);
    delete owner;
  }  // else the environment is going away, and the finalizer frees it (owning nothing, it closes nothing)
  if (!doClose || fd < 0) return Result(env, 0);
  struct stat st;
  if (fstat(fd, &st) != 0) return Result(env, -errno);
  if (st.st_dev != dev || st.st_ino != ino) return Result(env, 1);
  return Result(env, close(fd) == 0 ? 0 : -errno);
}

// ownedFds() -> descriptors Memfds of this environment still own (tests of the finalizer and sweep).
Napi::Value OwnedFds(const Napi::CallbackInfo& info) {
  Owners& o = owners();
  std::lock_guard<std::mutex> lock(o.mutex);
  auto it = o.envs.find(info.Env());
  return Napi::Number::New(info.Env(), it == o.envs.end() ? 0 : static_cast<double>(it->second.open.size()));
}

// inspect(fd, out) -> string | -errno: everything a received descriptor is judged by, in one call, so that
// the receive path's checks cost their system calls rather than a JavaScript call each. out[0]: F_GETFL;
// out[1..4]: fstat's mode, size, st_dev and st_ino (out[1] = -errno when fstat fails, and nothing after it is
// made); out[5]: F_GET_SEALS (bits or -errno); out[6]: the huge page size of a hugetlbfs file, 0 for other
// files, or -errno (fstatfs). Returns the /proc/self/fd link ('' when it cannot be read), or -errno when
// F_GETFL fails (nothing else is made then).
Napi::Value Inspect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::Float64Array>().ElementLength() < 7) {
    Fail(info, 1, "a Float64Array of at least 7 elements");
    return env.Undefined();
  }
  double* out = info[1].As<Napi::Float64Array>().Data();
  long flags = SysFcntl(fd, F_GETFL, 0);
  if (flags < 0) return Result(env, flags);
  out[0] = static_cast<double>(flags);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    out[1] = -errno;
    return Napi::String::New(env, "");
  }
  out[1] = static_cast<double>(st.st_mode);
  out[2] = static_cast<double>(st.st_size);
  out[3] = static_cast<double>(st.st_dev);
  out[4] = static_cast<double>(st.st_ino);
  out[5] = static_cast<double>(SysGetSeals(fd));
  out[6] = static_cast<double>(HugetlbGranule(fd));
  char path[32];
  char link[4096];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, link, sizeof link);
  return Napi::String::New(env, link, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

void InitMemfd(Napi::Env env, Napi::Object exports) {
  {
    Owners& o = owners();
    std::lock_guard<std::mutex> lock(o.mutex);
    o.envs[env].nextSweep = kFirstOwnerSweep;
  }
  napi_add_env_cleanup_hook(env, ReleaseOwners, static_cast<napi_env>(env));
  exports.Set("create", Napi::Function::New(env, Create, "create"));
  exports.Set("adopt", Napi::Function::New(env, Adopt, "adopt"));
  exports.Set("verify", Napi::Function::New(env, Verify, "verify"));
  exports.Set("release", Napi::Function::New(env, Release, "release"));
  exports.Set("ownedFds", Napi::Function::New(env, OwnedFds, "ownedFds"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("fcntl", Napi::Function::New(env, Fcntl, "fcntl"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  exports.Set("inspect", Napi::Function::New(env, Inspect, "inspect"));
  napi_value getSeals;
  if (napi_create_function(env, "getSeals", NAPI_AUTO_LENGTH, GetSeals, nullptr, &getSeals) == napi_ok) {
    exports.Set("getSeals", Napi::Value(env, getSeals));
  }
}

}  // namespace memseal
