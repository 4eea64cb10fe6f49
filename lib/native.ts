/**
 * The only module that loads the addon. It types the flat native surface: every function returns its
 * result or a negative errno (never throws for a failed syscall), and no address ever reaches JavaScript:
 * mappings are external ArrayBuffers, raw regions are opaque handles.
 */
import { constants as bufferConstants } from 'node:buffer'
import { join } from 'node:path'
import nodeGypBuild from 'node-gyp-build'

/** Opaque handle to an address range owned by the conformance suite's child processes (no view). */
export interface RawRegion {
  readonly __memsealRawRegion: never
}
/** A mapping ArrayBuffer or a raw region: what the probe and the raw calls accept. */
export type Target = ArrayBuffer | RawRegion
/** A mapping's id (what a Mapping holds) or an ArrayBuffer over it from offset 0. */
export type MapTarget = number | ArrayBuffer
/** Lengths and offsets may be BigInt where the suite passes values beyond 2^53 on purpose. */
export type Len = number | bigint

export interface VmaInfo {
  /** Offsets of the VMA's start and end from the region's base (negative if it starts before it). */
  start: number
  end: number
  /** The permission column of /proc/self/maps, e.g. 'r--p'. */
  perms: string
  /** The VmFlags of /proc/self/smaps, e.g. ['rd', 'mr', 'sl']. */
  flags: string[]
  name: string
  /** Resident, lazily freed (MADV_FREE) and anonymous memory of the VMA, in kB (smaps). */
  rssKb: number
  lazyFreeKb: number
  anonymousKb: number
}

export interface RawSurface {
  mmap(length: Len, prot: number, flags: number, fd: number, offset: number, hint?: Target, hintOffset?: number): RawRegion | number
  munmap(region: Target, offset: number, length: Len): number
  mprotect(region: Target, offset: number, length: Len, prot: number): number
  pkeyMprotect(region: Target, offset: number, length: Len, prot: number, pkey: number): number
  madvise(region: Target, offset: number, length: Len, advice: number): number
  mseal(region: Target, offset: number, length: Len, flags: Len): number
  mlock(region: Target, offset: number, length: Len): number
  msealAt(address: Len, length: Len, flags: Len): number
  mremap(region: Target, offset: number, oldLength: Len, newLength: Len, flags: number, target?: Target, targetOffset?: number): RawRegion | number
  distance(a: Target, b: Target): number
  vma(region: Target, offset: number): VmaInfo | null
  /** The VMA from /proc/self/maps: span, permissions and name only, without smaps' page-table walk. */
  mapsVma(region: Target, offset: number): Pick<VmaInfo, 'start' | 'end' | 'perms' | 'name'> | null | number
  peek(region: Target, offset: number, length: number): Buffer
  poke(region: Target, offset: number, bytes: Buffer): number
  procMemWrite(region: Target, offset: number, bytes: Buffer): number
  systemMapping(name: string): RawRegion | null
  pinPages(region: Target, offset: number, length: Len): number
  unpinPages(ringFd: number): number
  getrlimit(resource: number): [number, number] | number
  setrlimit(resource: number, soft: number, hard: number): number
}

