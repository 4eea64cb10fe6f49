// Cheap argument guards for the native surface. lib/ validates every public argument first; these only
// make sure that a wrong call from JavaScript throws a TypeError instead of crashing the process.
//
// Every failure path here and in the addon is written for an environment that may be unable to run
// JavaScript (a worker being terminated, where Node-API calls answer napi_pending_exception with no
// exception pending): errors are thrown with the plain C calls and their status is checked, so nothing
// aborts the process; the call simply returns undefined to a JavaScript that will never run again.
#ifndef MEMSEAL_ARGS_H_
#define MEMSEAL_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace memseal {

inline bool Fail(const Napi::CallbackInfo& info, size_t i, const char* what) {
  std::string msg = "argument " + std::to_string(i) + " must be " + what;
  bool pending = false;
  // One exception at a time; and none at all while the environment is going away.
  if (napi_is_exception_pending(info.Env(), &pending) == napi_ok && !pending) {
    napi_throw_type_error(info.Env(), nullptr, msg.c_str());
  }
  return false;
}

// An integer from a Number (safe integer) or a BigInt (any 64-bit pattern, for raw lengths such as
// SIZE_MAX that the conformance suite passes to the kernel on purpose). Numbers are the hot path: one
// napi_get_value_double both tests the type and reads the value (napi_typeof is only asked when it fails).
inline bool ArgU64(const Napi::CallbackInfo& info, size_t i, uint64_t* out) {
  *out = 0;
  Napi::Value v = info[i];
  double d;
  if (napi_get_value_double(info.Env(), v, &d) == napi_ok) {
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0) {
      return Fail(info, i, "a safe integer");
    }
    *out = d < 0 ? static_cast<uint64_t>(static_cast<int64_t>(d)) : static_cast<uint64_t>(d);
    return true;
  }
  if (v.IsBigInt()) {
    bool lossless = false;
    *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return true;
    int64_t s = v.As<Napi::BigInt>().Int64Value(&lossless);  // negative BigInts wrap, like C
    *out = static_cast<uint64_t>(s);
    return lossless || Fail(info, i, "a 64-bit integer");
  }
  return Fail(info, i, "a number or bigint");
}

inline bool ArgI64(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  uint64_t u;
  if (!ArgU64(info, i, &u)) return false;
  *out = static_cast<int64_t>(u);
  return true;
}

inline bool ArgInt(const Napi::CallbackInfo& info, size_t i, int* out) {
  *out = 0;
  double d;
  if (napi_get_value_double(info.Env(), info[i], &d) != napi_ok) return Fail(info, i, "a number");
  if (!std::isfinite(d) || std::floor(d) != d || d < -2147483648.0 || d > 4294967295.0) {
    return Fail(info, i, "a 32-bit integer");
  }
  *out = static_cast<int>(static_cast<int64_t>(d));  // 0x80000000 and above keep their bit pattern
  return true;
}

// A finite Number (a file's st_dev or st_ino, or -1 for none).
inline bool ArgDouble(const Napi::CallbackInfo& info, size_t i, double* out) {
  *out = 0;
  if (napi_get_value_double(info.Env(), info[i], out) != napi_ok || !std::isfinite(*out)) {
    return Fail(info, i, "a finite number");
  }
  return true;
}

// A boolean, read without coercion.
inline bool ArgBool(const Napi::CallbackInfo& info, size_t i, bool* out) {
  *out = false;
  if (napi_get_value_bool(info.Env(), info[i], out) != napi_ok) return Fail(info, i, "a boolean");
  return true;
}

// Syscall results are small integers: napi_create_int32 gives V8 a Smi directly.
inline Napi::Value Result(Napi::Env env, long r) {
  napi_value value;
  if (r >= INT32_MIN && r <= INT32_MAX) {
    napi_create_int32(env, static_cast<int32_t>(r), &value);
  } else {
    napi_create_double(env, static_cast<double>(r), &value);
  }
  return Napi::Value(env, value);
}

}  // namespace memseal

#endif  // MEMSEAL_ARGS_H_
