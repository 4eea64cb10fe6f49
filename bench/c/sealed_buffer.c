/*
 * Scenario 2: the life of a sealed buffer. memfd_create, ftruncate, pwrite 4 KiB, F_ADD_SEALS
 * (shrink|grow|write), mmap read-only, read the 4 KiB back through the mapping (memcmp against what was
 * written), munmap, close.
 * With a third argument "fstat" it also makes the calls memseal makes by design: six fstat(2) (the
 * identity of the new fd, then the identity check before each of resize, write, add seals, map (which
 * also reads the size there) and close) and the fstatfs(2) after mmap that tells a hugetlbfs file
 * (unmapped in whole huge pages) from others, so that scenario 2b compares like with like.
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

enum { SIZE = 4096 };

static int with_fstat;

static int once(const uint8_t* data) {
  struct stat st;
  struct statfs fs;
  int fd = memfd_create("memseal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  CHECK(fd);
  if (with_fstat) CHECK(fstat(fd, &st));
  if (with_fstat) CHECK(fstat(fd, &st));
  CHECK(ftruncate(fd, SIZE));
  if (with_fstat) CHECK(fstat(fd, &st));
  CHECK(pwrite(fd, data, SIZE, 0) == SIZE ? 0 : -1);
  if (with_fstat) CHECK(fstat(fd, &st));
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
  if (with_fstat) CHECK(fstat(fd, &st));
  const uint8_t* p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(p == MAP_FAILED ? -1 : 0);
  if (with_fstat) CHECK(fstatfs(fd, &fs));
  int same = memcmp(p, data, SIZE) == 0;  /* read the 4 KiB back through the mapping */
  CHECK(munmap((void*)p, SIZE));
  if (with_fstat) CHECK(fstat(fd, &st));
  CHECK(close(fd));
  return same;
}

int main(int argc, char** argv) {
  long iterations, warmup;
  parse_counts(argc, argv, &iterations, &warmup);
  with_fstat = argc > 3 && strcmp(argv[3], "fstat") == 0;
  uint8_t data[SIZE];
  for (int i = 0; i < SIZE; i++) data[i] = (uint8_t)i;
  for (long i = 0; i < warmup; i++) once(data);
  struct stopwatch t0 = start();
  for (long i = 0; i < iterations; i++) {
    if (!once(data)) {
      fprintf(stderr, "sealed_buffer: read back the wrong bytes\n");
      return 2;
    }
  }
  report(t0, iterations);
  return 0;
}
