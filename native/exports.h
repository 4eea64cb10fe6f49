// One Init function per native concern; addon.cc calls each of them.
#ifndef MEMSEAL_EXPORTS_H_
#define MEMSEAL_EXPORTS_H_

#include <napi.h>

namespace memseal {

void InitConstants(Napi::Env env, Napi::Object exports);  // addon.cc
void InitMemfd(Napi::Env env, Napi::Object exports);      // memfd.cc: memfd_create, fcntl, fallocate
void InitMapping(Napi::Env env, Napi::Object exports);    // mapping.cc: mmap family over ArrayBuffers
void InitProbe(Napi::Env env, Napi::Object exports);      // probe.cc: forked fault probe and exec probe
void InitRaw(Napi::Env env, Napi::Object exports);        // raw.cc: address-space surgery for test children
void InitFdPass(Napi::Env env, Napi::Object exports);     // fdpass.cc: SCM_RIGHTS over AF_UNIX, uv_poll
void InitWindow(Napi::Env env, Napi::Object exports);     // window.cc: receive windows, one ArrayBuffer for many files
void InitCanary(Napi::Env env, Napi::Object exports);     // canary.cc: calls the kernel must refuse
// mseal_scenarios.cc: the mseal clauses that run in forked children
void InitMsealScenarios(Napi::Env env, Napi::Object exports);
// steps.cc: seal steps on this thread or in a single-threaded forked child
void InitSteps(Napi::Env env, Napi::Object exports);
// floor.cc: noop(), the empty Node-API call the benchmarks measure as the floor of every native call
void InitFloor(Napi::Env env, Napi::Object exports);

// fdpass.cc: takes fd from the descriptors a poller holds (received, not yet handed out); false if it
// holds no such descriptor. Lets memfd.cc adopt a received descriptor in one step.
bool TakeHeld(Napi::Value poller, int fd);

}  // namespace memseal

#endif  // MEMSEAL_EXPORTS_H_
