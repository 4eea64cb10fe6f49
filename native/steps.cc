// File steps: a short sequence of seal and file calls (F_GET_SEALS, F_ADD_SEALS, dup, reopen, close,
// mmap, munmap, an idle forked child) run either on the calling thread or in a forked child that is
// single-threaded. The kernel looks up an fd without taking a reference when the file table is not shared
// (fdget's light path) and with one when it is; a Node process always has threads sharing its table, so
// only a forked child shows the other case. The same sequence runs in both, as memfd_test.c runs its
// SHARE tests before and after it starts a thread with CLONE_FILES.
//
// The child runs only system calls (no allocation, no JavaScript) and leaves with _exit(). Everything a
// sequence makes (fds, mappings, idle children) is released before it returns.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "compat.h"
#include "exports.h"

namespace memseal {
namespace {

enum Op {
  kGetSeals = 0,
  kAddSeals = 1,
  kDup = 2,
  kReopen = 3,
  kClose = 4,
  kMmap = 5,
  kMunmap = 6,
  kForkIdle = 7,
  kJoin = 8,
};

constexpr int kWords = 5;      // op, a, b, c, d
constexpr int kMaxSteps = 64;  // a SHARE test has about twenty
constexpr int kStatusBytes = 4096;

struct Made {
  long result[kMaxSteps];
  void* map[kMaxSteps];
  size_t mapLength[kMaxSteps];
  bool open[kMaxSteps];   // the step's result is an fd this sequence still owns
  bool child[kMaxSteps];  // the step's result is an idle child still running
};

// An fd operand: a descriptor number, or -(i + 1) for the fd that step i made.
int FdOperand(const Made& made, int64_t v) {
  if (v >= 0) return static_cast<int>(v);
  int64_t i = -v - 1;
  return i < kMaxSteps ? static_cast<int>(made.result[i]) : -1;
}

// Threads of this process, from /proc/self/status (read with system calls only: safe in a forked child).
long Threads() {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char buf[kStatusBytes + 1];
  ssize_t n = read(fd, buf, kStatusBytes);
  close(fd);
  if (n <= 0) return -EIO;
  buf[n] = '\0';
  const char* p = strstr(buf, "\nThreads:");
  if (p == nullptr) return -EIO;
  p += 9;
  while (*p == ' ' || *p == '\t') p++;
  long threads = 0;
  while (*p >= '0' && *p <= '9') threads = threads * 10 + (*p++ - '0');
  return threads;
}

// An idle child: it holds a copy of the file table (and so a reference to every open file) until killed.
long ForkIdle() {
  pid_t pid = fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) pause();
  }
  return pid;
}

long Reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

long Join(pid_t pid) {
  if (kill(pid, SIGKILL) != 0) return -errno;
  return Reap(pid);
}

// "/proc/self/fd/N" without snprintf (not async-signal-safe, and this runs in forked children).
void FdPath(int fd, char* out) {
  const char prefix[] = "/proc/self/fd/";
  memcpy(out, prefix, sizeof(prefix) - 1);
  char* p = out + sizeof(prefix) - 1;
  char digits[12];
  int n = 0;
  unsigned v = fd < 0 ? 0 : static_cast<unsigned>(fd);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) *p++ = digits[--n];
  *p = '\0';
}

long RunStep(const double* w, int i, Made* made) {
  auto arg = [w](int k) -> int64_t { return static_cast<int64_t>(w[k]); };
  int fd = FdOperand(*made, arg(1));
  switch (static_cast<int>(w[0])) {
    case kGetSeals:
      return SysFcntl(fd, F_GET_SEALS, 0);
    case kAddSeals:
      return SysFcntl(fd, F_ADD_SEALS, static_cast<unsigned long>(arg(2)));
    case kDup: {
      long r = SysFcntl(fd, F_DUPFD_CLOEXEC, 0);
      made->open[i] = r >= 0;
      return r;
    }
    case kReopen: {
      char path[32];
      FdPath(fd, path);
      long r = Ret(open(path, static_cast<int>(arg(2)) | O_CLOEXEC));
      made->open[i] = r >= 0;
      return r;
    }
    case kClose: {
      for (int k = 0; k < i; k++) {
        if (made->open[k] && made->result[k] == fd) made->open[k] = false;
      }
      return Ret(close(fd));
    }
    case kMmap: {
      size_t length = static_cast<size_t>(arg(4));
      void* p = mmap(nullptr, length, static_cast<int>(arg(2)), static_cast<int>(arg(3)), fd, 0);
      if (p == MAP_FAILED) return -errno;
      made->map[i] = p;
      made->mapLength[i] = length;
      return 0;
    }
    case kMunmap: {
      int64_t k = arg(1);
      if (k < 0 || k >= i || made->map[k] == nullptr) return -EINVAL;
      long r = Ret(munmap(made->map[k], made->mapLength[k]));
      if (r == 0) made->map[k] = nullptr;
      return r;
    }
    case kForkIdle: {
      long r = ForkIdle();
      made->child[i] = r > 0;
      return r;
    }
    case kJoin: {
      int64_t k = arg(1);
      if (k < 0 || k >= i || !made->child[k]) return -EINVAL;
      made->child[k] = false;
      return Join(static_cast<pid_t>(made->result[k]));
    }
    default:
      return -EINVAL;
  }
}

