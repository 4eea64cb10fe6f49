/*
 * The C baseline of bench/handoff.js: the same sealed hand-off, written directly against the kernel, so
 * that the memseal rows can be read against what the system calls themselves cost in the same run.
 *
 * A parent and a forked child share a socketpair. Per round the parent creates a memfd (4 KiB shmem
 * pages, or MFD_HUGETLB with "hugetlb"), fills it through a writable mapping and unmaps it (not timed);
 * then, timed: F_ADD_SEALS shrink|grow|write|seal, sendmsg with the size and the fd (SCM_RIGHTS); the
 * child receives it close-on-exec, checks it (regular file, announced size, not executable, seals shrink
 * and write present), maps it read-only — the moment it holds a readable view, which it notes on
 * CLOCK_MONOTONIC, the clock of every process on the machine — reads every byte (the doubles of
 * bench/handoff/data.js, summed with four accumulators, as the JavaScript reader does) and answers the sum
 * and that moment; the round ends when the parent has read the answer. The child unmaps after answering,
 * as the JavaScript child does. With "memseal-checks" (after the page kind) the child also makes the
 * calls memseal's receive() makes by design, beyond these: F_GETFL (an O_PATH descriptor is refused),
 * readlink of /proc/self/fd/N (the name must be "memfd:…"), fstatfs (hugetlbfs is mapped in whole huge
 * pages) and the fstat of the identity check before mapping and closing.
 *
 * With "floor" instead of "hugetlb" there is no hand-off at all: one process maps a filled memfd once,
 * touches it, and each round only reads every byte of the already-mapped pages, XOR-ing 64-bit words (a
 * reduction the compiler vectorises, unlike the floating-point sum). That is the most any consumer that
 * reads every byte can get on one core of this machine: its memory bandwidth, with no page faults.
 *
 * Usage: handoff <size in bytes> <rounds> <warm-up rounds> [shmem | hugetlb | floor] [memseal-checks]
 * Output: one line per timed round, "<milliseconds to the answer> <milliseconds to the readable view>"
 * (the floor: "<milliseconds>"); exit 2 with the failing call on any error, 3 on a wrong sum.
 */
#include "bench.h" /* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static double sum_words(const double* w, size_t n) {
  double a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += w[i];
    b += w[i + 1];
    c += w[i + 2];
    d += w[i + 3];
  }
  for (; i < n; i++) a += w[i];
  return a + b + c + d;
}

static uint64_t xor_words(const uint64_t* w, size_t n) {
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) x ^= w[i];
  return x;
}

/* Sizes the memfd and maps it shared and writable, filled with the pattern of bench/handoff/data.js. */
static double* map_filled(int fd, uint64_t size) {
  CHECK(ftruncate(fd, (off_t)size));
  double* w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(w == MAP_FAILED ? -1 : 0);
  for (size_t i = 0; i < size / sizeof(double); i++) w[i] = (double)(i % 251);
  return w;
}

static void send_fd(int sock, int fd, uint64_t size) {
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {&size, sizeof size};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  CHECK(sendmsg(sock, &msg, 0) == (ssize_t)sizeof size ? 0 : -1);
}

/* Returns the received fd, or -1 when the parent has closed its end. */
static int receive_fd(int sock, uint64_t* size) {
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {size, sizeof *size};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  CHECK(n);
  if (n == 0) return -1;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  CHECK(n == (ssize_t)sizeof *size && c && c->cmsg_type == SCM_RIGHTS ? 0 : -1);
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* What the child answers: the sum of every byte it read, and when it held a readable view. */
struct answer {
  double sum;
  uint64_t view_ns;
};

/* The calls memseal's receive() makes beyond the minimal checks: F_GETFL, readlink, fstatfs, fstat. */
static void memseal_checks(int fd) {
  int flags = fcntl(fd, F_GETFL);
  CHECK(flags);
  CHECK((flags & O_PATH) ? -1 : 0);
  char path[64], link[256];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, link, sizeof link - 1);
  CHECK(n);
  link[n] = 0;
  CHECK(strncmp(link, "/memfd:", 7) == 0 ? 0 : -1);
  struct statfs fs;
  CHECK(fstatfs(fd, &fs));
  struct stat st;
  CHECK(fstat(fd, &st));
}

