/*
 * Scenario 7: one 16-byte pwrite(2) into a memfd (Memfd#write). With a third argument "fstat" the
 * baseline also makes the fstat(2) memseal makes before every write (is the descriptor still this memfd?
 * st_dev and st_ino against the ones recorded at creation): the cost of that check, seen from C.
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */

#include <sys/mman.h>
#include <sys/stat.h>

static int fd;
static int with_fstat;
static struct stat identity;
static const char payload[16] = "0123456789abcdef";

static void once(void) {
  if (with_fstat) {
    struct stat st;
    CHECK(fstat(fd, &st));
    if (st.st_dev != identity.st_dev || st.st_ino != identity.st_ino) exit(3);
  }
  CHECK(pwrite(fd, payload, sizeof(payload), 0));
}

int main(int argc, char** argv) {
  with_fstat = argc > 3 && strcmp(argv[3], "fstat") == 0;
  fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  CHECK(fd);
  CHECK(fstat(fd, &identity));
  int r = time_ops(argc, argv, once);
  close(fd);
  return r;
}