// Runs every step, then releases what the steps made. out[0] is the number of threads of the process
// that ran them; out[1 + i] is step i's result or -errno.
void RunSteps(const double* steps, int n, long* out) {
  Made made;
  memset(&made, 0, sizeof(made));
  out[0] = Threads();
  for (int i = 0; i < n; i++) {
    made.result[i] = RunStep(steps + i * kWords, i, &made);
    out[1 + i] = made.result[i];
  }
  for (int i = n - 1; i >= 0; i--) {
    if (made.child[i]) Join(static_cast<pid_t>(made.result[i]));
    if (made.map[i] != nullptr) munmap(made.map[i], made.mapLength[i]);
    if (made.open[i]) close(static_cast<int>(made.result[i]));
  }
}

// The steps in a forked child: a fork of one thread of a multi-threaded process is single-threaded, with a
// file table of its own. Its results come back through a pipe; -errno in out[0] when that failed.
void RunForked(const double* steps, int n, long* out) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    out[0] = -errno;
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    out[0] = -errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return;
  }
  if (pid == 0) {
    close(pipefd[0]);
    prctl(PR_SET_DUMPABLE, 0);
    long results[1 + kMaxSteps];
    RunSteps(steps, n, results);
    size_t want = sizeof(long) * (1 + n);
    const char* p = reinterpret_cast<const char*>(results);
    while (want > 0) {
      ssize_t w = write(pipefd[1], p, want);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) _exit(1);
      p += w;
      want -= static_cast<size_t>(w);
    }
    _exit(0);
  }
  close(pipefd[1]);
  size_t want = sizeof(long) * (1 + n);
  char* p = reinterpret_cast<char*>(out);
  while (want > 0) {
    ssize_t r = read(pipefd[0], p, want);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    p += r;
    want -= static_cast<size_t>(r);
  }
  close(pipefd[0]);
  long reaped = Reap(pid);
  if (want > 0)
    out[0] = -EPROTO;
  else if (reaped < 0)
    out[0] = reaped;
}

// fileSteps(steps: Float64Array of n * 5 numbers [op, a, b, c, d], forked: boolean) -> Float64Array of
// 1 + n numbers: the thread count of the process that ran them (or -errno when no child could run them),
// then each step's result or -errno.
Napi::Value FileSteps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::Float64Array>().ElementLength() % kWords != 0 ||
      info[0].As<Napi::Float64Array>().ElementLength() > kWords * kMaxSteps) {
    Fail(info, 0, "a Float64Array of at most 64 steps of 5 numbers");
    return env.Undefined();
  }
  if (!info[1].IsBoolean()) {
    Fail(info, 1, "a boolean");
    return env.Undefined();
  }
  Napi::Float64Array steps = info[0].As<Napi::Float64Array>();
  int n = static_cast<int>(steps.ElementLength() / kWords);
  long out[1 + kMaxSteps];
  memset(out, 0, sizeof(out));
  if (info[1].As<Napi::Boolean>().Value()) {
    RunForked(steps.Data(), n, out);
  } else {
    RunSteps(steps.Data(), n, out);
  }
  Napi::Float64Array result = Napi::Float64Array::New(env, 1 + n);
  for (int i = 0; i <= n; i++) result[i] = static_cast<double>(out[i]);
  return result;
}

}  // namespace

void InitSteps(Napi::Env env, Napi::Object exports) {
  exports.Set("fileSteps", Napi::Function::New(env, FileSteps, "fileSteps"));
}

}  // namespace memseal
