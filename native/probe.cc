// The fault probe: one read, write or execute access made in a forked child, reported as the signal it
// raised. The child runs only the code below (no JavaScript, no allocation) and leaves with _exit().
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "compat.h"
#include "exports.h"
#include "raw.h"

namespace memseal {
namespace {

enum Access { kRead = 0, kWrite = 1, kExec = 2, kStore = 3 };

// Exit codes of the probe child. A fault on the probed address exits with kFaultBase + signal number.
constexpr int kOk = 0;
constexpr int kRanAway = 32;  // an exec probe executed the target and faulted later: execution was allowed
constexpr int kFaultBase = 64;

volatile uintptr_t g_target = 0;
volatile int g_access = kRead;

// True when the fault was the instruction fetch at the target itself, not something the code there did.
bool FetchFault(const siginfo_t* si, const void* uctx) {
  if (reinterpret_cast<uintptr_t>(si->si_addr) != g_target) return false;
  const ucontext_t* uc = static_cast<const ucontext_t*>(uctx);
#if defined(__x86_64__)
  return (uc->uc_mcontext.gregs[REG_ERR] & 0x10) != 0 ||
         uc->uc_mcontext.gregs[REG_RIP] == static_cast<greg_t>(g_target);
#elif defined(__aarch64__)
  return uc->uc_mcontext.pc == g_target;
#else
  (void)uc;
  return true;
#endif
}

void OnFault(int sig, siginfo_t* si, void* uctx) {
  if (g_access == kExec) _exit(FetchFault(si, uctx) ? kFaultBase + sig : kRanAway);
  _exit(reinterpret_cast<uintptr_t>(si->si_addr) == g_target ? kFaultBase + sig : kRanAway);
}

// Runs in the child: no core dumps (a deliberate fault is not a crash worth a core), a time limit for
// exec probes that land in a loop, handlers for the faults, then the single access.
[[noreturn]] void ProbeChild(uint8_t* addr, int access, uint8_t value) {
  prctl(PR_SET_DUMPABLE, 0);
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  alarm(5);
  g_target = reinterpret_cast<uintptr_t>(addr);
  g_access = access;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = OnFault;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE}) sigaction(sig, &sa, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGALRM}) sigaddset(&unblock, sig);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  volatile uint8_t* p = addr;
  switch (access) {
    case kRead:
      (void)*p;
      break;
    case kWrite: {
      uint8_t v = *p;
      *p = v;
      break;
    }  // write back what is there: a shared page keeps its data
    case kExec:
      reinterpret_cast<void (*)()>(addr)();
      break;
    case kStore:
      *p = value;
      break;
  }
  _exit(kOk);
}

long WaitChild(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

// probe(target, offset, access, value) -> 0 (the access succeeded) | signal number | -errno (no fork)
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* base;
  size_t length;
  int64_t offset;
  int access, value = 0;
  if (!TargetOf(info, 0, &base, &length) || !ArgI64(info, 1, &offset) || !ArgInt(info, 2, &access)) {
    return env.Undefined();
  }
  if (info.Length() > 3 && !info[3].IsUndefined() && !ArgInt(info, 3, &value)) return env.Undefined();
  if (access < kRead || access > kStore) return Result(env, -EINVAL);
  pid_t pid = fork();
  if (pid < 0) return Result(env, -errno);
  if (pid == 0) ProbeChild(base + offset, access, static_cast<uint8_t>(value));
  int status = 0;
  long r = WaitChild(pid, &status);
  if (r != 0) return Result(env, r);
  if (WIFSIGNALED(status)) return Result(env, WTERMSIG(status));  // e.g. SIGALRM: the exec probe hung
  int code = WEXITSTATUS(status);
  if (code == kOk || code == kRanAway) return Result(env, 0);
  return Result(env, code > kFaultBase ? code - kFaultBase : -EPROTO);
}

// forkMunmap(target, offset, length) -> the child's munmap result (0 | -errno): what a forked process may
// do to an inherited mapping (mseal(2) is inherited across fork) without touching the caller's own.
Napi::Value ForkMunmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* base;
  size_t length;
  int64_t offset;
  uint64_t len;
  if (!TargetOf(info, 0, &base, &length) || !ArgI64(info, 1, &offset) || !ArgU64(info, 2, &len)) {
    return env.Undefined();
  }
  pid_t pid = fork();
  if (pid < 0) return Result(env, -errno);
  if (pid == 0) {
    prctl(PR_SET_DUMPABLE, 0);
    _exit(munmap(base + offset, len) == 0 ? 0 : (errno & 0xff));
  }
  int status = 0;
  long r = WaitChild(pid, &status);
  if (r != 0) return Result(env, r);
  if (WIFSIGNALED(status)) return Result(env, -EPROTO);
  return Result(env, -WEXITSTATUS(status));
}

// execveat(fd, argv) -> exit status of the program (0..255, or 128 + signal) | -errno if execveat(2)
// itself failed. The exec happens in a forked child with an empty environment; a close-on-exec pipe
// tells a failed exec (errno written) from a successful one (pipe closed by the exec).
Napi::Value Execveat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (!info[1].IsArray()) {
    Fail(info, 1, "an array of strings");
    return env.Undefined();
  }
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t i = 0; i < list.Length(); i++) args.push_back(list.Get(i).ToString().Utf8Value());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return Result(env, -errno);
  pid_t pid = fork();
  if (pid < 0) {
    long err = -errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return Result(env, err);
  }
  if (pid == 0) {
    close(pipefd[0]);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    syscall(__NR_execveat, fd, "", argv.data(), envp, AT_EMPTY_PATH);
    int err = errno;
    ssize_t ignored = write(pipefd[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(pipefd[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(pipefd[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  int status = 0;
  long r = WaitChild(pid, &status);
  if (r != 0) return Result(env, r);
  if (n == static_cast<ssize_t>(sizeof(err))) return Result(env, -err);
  if (WIFSIGNALED(status)) return Result(env, 128 + WTERMSIG(status));
  return Result(env, WEXITSTATUS(status));
}

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("forkMunmap", Napi::Function::New(env, ForkMunmap, "forkMunmap"));
  exports.Set("execveat", Napi::Function::New(env, Execveat, "execveat"));
}

}  // namespace memseal
