// The mseal(2) scenarios that must never run in a long-lived process, each in a forked child that leaves
// with _exit(): mappings at address 0, the program break, a System V shared memory segment, the ia32
// system call entry, protection keys (the child's own PKRU) and the vDSO. The child makes raw system
// calls only (no allocation, no stdio: the parent may have threads holding libc locks) and reports every
// call it made and every fact it saw through a pipe, one fixed-size record at a time, so that a child
// killed half-way still tells what it did before. Addresses never leave the child: facts are booleans,
// page counts, byte values and protections.
#include <fcntl.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "args.h"
#include "compat.h"
#include "exports.h"
#include "raw.h"

#ifndef PKEY_DISABLE_WRITE
#define PKEY_DISABLE_WRITE 0x2
#endif

namespace memseal {
namespace {

// One record of the child's report: a system call it made, or a fact it saw.
enum Kind : int32_t { kCall = 0, kFact = 1 };
struct Record {
  int32_t kind;
  int32_t nargs;
  int64_t value;    // the call's result (>= 0) or -errno; the fact's value
  int64_t args[2];  // the arguments a seccomp filter matches on (flags, protection, advice …)
  char key[24];     // the system call's name, or the fact's name
};
static_assert(sizeof(Record) <= PIPE_BUF, "records must be written atomically");

int g_report = -1;
long g_ps = 4096;

void Put(Kind kind, const char* key, int64_t value, int nargs = 0, int64_t a0 = 0, int64_t a1 = 0) {
  Record r;
  memset(&r, 0, sizeof(r));
  r.kind = kind;
  r.nargs = nargs;
  r.value = value;
  r.args[0] = a0;
  r.args[1] = a1;
  strncpy(r.key, key, sizeof(r.key) - 1);
  ssize_t ignored = write(g_report, &r, sizeof(r));
  (void)ignored;
}

// A system call's result as the suite records it: the result, or -errno.
long Ret(long r) {
  return r < 0 ? -errno : r;
}
long PtrRet(void* p) {
  return p == MAP_FAILED ? -errno : 0;
}
void Call(const char* name, long ret, int nargs = 0, int64_t a0 = 0, int64_t a1 = 0) {
  Put(kCall, name, ret, nargs, a0, a1);
}
void Fact(const char* key, int64_t value) {
  Put(kFact, key, value);
}

// Lines of a /proc file, read with read(2) into a fixed buffer (no allocation in the child).
class Lines {
 public:
  explicit Lines(const char* path) : fd_(open(path, O_RDONLY | O_CLOEXEC)) {}
  ~Lines() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // The next line, NUL-terminated (cut at the buffer's size); false at the end of the file.
  bool Next(char* line, size_t cap) {
    size_t n = 0;
    for (;;) {
      if (pos_ == len_) {
        ssize_t got = read(fd_, buf_, sizeof(buf_));
        if (got <= 0) {
          line[n] = '\0';
          return n > 0;
        }
        len_ = static_cast<size_t>(got);
        pos_ = 0;
      }
      char c = buf_[pos_++];
      if (c == '\n') break;
      if (n + 1 < cap) line[n++] = c;
    }
    line[n] = '\0';
    return true;
  }

