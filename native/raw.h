// Raw regions: address ranges the conformance suite cuts, moves and seals in its child processes.
// JavaScript holds an opaque External; it has no view over the pages, so a hole punched with munmap can
// never be read by accident. Reads and writes go through explicit peek/poke calls, which the suite makes
// only in child processes, where a fault is an observation and not a crash of the runner.
#ifndef MEMSEAL_RAW_H_
#define MEMSEAL_RAW_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace memseal {

struct RawRegion {
  uint8_t* base;
  size_t length;
};

// The base address and length behind a mapping ArrayBuffer or a raw region External; false (and a pending
// TypeError) for anything else.
bool TargetOf(const Napi::CallbackInfo& info, size_t i, uint8_t** base, size_t* length);

}  // namespace memseal

#endif  // MEMSEAL_RAW_H_