export type ConstantName =
  | 'MFD_CLOEXEC'
  | 'MFD_ALLOW_SEALING'
  | 'MFD_HUGETLB'
  | 'MFD_NOEXEC_SEAL'
  | 'MFD_EXEC'
  | 'MFD_HUGE_SHIFT'
  | 'MFD_HUGE_MASK'
  | 'F_ADD_SEALS'
  | 'F_GET_SEALS'
  | 'F_GETFD'
  | 'F_SETFD'
  | 'F_GETFL'
  | 'F_DUPFD_CLOEXEC'
  | 'FD_CLOEXEC'
  | 'F_SEAL_SEAL'
  | 'F_SEAL_SHRINK'
  | 'F_SEAL_GROW'
  | 'F_SEAL_WRITE'
  | 'F_SEAL_FUTURE_WRITE'
  | 'F_SEAL_EXEC'
  | 'O_RDONLY'
  | 'O_WRONLY'
  | 'O_RDWR'
  | 'O_ACCMODE'
  | 'O_PATH'
  | 'KERNEL_O_LARGEFILE'
  | 'PROT_NONE'
  | 'PROT_READ'
  | 'PROT_WRITE'
  | 'PROT_EXEC'
  | 'MAP_SHARED'
  | 'MAP_PRIVATE'
  | 'MAP_ANONYMOUS'
  | 'MAP_FIXED'
  | 'MAP_FIXED_NOREPLACE'
  | 'MAP_NORESERVE'
  | 'MAP_POPULATE'
  | 'MAP_HUGETLB'
  | 'MAP_HUGE_SHIFT'
  | 'MREMAP_MAYMOVE'
  | 'MREMAP_FIXED'
  | 'MREMAP_DONTUNMAP'
  | 'MADV_NORMAL'
  | 'MADV_RANDOM'
  | 'MADV_SEQUENTIAL'
  | 'MADV_WILLNEED'
  | 'MADV_DONTNEED'
  | 'MADV_FREE'
  | 'MADV_REMOVE'
  | 'MADV_DONTFORK'
  | 'MADV_DOFORK'
  | 'MADV_MERGEABLE'
  | 'MADV_UNMERGEABLE'
  | 'MADV_HUGEPAGE'
  | 'MADV_NOHUGEPAGE'
  | 'MADV_DONTDUMP'
  | 'MADV_DODUMP'
  | 'MADV_WIPEONFORK'
  | 'MADV_KEEPONFORK'
  | 'MADV_COLD'
  | 'MADV_PAGEOUT'
  | 'MADV_POPULATE_READ'
  | 'MADV_POPULATE_WRITE'
  | 'MADV_DONTNEED_LOCKED'
  | 'MADV_COLLAPSE'
  | 'MADV_GUARD_INSTALL'
  | 'MADV_GUARD_REMOVE'
  | 'FALLOC_FL_KEEP_SIZE'
  | 'FALLOC_FL_PUNCH_HOLE'
  | 'RLIMIT_NOFILE'
  | 'RLIMIT_CORE'
  | 'PKEY_DISABLE_ACCESS'
  | 'PKEY_DISABLE_WRITE'
  | 'SIGSEGV'
  | 'SIGBUS'
  | 'SIGKILL'
  | '__NR_mseal'
  | 'PAGE_SIZE'

/** Opaque handle of a uv_poll_t poller (a Node-API external); never an address. */
export interface FdPoll {
  readonly __memsealFdPoll: never
}

