// memfd_create(2), fcntl(2) for seals, and fallocate(2): the file-side calls node:fs does not offer.
// ftruncate, pread/pwrite and fchmod go through node:fs on the same fd in lib/. fstat is also here, for the
// hot paths only: node:fs would build a whole fs.Stats (with four Dates) for the three numbers they use.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <string>

#include "args.h"
#include "compat.h"
#include "exports.h"

namespace memseal {
namespace {

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
  return Result(info.Env(), fallocate(fd, mode, offset, length) == 0 ? 0 : -errno);
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
  long r = SysFcntl(static_cast<int>(static_cast<int64_t>(d)), F_GET_SEALS, 0);
  napi_create_int32(env, static_cast<int32_t>(r), &out);
  return out;
}

// fstat(fd, out) -> 0 | -errno. Stores st_dev, st_ino, st_size and st_mode into out, a Float64Array of
// at least 4 elements that the caller reuses, so no object is allocated per call.
Napi::Value Fstat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::Float64Array>().ElementLength() < 4) {
    Fail(info, 1, "a Float64Array of at least 4 elements");
    return env.Undefined();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return Result(env, -errno);
  double* out = info[1].As<Napi::Float64Array>().Data();
  out[0] = static_cast<double>(st.st_dev);
  out[1] = static_cast<double>(st.st_ino);
  out[2] = static_cast<double>(st.st_size);
  out[3] = static_cast<double>(st.st_mode);
  return Result(env, 0);
}

}  // namespace

void InitMemfd(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("fcntl", Napi::Function::New(env, Fcntl, "fcntl"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  napi_value getSeals;
  napi_create_function(env, "getSeals", NAPI_AUTO_LENGTH, GetSeals, nullptr, &getSeals);
  exports.Set("getSeals", Napi::Value(env, getSeals));
}

}  // namespace memseal