static void child(int sock, int with_memseal_checks) {
  uint64_t size;
  int fd;
  while ((fd = receive_fd(sock, &size)) >= 0) {
    struct stat st;
    CHECK(fstat(fd, &st));
    int seals = fcntl(fd, F_GET_SEALS);
    CHECK(seals);
    int ok = S_ISREG(st.st_mode) && (uint64_t)st.st_size == size && (st.st_mode & 0111) == 0 &&
             (seals & F_SEAL_SHRINK) && (seals & F_SEAL_WRITE);
    CHECK(ok ? 0 : -1);
    if (with_memseal_checks) memseal_checks(fd);
    const double* w = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(w == MAP_FAILED ? -1 : 0);
    struct answer a = {0, clock_ns(CLOCK_MONOTONIC)};
    if (with_memseal_checks) {
      struct statfs fs;
      CHECK(fstatfs(fd, &fs));
      CHECK(fstat(fd, &st));
      CHECK(close(fd));
    }
    a.sum = sum_words(w, size / sizeof(double));
    CHECK(write(sock, &a, sizeof a) == (ssize_t)sizeof a ? 0 : -1);
    CHECK(munmap((void*)w, size));
    if (!with_memseal_checks) CHECK(close(fd));
  }
  exit(0);
}

static int read_floor(uint64_t size, long rounds, long warmup) {
  int fd = memfd_create("bench-floor", MFD_CLOEXEC);
  CHECK(fd);
  double* w = map_filled(fd, size);
  size_t n = size / sizeof(double);
  uint64_t expected = xor_words((const uint64_t*)w, n); /* also faults every page in: the rounds see none */
  for (long r = 0; r < warmup + rounds; r++) {
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
    uint64_t x = xor_words((const uint64_t*)w, n);
    uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
    if (x != expected) return 3;
    if (r >= warmup) printf("%.4f\n", (double)(t1 - t0) / 1e6);
  }
  CHECK(munmap(w, size));
  CHECK(close(fd));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <size in bytes> <rounds> <warm-up rounds> [shmem | hugetlb | floor] [memseal-checks]\n", argv[0]);
    return 64;
  }
  uint64_t size = strtoull(argv[1], NULL, 10);
  long rounds = strtol(argv[2], NULL, 10), warmup = strtol(argv[3], NULL, 10);
  int hugetlb = argc > 4 && strcmp(argv[4], "hugetlb") == 0;
  int with_memseal_checks = argc > 5 && strcmp(argv[5], "memseal-checks") == 0;
  if (size == 0 || size % sizeof(double) != 0 || rounds < 1 || warmup < 0) {
    fprintf(stderr, "size must be a positive multiple of 8, rounds positive\n");
    return 64;
  }
  if (argc > 4 && strcmp(argv[4], "floor") == 0) return read_floor(size, rounds, warmup);
  int socks[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks));
  pid_t pid = fork();
  CHECK(pid);
  if (pid == 0) {
    close(socks[0]);
    child(socks[1], with_memseal_checks);
  }
  close(socks[1]);

  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | (hugetlb ? MFD_HUGETLB : 0);
  for (long r = 0; r < warmup + rounds; r++) {
    int fd = memfd_create("bench-handoff", flags);
    if (fd < 0 && errno == EINVAL) fd = memfd_create("bench-handoff", flags & ~MFD_NOEXEC_SEAL); /* before 6.3 */
    CHECK(fd);
    double* w = map_filled(fd, size);
    double expected = sum_words(w, size / sizeof(double));
    CHECK(munmap(w, size));

    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL));
    send_fd(socks[0], fd, size);
    struct answer answer;
    CHECK(read(socks[0], &answer, sizeof answer) == (ssize_t)sizeof answer ? 0 : -1);
    uint64_t t1 = clock_ns(CLOCK_MONOTONIC);

    CHECK(close(fd));
    if (answer.sum != expected) {
      fprintf(stderr, "the child summed %.0f, expected %.0f\n", answer.sum, expected);
      return 3;
    }
    if (r >= warmup) printf("%.4f %.4f\n", (double)(t1 - t0) / 1e6, (double)(answer.view_ns - t0) / 1e6);
  }
  close(socks[0]);
  int status;
  CHECK(waitpid(pid, &status, 0));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
}