 private:
  int fd_;
  char buf_[8192];
  size_t len_ = 0, pos_ = 0;
};

// "start-end perms …": the span and permissions of a /proc/self/maps (or smaps header) line.
bool ParseSpan(const char* line, uintptr_t* start, uintptr_t* end, char perms[5]) {
  uintptr_t v[2] = {0, 0};
  const char* p = line;
  for (int i = 0; i < 2; i++) {
    const char* digits = p;
    while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) {
      v[i] = v[i] * 16 + static_cast<uintptr_t>(*p <= '9' ? *p - '0' : *p - 'a' + 10);
      p++;
    }
    if (p == digits || *p != (i == 0 ? '-' : ' ')) return false;
    p++;
  }
  for (int i = 0; i < 4; i++) {
    if (p[i] == '\0') return false;
    perms[i] = p[i];
  }
  perms[4] = '\0';
  *start = v[0];
  *end = v[1];
  return true;
}

// The VMA holding addr in /proc/self/maps: its pages and protection bits (r=4, w=2, x=1, as mseal_test.c's
// get_vma_size() reports them); pages 0 and prot -1 when nothing is mapped there.
struct Vma {
  int64_t pages = 0;
  int64_t prot = -1;
};
Vma VmaAt(uintptr_t addr) {
  Vma out;
  Lines maps("/proc/self/maps");
  char line[512];
  while (maps.ok() && maps.Next(line, sizeof(line))) {
    uintptr_t start, end;
    char perms[5];
    if (!ParseSpan(line, &start, &end, perms) || addr < start || addr >= end) continue;
    out.pages = static_cast<int64_t>((end - start) / g_ps);
    out.prot = (perms[0] == 'r' ? 4 : 0) | (perms[1] == 'w' ? 2 : 0) | (perms[2] == 'x' ? 1 : 0);
    break;
  }
  return out;
}
bool Mapped(uintptr_t addr) {
  return VmaAt(addr).pages > 0;
}

// Whether the VMA holding addr has VM_SEALED ('sl' in its VmFlags): 1, 0, or -1 when nothing is mapped there.
int64_t Sealed(uintptr_t addr) {
  Lines smaps("/proc/self/smaps");
  char line[512];
  bool inside = false;
  while (smaps.ok() && smaps.Next(line, sizeof(line))) {
    uintptr_t start, end;
    char perms[5];
    if (!inside) {
      if (ParseSpan(line, &start, &end, perms) && addr >= start && addr < end) inside = true;
      continue;
    }
    if (strncmp(line, "VmFlags:", 8) != 0) continue;
    for (const char* p = line + 8; *p != '\0'; p++) {
      if (p[0] == 's' && p[1] == 'l' && p[-1] == ' ' && (p[2] == ' ' || p[2] == '\0')) return 1;
    }
    return 0;
  }
  return -1;
}

long Mseal(uintptr_t addr, uint64_t len) {
  return Ret(syscall(__NR_mseal, addr, len, 0));
}

// Seals [addr, addr + len) when the scenario is the sealed one: the call and the seal it left ('sealed').
void SealIf(bool sealed, uintptr_t addr, uint64_t len) {
  if (!sealed) return;
  Call("mseal", Mseal(addr, len), 1, 0);
  Fact("sealed", Sealed(addr));
}

#if defined(__x86_64__)
// A system call through the i386 entry (int $0x80) from 64-bit code: arguments in ebx, ecx, edx, the result
// in eax. The entry clobbers r8-r11. Only addresses below 4 GiB survive the 32-bit registers.
long Int80(long nr, uint32_t a, uint32_t b, uint32_t c) {
  long ret;
  asm volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
  return static_cast<int32_t>(ret);
}
constexpr long kI386Getpid = 20;
constexpr long kI386Munmap = 91;
constexpr long kI386Mseal = 462;  // arch/x86/entry/syscalls/syscall_32.tbl: 462 i386 mseal sys_mseal

uint32_t ReadPkru() {
  uint32_t eax, edx;
  asm volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0));
  return eax;
}
void WritePkru(uint32_t value) {
  asm volatile(".byte 0x0f,0x01,0xef" : : "a"(value), "c"(0), "d"(0) : "memory");
}
// PKRU holds two bits per key (access-disable, write-disable), as the selftests' pkey-helpers.h sets them.
void SetPkey(int pkey, uint32_t rights) {
  uint32_t shift = static_cast<uint32_t>(pkey) * 2;
  WritePkru((ReadPkru() & ~(3u << shift)) | ((rights & 3u) << shift));
}
#endif

uintptr_t Anon(size_t len, int prot, int flags = 0) {
  void* p = mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  Call("mmap", PtrRet(p), 2, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags);
  return p == MAP_FAILED ? 0 : reinterpret_cast<uintptr_t>(p);
}

