// noop(): the empty Node-API call, exported only so that the benchmarks (bench/) can measure the floor
// every native call pays (the V8 → Node-API trampoline, its handle scope and its exception check) in the
// same run as the calls that do work. It reads no argument, makes no system call and returns undefined.
#include <node_api.h>

#include "exports.h"

namespace memseal {
namespace {

napi_value Noop(napi_env, napi_callback_info) {
  return nullptr;
}

}  // namespace

void InitFloor(Napi::Env env, Napi::Object exports) {
  napi_value noop;
  if (napi_create_function(env, "noop", NAPI_AUTO_LENGTH, Noop, nullptr, &noop) == napi_ok) {
    exports.Set("noop", Napi::Value(env, noop));
  }
}

}  // namespace memseal