/** SCM_RIGHTS descriptor passing and the libuv poller (native/fdpass.cc); lib/fdpass.ts is its only user. */
export interface FdPassSurface {
  readonly constants: Readonly<Record<'AF_UNIX' | 'SOCK_STREAM' | 'UV_READABLE' | 'UV_WRITABLE' | 'UV_DISCONNECT' | 'MAX_RECV_FDS' | 'MAX_SEND_FDS', number>>
  /** AF_UNIX SOCK_STREAM|SOCK_CLOEXEC pair, blocking mode (every call here passes MSG_DONTWAIT); or -errno. */
  socketpair(): [number, number] | number
  /** A bound, listening, non-blocking, close-on-exec socket, or -errno; a Buffer path starting with NUL is abstract. */
  listen(path: string | Buffer, backlog: number): number
  /** A connected non-blocking close-on-exec socket, or -errno (-EAGAIN: none pending). */
  accept(fd: number): number
  /** A connected socket, or -errno (-EAGAIN: the server's backlog is full). */
  connect(path: string | Buffer): number
  /** [SO_DOMAIN, SO_TYPE], or -errno (-ENOTSOCK). */
  socketInfo(fd: number): [number, number] | number
  /** One sendmsg(MSG_DONTWAIT|MSG_NOSIGNAL): bytes sent or -errno; fds travel as SCM_RIGHTS with the first byte. */
  sendmsg(fd: number, bytes: Uint8Array, fds: readonly number[]): number
  /**
   * One recvmsg(MSG_DONTWAIT|MSG_CMSG_CLOEXEC) on the poller's socket into buffer, taking at most `room`
   * descriptors (1 … MAX_RECV_FDS), which the poller holds until pollRelease/pollDiscard (and closes with
   * itself). truncated = MSG_CTRUNC: descriptors were dropped, beyond `room` (fds.length === room) or for
   * this process's own limits (fewer). -errno on failure (-EAGAIN: nothing waiting).
   */
  recvmsg(poll: FdPoll, buffer: Uint8Array, room: number): { bytes: number; fds: number[]; truncated: boolean } | number
  /**
   * Blocks in poll(2) until the socket is readable (or writable too, with `write`), hung up or failed: its
   * revents; 0 once timeoutMs (-1: no limit) has passed; -errno.
   */
  pollWait(poll: FdPoll, write: boolean, timeoutMs: number): number
  /** The caller owns these received descriptors from now on: 0. */
  pollRelease(poll: FdPoll, fds: readonly number[]): number
  /** Closes these received descriptors: 0. */
  pollDiscard(poll: FdPoll, fds: readonly number[]): number
  /** How many received descriptors the poller holds. */
  pollHeld(poll: FdPoll): number
  /** A uv_poll_t on this environment's loop that owns fd (closed after the handle is), or -errno. */
  pollOpen(fd: number, callback: (status: number, events: number) => void): FdPoll | number
  /** 0 or -errno (-EBADF once closed). */
  pollStart(poll: FdPoll, events: number): number
  /** 0 or -EBADF once closed. */
  pollRef(poll: FdPoll, ref: boolean): number
  /** 0; idempotent. */
  pollClose(poll: FdPoll): number
}

// ── the mseal clauses' forked-child scenarios (native/mseal_scenarios.cc) ───────────────────────────────

/** Scenarios that run in a forked child of the worker: what must never happen in a long-lived process. */
export type MsealScenarioName = 'pkey-discard' | 'brk-shrink' | 'shmdt' | 'map-zero' | 'mremap-zero' | 'ia32' | 'vdso-munmap' | 'child-munmap'

/** What a scenario's child reported: every system call it made, the facts it saw, and how it ended. */
export interface MsealScenarioResult {
  /** In order; `ret` is the result or -errno; `args` the arguments a seccomp filter matches on. */
  calls: Array<{ syscall: string; args: number[]; ret: number }>
  /** Booleans (0/1), page counts, byte values, protections (r=4 w=2 x=1, -1 unmapped). */
  facts: Record<string, number>
  /** The signal that ended the child, or 0. */
  signal: number
  /** Its exit status, or -1 when a signal ended it. */
  exit: number
}

export interface MsealScenarioSurface {
  /** Runs a scenario (sealed, or its unsealed control); 'child-munmap' unmaps target+offset..length. -errno when no child could start. */
  msealScenario(name: MsealScenarioName, sealed: boolean, target?: Target, offset?: number, length?: Len): MsealScenarioResult | number
  /**
   * 'ia32': int $0x80 getpid (result 0, or -errno; signal when it faulted); 'map-zero': mmap at address 0
   * (result 0 or -errno). forked false when no child could start (result -errno): nothing was learnt.
   */
  msealEnvProbe(name: 'ia32' | 'map-zero'): { forked: boolean; result: number; signal: number }
}

/** Probe access codes (native/probe.cc). */
export const enum ProbeAccess {
  Read = 0,
  Write = 1,
  Exec = 2,
  Store = 3,
}