// mseal_test.c test_seal_discard_ro_anon_on_pkey: a read-write mapping tagged with a protection key is
// "read-only" for the seal while this thread's PKRU denies writes to the key.
void PkeyDiscard(bool sealed) {
#if defined(__x86_64__)
  const uint64_t len = 4 * g_ps;
  uintptr_t p = Anon(len, PROT_READ | PROT_WRITE);
  if (p == 0) return;
  volatile uint8_t* bytes = reinterpret_cast<volatile uint8_t*>(p);
  bytes[0] = 'A';
  long pkey = Ret(syscall(__NR_pkey_alloc, 0, 0));
  Call("pkey_alloc", pkey < 0 ? pkey : 0, 2, 0, 0);
  if (pkey < 0) return;
  Call("pkey_mprotect", Ret(syscall(__NR_pkey_mprotect, p, len, PROT_READ | PROT_WRITE, pkey)), 2,
       PROT_READ | PROT_WRITE, pkey);
  SealIf(sealed, p, len);
  SetPkey(static_cast<int>(pkey), 0);  // PKEY_UNRESTRICTED: this thread may write
  Call("madvise", Ret(madvise(reinterpret_cast<void*>(p), len, MADV_DONTNEED)), 1, MADV_DONTNEED);
  Fact("writableByte", bytes[0]);
  bytes[0] = 'B';
  SetPkey(static_cast<int>(pkey), PKEY_DISABLE_WRITE);
  Call("madvise", Ret(madvise(reinterpret_cast<void*>(p), len, MADV_DONTNEED)), 1, MADV_DONTNEED);
  Fact("writeDeniedByte", bytes[0]);  // reading stays allowed
  SetPkey(static_cast<int>(pkey), 0);
  // LTP mseal01's pkey_mprotect case: changing the key's protection of a sealed range.
  Call("pkey_mprotect", Ret(syscall(__NR_pkey_mprotect, p, len, PROT_READ, pkey)), 2, PROT_READ, pkey);
  Call("munmap", Ret(munmap(reinterpret_cast<void*>(p), len)));
  Fact("mapped", Mapped(p));
#else
  (void)sealed;
  Fact("unsupported", 1);
#endif
}

// The program break shrinking over a sealed page: brk(2) unmaps the pages above the new break.
void BrkShrink(bool sealed) {
  long cur = syscall(SYS_brk, 0);
  Call("brk", cur > 0 ? 0 : Ret(cur), 1, 0);
  if (cur <= 0) return;
  uintptr_t base = (static_cast<uintptr_t>(cur) + g_ps - 1) & ~static_cast<uintptr_t>(g_ps - 1);
  uintptr_t top = base + 4 * g_ps;
  long grown = syscall(SYS_brk, top);
  Call("brk", grown > 0 ? 0 : Ret(grown), 1, 0);
  Fact("grown", static_cast<uintptr_t>(grown) == top && Mapped(top - g_ps));
  if (static_cast<uintptr_t>(grown) != top) return;
  SealIf(sealed, top - g_ps, g_ps);
  long after = syscall(SYS_brk, base);
  Call("brk", after > 0 ? 0 : Ret(after), 1, 0);
  // 0: the break moved down to base; 1: it stayed at the top (brk's answer to a refused change); 2: elsewhere.
  Fact("break", static_cast<uintptr_t>(after) == base ? 0 : static_cast<uintptr_t>(after) == top ? 1 : 2);
  Fact("topMapped", Mapped(top - g_ps));
  Fact("bottomMapped", Mapped(base));
}

// shmdt(2) of a sealed System V segment: ksys_shmdt() unmaps on the caller's behalf and ignores the error.
void Shmdt(bool sealed) {
  int id = shmget(IPC_PRIVATE, g_ps, IPC_CREAT | 0600);
  Call("shmget", id < 0 ? -errno : 0, 1, IPC_CREAT | 0600);
  if (id < 0) return;
  void* p = shmat(id, nullptr, SHM_RDONLY);
  Call("shmat", p == reinterpret_cast<void*>(-1) ? -errno : 0, 1, SHM_RDONLY);
  // Removed at once: the segment goes away with its last attachment (at the latest when this child exits).
  Call("shmctl", Ret(shmctl(id, IPC_RMID, nullptr)), 1, IPC_RMID);
  if (p == reinterpret_cast<void*>(-1)) return;
  uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  SealIf(sealed, addr, g_ps);
  Call("shmdt", Ret(shmdt(p)));
  Fact("mapped", Mapped(addr));
}

// mseal_test.c test_seal_zero_address: a mapping at address 0 (MAP_FIXED), sealed, then mprotect.
void MapZero(bool sealed) {
  const uint64_t len = 4 * g_ps;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  void* p = mmap(nullptr, len, PROT_NONE, flags, -1, 0);
  Call("mmap", PtrRet(p), 2, PROT_NONE, flags);
  if (p == MAP_FAILED) return;
  Fact("atZero", p == nullptr);
  Fact("vmaPages", VmaAt(0).pages);
  if (p != nullptr) return;
  SealIf(sealed, 0, len);
  Call("mprotect", Ret(syscall(__NR_mprotect, 0, len, PROT_READ | PROT_WRITE)), 1, PROT_READ | PROT_WRITE);
  Fact("prot", VmaAt(0).prot);
}

