/* Scenario 3: an anonymous private 64 KiB mapping (read-write), mprotect to read-only, munmap. */
#include "bench.h"  /* first: it defines _GNU_SOURCE */

#include <sys/mman.h>

enum { SIZE = 64 * 1024 };

static void once(void) {
  void* p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  CHECK(mprotect(p, SIZE, PROT_READ));
  CHECK(munmap(p, SIZE));
}

int main(int argc, char** argv) { return time_ops(argc, argv, once); }