/** Receive windows (native/window.cc): one reserved read-only range, one ArrayBuffer, many files. */
export interface WindowSurface {
  /** Reserves capacity bytes aligned to `align`: the ArrayBuffer over them (its region's id in out[0]), or -errno. */
  open(out: Float64Array, capacity: number, align: number): ArrayBuffer | number
  /** Maps the first `length` bytes of fd in place at the window's start (the rest zero pages): 0 or -errno. */
  fill(id: number, fd: number, length: number, dev: number, ino: number): number
  /** Zero pages only again: 0 or -errno. */
  clear(id: number): number
}

export interface Native extends MsealScenarioSurface {
  readonly constants: Readonly<Record<ConstantName, number>>
  /** name: a string; a Buffer (raw bytes, no terminator added); null (NULL); a number (used as the pointer). */
  memfdCreate(name: string | Buffer | null | number, flags: number): number
  fcntl(fd: number, cmd: number, arg?: Len): number
  /** fcntl(fd, F_GET_SEALS): the seal bits or -errno (the hot path of Memfd#sealBits). */
  getSeals(this: void, fd: number): number
  fallocate(fd: number, mode: number, offset: number, length: number): number
  close(fd: number): number
  /** fstat(2) into out: [st_dev, st_ino, st_size, st_mode]; 0 or -errno. For hot paths (no fs.Stats). */
  fstat(fd: number, out: Float64Array): number
  /**
   * memfd_create(2), the new descriptor owned by `memfd` (a fresh object) at once: its close, its finalizer
   * or this environment's teardown closes it. fstat into out ([st_dev, st_ino, st_size, st_mode]). fd or -errno.
   */
  create(memfd: object, name: string, flags: number, out: Float64Array): number
  /**
   * `memfd` (a fresh object) owns fd from now on; with dup, a close-on-exec duplicate of it instead; with a
   * poller, fd is taken from the received descriptors it holds in the same step. fstat into out. The owned
   * fd, or -errno (a duplicate or a taken descriptor is closed on failure).
   */
  adopt(memfd: object, fd: number, out: Float64Array, dup: boolean, poll?: FdPoll): number
  /** fstat of the descriptor `memfd` owns into out: 0; 1 when the number now refers to another file; -errno (-EBADF: closed). */
  verify(memfd: object, out: Float64Array): number
  /**
   * Gives up the descriptor `memfd` owns (and unwraps it), closing it if `close` and it is still the same
   * file: 0; 1 (another file, left alone); -errno (-EBADF: it owns nothing).
   */
  release(memfd: object, close: boolean): number
  /** Descriptors the Memfds of this environment own. */
  ownedFds(): number
  /**
   * Everything a received descriptor is judged by, in one call: out[0] F_GETFL; out[1..4] fstat's mode (or
   * -errno), size, st_dev, st_ino; out[5] F_GET_SEALS (bits or -errno); out[6] fstatfs's huge page size (0
   * for other files, or -errno). Returns the /proc/self/fd link ('' when unreadable), or -errno from F_GETFL.
   */
  inspect(fd: number, out: Float64Array): string | number
  /** A region whose only holder is the returned ArrayBuffer over all of it (the conformance suite's form), or -errno. */
  mmap(length: number, prot: number, flags: number, fd: number, offset: number): ArrayBuffer | number
  /**
   * mmap(2): the region's id goes into out[0], and the result is its head, a view of its first headLength
   * bytes the caller keeps to itself (the pages stay mapped while a view lives); or -errno (-ENOMEM also at
   * memseal's budget, see mappingBudget). dev, ino: the file's identity for mappedEnd, -1 for anonymous memory.
   */
  map(
    out: Float64Array,
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
    dev: number,
    ino: number,
    headLength: number,
  ): ArrayBuffer | number
  /**
   * An external ArrayBuffer over [offset, offset + length) of a mapping, or -errno (-EBADF: unmapped).
   * `exposed` (default true): false for a head the caller keeps to itself (see expose).
   */
  view(target: MapTarget, offset: number, length: number, exposed?: boolean): ArrayBuffer | number
  /** The views kept so far (a head) are handed out now: 0, or -EBADF. */
  expose(target: MapTarget): number
  /** 0 or -errno (-EBADF: not a live mapping). Every view that can be reached is detached. */
  munmap(target: MapTarget): number
  mprotect(target: MapTarget, offset: number, length: number, prot: number): number
  madvise(target: MapTarget, offset: number, length: number, advice: number): number
  mseal(target: MapTarget, offset: number, length: number, flags: number): number
  /** mremap(2) of the region behind an ArrayBuffer: a new ArrayBuffer over the new pages, or -errno. */
  mremap(buffer: ArrayBuffer, newLength: number, mayMove: boolean): ArrayBuffer | number
  /** mremap(2) of the region with this id, which then names the new pages: 0 or -errno (-EBUSY: see remap()). */
  remap(id: number, newLength: number, mayMove: boolean): number
  isMapped(target: MapTarget): boolean
  /** The largest file offset any live mapping of this process covers of the file (dev, ino), or 0. */
  mappedEnd(dev: number, ino: number): number
  /** The huge page size of a hugetlbfs file, 0 for any other file, or -errno. */
  hugePageSize(fd: number): number
  /** The largest ArrayBuffer this runtime makes (set once, below). */
  setMaxViewLength(length: number): void
  /** Regions this environment still maps. */
  liveMappings(): number
  /** [mapped regions in the whole process, the most memseal keeps at once (half of vm.max_map_count)] */
  mappingBudget(): [number, number]
  /** Mapping ArrayBuffers (views) in the whole process whose finalizer has not run yet. */
  pendingFinalizers(): number
  /** 0 when the access succeeded, else the signal number it raised; -errno if the fork failed. */
  probe(target: Target, offset: number, access: ProbeAccess, value?: number): number
  forkMunmap(target: Target, offset: number, length: Len): number
  /** Exit status of the executed program, 128 + signal, or -errno when execveat(2) failed. */
  execveat(fd: number, argv: string[]): number
  /**
   * The seccomp canary of a system call (native/canary.cc): the call made with one argument the kernel must
   * refuse, the matched arguments kept. Its result or -errno; -ENOTSUP when there is no canary for it.
   */
  seccompCanary(syscall: string, args: number[]): number
  readonly raw: RawSurface
  readonly fdpass: FdPassSurface
  readonly window: WindowSurface
}

