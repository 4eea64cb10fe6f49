/* Scenario 1: F_GET_SEALS in a tight loop, the pure cost of one system call (Memfd#sealBits). */
#include "bench.h"  /* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long iterations, warmup;
  parse_counts(argc, argv, &iterations, &warmup);
  int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  CHECK(fd);
  volatile int sink = 0;
  for (long i = 0; i < warmup; i++) sink += fcntl(fd, F_GET_SEALS);
  struct stopwatch t0 = start();
  for (long i = 0; i < iterations; i++) {
    int seals = fcntl(fd, F_GET_SEALS);
    CHECK(seals);
    sink += seals;
  }
  report(t0, iterations);
  close(fd);
  return 0;
}
