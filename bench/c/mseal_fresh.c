/*
 * Scenario 4: mseal(2) of a fresh anonymous one-page mapping: mmap, then mseal. Sealed pages stay
 * mapped until the process exits, so each batch runs in its own process (this one).
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_mseal
#define __NR_mseal 462
#endif

enum { SIZE = 4096 };

static void once(void) {
  void* p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  CHECK(syscall(__NR_mseal, p, SIZE, 0UL));
}

int main(int argc, char** argv) { return time_ops(argc, argv, once); }