// ── native/steps.cc: a sequence of seal and file calls on this thread or in a single-threaded forked child ──

/** Operation codes of Native.fileSteps (native/steps.cc). */
export const enum StepOp {
  GetSeals = 0,
  AddSeals = 1,
  Dup = 2,
  Reopen = 3,
  Close = 4,
  Mmap = 5,
  Munmap = 6,
  ForkIdle = 7,
  Join = 8,
}

export interface Native {
  /**
   * Runs steps of 5 numbers each [op, a, b, c, d] on this thread (forked false) or in a forked child, which
   * is single-threaded (forked true). Returns 1 + n numbers: the thread count of the process that ran them
   * (-errno when no child could), then each step's result or -errno. Releases what the steps made.
   */
  fileSteps(steps: Float64Array, forked: boolean): Float64Array
}

export const native = nodeGypBuild(join(__dirname, '..')) as Native
// Views larger than this would make Node refuse the ArrayBuffer (2^32 in Node 18 and 20, 2^53 - 1 later).
native.setMaxViewLength(bufferConstants.MAX_LENGTH)
/**
 * A frozen plain copy of the addon's constants. The addon builds its object with ~80 property stores, so
 * V8 keeps it in dictionary mode and every `constants.X` on a hot path is a hash lookup (a LoadIC miss);
 * the copy has fast properties that optimised code reads as a constant.
 */
export const constants: Native['constants'] = Object.freeze({ ...native.constants })
