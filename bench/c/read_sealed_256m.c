/*
 * Scenario 5: read every byte of a 256 MiB sealed memfd through a read-only shared mapping.
 * Setup (not timed): memfd_create, ftruncate, fill with pwrite, F_ADD_SEALS shrink|grow|write.
 * Timed, per operation: mmap read-only, sum every byte, munmap. The byte sum is printed after the time so the
 * runner can check that both sides read the same bytes. The loop is the plain C byte loop; cc -O2 is free
 * to vectorise it. With a third argument "pages" it reads one byte per page instead: the page faults of
 * the read without the arithmetic, which is what "zero copy" is about.
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (256UL << 20)
#define CHUNK (1UL << 20)

static int pages_only;

static uint32_t pass(int fd) {
  const uint8_t* p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  uint32_t sum = 0;
  const volatile uint8_t* v = p;
  if (pages_only) {
    for (size_t i = 0; i < SIZE; i += 4096) sum += v[i];
  } else {
    for (size_t i = 0; i < SIZE; i++) sum += p[i];
  }
  CHECK(munmap((void*)p, SIZE));
  return sum;
}

int main(int argc, char** argv) {
  long iterations, warmup;
  parse_counts(argc, argv, &iterations, &warmup);
  pages_only = argc > 3 && strcmp(argv[3], "pages") == 0;
  int fd = memfd_create("bench-256m", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  CHECK(fd);
  CHECK(ftruncate(fd, SIZE));
  static uint8_t chunk[CHUNK];
  for (size_t i = 0; i < CHUNK; i++) chunk[i] = (uint8_t)(i * 7 + 3);
  for (size_t off = 0; off < SIZE; off += CHUNK) CHECK(pwrite(fd, chunk, CHUNK, (off_t)off) == (ssize_t)CHUNK ? 0 : -1);
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
  uint32_t sum = 0;
  for (long i = 0; i < warmup; i++) sum = pass(fd);
  struct stopwatch t0 = start();
  for (long i = 0; i < iterations; i++) sum = pass(fd);
  report_partial(t0, iterations);
  printf(" %u\n", sum); /* then the byte sum, which the runner compares with the memseal side's */
  close(fd);
  return 0;
}