// mseal_test.c test_seal_mremap_move_fixed_zero: MREMAP_FIXED moves (and shrinks) a mapping to address 0.
void MremapZero(bool sealed) {
  const uint64_t len = 4 * g_ps;
  uintptr_t p = Anon(len, PROT_READ);
  if (p == 0) return;
  SealIf(sealed, p, len);
  const int flags = MREMAP_MAYMOVE | MREMAP_FIXED;
  void* q = reinterpret_cast<void*>(syscall(__NR_mremap, p, len, 2 * g_ps, flags, 0));
  Call("mremap", PtrRet(q), 1, flags);
  Fact("atZero", q == nullptr);
  Fact("sourcePages", VmaAt(p).pages);
  Fact("zeroPages", VmaAt(0).pages);
}

// mseal(2) through the i386 entry of a 64-bit process (syscall 462 in the i386 table), then munmap through
// the same entry; the control skips the seal. The page is below 4 GiB (MAP_32BIT) so that its address fits.
void Ia32(bool sealed) {
#if defined(__x86_64__)
  uintptr_t p = Anon(g_ps, PROT_READ | PROT_WRITE, MAP_32BIT);
  if (p == 0) return;
  Fact("below4G", p + g_ps <= 0x100000000ull);
  if (p + g_ps > 0x100000000ull) return;
  if (sealed) {
    Call("ia32:mseal", Int80(kI386Mseal, static_cast<uint32_t>(p), static_cast<uint32_t>(g_ps), 0), 1, 0);
    Fact("sealed", Sealed(p));
  }
  Call("ia32:munmap", Int80(kI386Munmap, static_cast<uint32_t>(p), static_cast<uint32_t>(g_ps), 0));
  Fact("mapped", Mapped(p));
#else
  (void)sealed;
  Fact("unsupported", 1);
#endif
}

// The vDSO of this process (the kernel's own mapping): whether it carries VM_SEALED, and munmap of it.
void VdsoMunmap() {
  uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
  Fact("vdso", vdso != 0);
  if (vdso == 0) return;
  Vma v = VmaAt(vdso);
  Fact("sealed", Sealed(vdso));
  Call("munmap", Ret(munmap(reinterpret_cast<void*>(vdso), v.pages * g_ps)));
  Fact("mapped", Mapped(vdso));
}

// munmap of an inherited mapping in a forked child (mseal is inherited across fork), and what stayed.
void ChildMunmap(uintptr_t addr, uint64_t len) {
  Call("munmap", Ret(munmap(reinterpret_cast<void*>(addr), len)));
  Fact("mapped", Mapped(addr));
}

// The child: no core dumps for deliberate faults, a time limit, the faults unblocked, then the scenario.
[[noreturn]] void RunChild(const std::string& name, bool sealed, uintptr_t addr, uint64_t len) {
  prctl(PR_SET_DUMPABLE, 0);
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  alarm(5);
  sigset_t faults;
  sigemptyset(&faults);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGSYS, SIGALRM}) {
    signal(sig, SIG_DFL);
    sigaddset(&faults, sig);
  }
  sigprocmask(SIG_UNBLOCK, &faults, nullptr);
  if (name == "pkey-discard") {
    PkeyDiscard(sealed);
  } else if (name == "brk-shrink") {
    BrkShrink(sealed);
  } else if (name == "shmdt") {
    Shmdt(sealed);
  } else if (name == "map-zero") {
    MapZero(sealed);
  } else if (name == "mremap-zero") {
    MremapZero(sealed);
  } else if (name == "ia32") {
    Ia32(sealed);
  } else if (name == "vdso-munmap") {
    VdsoMunmap();
  } else if (name == "child-munmap") {
    ChildMunmap(addr, len);
  } else {
    _exit(2);
  }
  _exit(0);
}

