// memfd_create(2), fcntl(2) for seals, and fallocate(2): the file-side calls node:fs does not offer.
// ftruncate, pread/pwrite, fstat, fchmod and close go through node:fs on the same fd in lib/.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &mode) || !ArgI64(info, 2, &offset) ||
      !ArgI64(info, 3, &length)) {
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

}  // namespace

void InitMemfd(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("fcntl", Napi::Function::New(env, Fcntl, "fcntl"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}

}  // namespace memseal