long WaitFor(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

// msealScenario(name, sealed[, target, offset, length]) ->
//   { calls: [{ syscall, args, ret }], facts: { name: value }, signal, exit } | -errno (no pipe or fork)
Napi::Value MsealScenario(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Fail(info, 0, "a scenario name");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  bool sealed = info[1].ToBoolean().Value();
  uintptr_t addr = 0;
  uint64_t len = 0;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    uint8_t* base;
    size_t length;
    int64_t offset;
    if (!TargetOf(info, 2, &base, &length) || !ArgI64(info, 3, &offset) || !ArgU64(info, 4, &len)) {
      return env.Undefined();
    }
    addr = reinterpret_cast<uintptr_t>(base + offset);
  }
  g_ps = sysconf(_SC_PAGESIZE);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Result(env, -errno);
  pid_t pid = fork();
  if (pid < 0) {
    long err = -errno;
    close(fds[0]);
    close(fds[1]);
    return Result(env, err);
  }
  if (pid == 0) {
    close(fds[0]);
    g_report = fds[1];
    RunChild(name, sealed, addr, len);
  }
  close(fds[1]);
  Napi::Array calls = Napi::Array::New(env);
  Napi::Object facts = Napi::Object::New(env);
  Record r;
  uint32_t n = 0;
  for (;;) {
    ssize_t got = read(fds[0], &r, sizeof(r));
    if (got < 0 && errno == EINTR) continue;
    if (got != static_cast<ssize_t>(sizeof(r))) break;
    r.key[sizeof(r.key) - 1] = '\0';
    if (r.kind == kFact) {
      facts.Set(r.key, Napi::Number::New(env, static_cast<double>(r.value)));
      continue;
    }
    Napi::Object call = Napi::Object::New(env);
    Napi::Array args = Napi::Array::New(env);
    for (int i = 0; i < r.nargs && i < 2; i++) args.Set(i, Napi::Number::New(env, static_cast<double>(r.args[i])));
    call.Set("syscall", Napi::String::New(env, r.key));
    call.Set("args", args);
    call.Set("ret", Napi::Number::New(env, static_cast<double>(r.value)));
    calls.Set(n++, call);
  }
  close(fds[0]);
  int status = 0;
  long w = WaitFor(pid, &status);
  if (w != 0) return Result(env, w);
  Napi::Object out = Napi::Object::New(env);
  out.Set("calls", calls);
  out.Set("facts", facts);
  out.Set("signal", Napi::Number::New(env, WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  out.Set("exit", Napi::Number::New(env, WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  return out;
}

// What the environment allows, asked in a forked child (the answer can be a fault):
//   'ia32'      int $0x80 getpid from 64-bit code: 0 when it answers this process's pid, -errno, or -EPROTO
//               for another answer; a signal ends the child where there is no ia32 emulation (SIGSEGV);
//   'map-zero'  mmap at address 0 (MAP_FIXED_NOREPLACE): 0, or -errno (vm.mmap_min_addr, CAP_SYS_RAWIO, LSMs).
// msealEnvProbe(name) -> { forked, result, signal }: forked false (result -errno) when no child could start,
// which says nothing about the environment; result -ENOTSUP for an unknown name or another architecture.
Napi::Value MsealEnvProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Fail(info, 0, "a probe name");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  auto answer = [&env](bool forked, long result, int signal) {
    Napi::Object out = Napi::Object::New(env);
    out.Set("forked", Napi::Boolean::New(env, forked));
    out.Set("result", Napi::Number::New(env, static_cast<double>(result)));
    out.Set("signal", Napi::Number::New(env, signal));
    return out;
  };
#if !defined(__x86_64__)
  if (name == "ia32") return answer(true, -ENOTSUP, 0);
#endif
  if (name != "ia32" && name != "map-zero") return answer(true, -ENOTSUP, 0);
  long ps = sysconf(_SC_PAGESIZE);
  pid_t pid = fork();
  if (pid < 0) return answer(false, -errno, 0);
  if (pid == 0) {
    prctl(PR_SET_DUMPABLE, 0);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    alarm(5);
    signal(SIGSEGV, SIG_DFL);
    long r = -ENOTSUP;
#if defined(__x86_64__)
    if (name == "ia32") {
      long pid32 = Int80(kI386Getpid, 0, 0, 0);
      r = pid32 == syscall(SYS_getpid) ? 0 : pid32 < 0 ? pid32 : -EPROTO;
    }
#endif
    if (name == "map-zero") {
      void* p = mmap(nullptr, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      r = p == MAP_FAILED ? -errno : p == nullptr ? 0 : -EPROTO;
    }
    _exit(static_cast<int>(-r) & 0xff);
  }
  int status = 0;
  long w = WaitFor(pid, &status);
  if (w != 0) return answer(false, w, 0);
  if (WIFSIGNALED(status)) return answer(true, 0, WTERMSIG(status));
  return answer(true, -WEXITSTATUS(status), 0);
}

}  // namespace

void InitMsealScenarios(Napi::Env env, Napi::Object exports) {
  exports.Set("msealScenario", Napi::Function::New(env, MsealScenario, "msealScenario"));
  exports.Set("msealEnvProbe", Napi::Function::New(env, MsealEnvProbe, "msealEnvProbe"));
}

}  // namespace memseal
