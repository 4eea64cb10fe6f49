/**
 * Shared pieces of the mseal(2) clauses: the documentation they quote, verbatim, with the version it was
 * read in; the area's clause factory; the refused/control pair that mirrors mseal_test.c's seal=true and
 * seal=false runs; and page-granular helpers. Offsets in the clause files are in pages (`pg` turns them
 * into bytes).
 *
 * mseal.rst changed in Linux 6.12: the 6.10/6.11 text promised "no partial update" for every blocked
 * operation; the 6.12 text says munmap is atomic, mprotect/pkey_mprotect/madvise may update part of the
 * range, and mmap/mremap are undefined. Where a verdict depends on that wording, the expectation follows
 * the document of the kernel's era (`era610`).
 */
import { compareVersions, parseVersion } from '../../kernel/version'
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, KernelFacts, KnownBehaviour, Observation, Quote } from '../types'

/** A region the clause mapped (what ctx.mem.guarded returns). */
export type Region = ReturnType<Ctx['mem']['guarded']>

export const RO = C.PROT_READ
export const RW = C.PROT_READ | C.PROT_WRITE
export const ANON = C.MAP_PRIVATE | C.MAP_ANONYMOUS

/** Pages → bytes. */
export function pg(ctx: Ctx, pages: number): number {
  return pages * ctx.ps
}

/** Whether the kernel's era is that of the 6.10/6.11 mseal.rst (before the 6.12 rewrite). */
export function era610(k: KernelFacts): boolean {
  return compareVersions(k.version, parseVersion('6.12')) < 0
}

// ── the documentation ─────────────────────────────────────────────────────────────────────────────

const RST_612 = 'https://docs.kernel.org/6.12/userspace-api/mseal.html'
const RST_610 = 'https://docs.kernel.org/6.10/userspace-api/mseal.html'
const RST_LATEST = 'https://docs.kernel.org/userspace-api/mseal.html'

/** Documentation/userspace-api/mseal.rst as published for Linux 6.12 (the same words in 7.2 unless noted). */
function rst(section: string, text: string): Quote {
  return { doc: 'mseal.rst', version: 'Linux 6.12', section, url: RST_612, text }
}

/** mseal.rst as published for Linux 6.10 and 6.11 (the "User API" layout, before the 6.12 rewrite). */
function rst610(section: string, text: string): Quote {
  return { doc: 'mseal.rst', version: 'Linux 6.10', section, url: RST_610, text }
}

const SIGNATURE = 'SYSCALL: mseal syscall signature'
const BLOCKED = 'Blocked mm syscall for sealed mapping'
const WHEN_NOT = 'When not to use mseal'
const NOT_BLOCKED = "mseal doesn't block"

/** mseal.rst, Linux 6.12. */
export const DOC = {
  signature: rst(SIGNATURE, 'int mseal(void * addr, size_t len, unsigned long flags)'),
  range: rst(
    SIGNATURE,
    'addr/len: virtual memory address range. The address range set by addr/len must meet: - The start address must be in an allocated VMA. ' +
      '- The start address must be page aligned. - The end address (addr + len) must be in an allocated VMA. - no gap (unallocated memory) between start and end address.',
  ),
  len: rst(SIGNATURE, 'The len will be paged aligned implicitly by the kernel.'),
  flags: rst(SIGNATURE, 'flags: reserved for future use.'),
  success: rst(SIGNATURE, 'Return values: - 0: Success.'),
  einval: rst(SIGNATURE, '-EINVAL: * Invalid input flags. * The start address (addr) is not page aligned. * Address range (addr + len) overflow.'),
  enomem: rst(
    SIGNATURE,
    '-ENOMEM: * The start address (addr) is not allocated. * The end address (addr + len) is not allocated. * A gap (unallocated memory) between start and end address.',
  ),
  eperm32: rst(SIGNATURE, '-EPERM: * sealing is supported only on 64-bit CPUs, 32-bit is not supported.'),
  noPartial: rst(SIGNATURE, 'Note about error return: - For above error cases, users can expect the given memory range is unmodified, i.e. no partial update.'),
  arch: rst(SIGNATURE, 'Architecture support: mseal only works on 64-bit CPUs, not 32-bit CPUs.'),
  idempotent: rst(SIGNATURE, 'Idempotent: users can call mseal multiple times. mseal on an already sealed memory is a no-action (not error).'),
  lifetime: rst(BLOCKED, "It might be important to note: once the mapping is sealed, it will stay in the process's memory until the process terminates."),
  example: rst(
    BLOCKED,
    'Example: *ptr = mmap(0, 4096, PROT_READ, MAP_ANONYMOUS | MAP_PRIVATE, 0, 0); rc = mseal(ptr, 4096, 0); /* munmap will fail */ rc = munmap(ptr, 4096); assert(rc < 0);',
  ),
  blocked: rst(
    BLOCKED,
    'Blocked mm syscall: - munmap - mmap - mremap - mprotect and pkey_mprotect - some destructive madvise behaviors: MADV_DONTNEED, MADV_FREE, ' +
      'MADV_DONTNEED_LOCKED, MADV_FREE, MADV_DONTFORK, MADV_WIPEONFORK',
  ),
  firstSet: rst(
    BLOCKED,
    'The first set of syscalls to block is munmap, mremap, mmap. They can either leave an empty space in the address space, therefore allowing ' +
      'replacement with a new mapping with new set of attributes, or can overwrite the existing mapping with another mapping.',
  ),
  protection: rst(BLOCKED, 'mprotect and pkey_mprotect are blocked because they changes the protection bits (RWX) of the mapping.'),
  discard: rst(
    BLOCKED,
    'Certain destructive madvise behaviors, specifically MADV_DONTNEED, MADV_FREE, MADV_DONTNEED_LOCKED, and MADV_WIPEONFORK, can introduce risks ' +
      'when applied to anonymous memory by threads lacking write permissions. Consequently, these operations are prohibited under such conditions. ' +
      'The aforementioned behaviors have the potential to modify region contents by discarding pages, effectively performing a memset(0) operation ' +
      'on the anonymous memory.',
  ),
  eperm: rst(BLOCKED, 'Kernel will return -EPERM for blocked syscalls.'),
  munmapAtomic: rst(
    BLOCKED,
    'When blocked syscall return -EPERM due to sealing, the memory regions may or may not be changed, depends on the syscall being blocked: … ' +
      '- munmap: munmap is atomic. If one of VMAs in the given range is sealed, none of VMAs are updated.',
  ),
  partial: rst(
    BLOCKED,
    'When blocked syscall return -EPERM due to sealing, the memory regions may or may not be changed, depends on the syscall being blocked: … ' +
      '- mprotect, pkey_mprotect, madvise: partial update might happen, e.g. when mprotect over multiple VMAs, mprotect might update the beginning ' +
      'VMAs before reaching the sealed VMA and return -EPERM.',
  ),
  undefined: rst(
    BLOCKED,
    'When blocked syscall return -EPERM due to sealing, the memory regions may or may not be changed, depends on the syscall being blocked: … ' +
      '- mmap and mremap: undefined behavior.',
  ),
  anyRegion: rst(
    WHEN_NOT,
    "Applications can apply sealing to any virtual memory region from userspace, but it is crucial to thoroughly analyze the mapping's lifetime " +
      'prior to apply the sealing. This is because the sealed mapping won’t be unmapped until the process terminates or the exec system call is invoked.',
  ),
  shm: rst(
    WHEN_NOT,
    'aio/shm can call mmap and munmap on behalf of userspace, e.g. ksys_shmdt() in shm.c. The lifetimes of those mapping are not tied to the ' +
      'lifetime of the process. If those memories are sealed from userspace, then munmap will fail, causing leaks in VMA address space during the ' +
      'lifetime of the process.',
  ),
  heap: rst(
    WHEN_NOT,
    "ptr allocated by malloc (heap) Don't use mseal on the memory ptr return from malloc(). malloc() is implemented by allocator, e.g. by glibc. " +
      "Heap manager might allocate a ptr from brk or mapping created by mmap. … ptr = malloc(size); /* don't call mseal on ptr return from malloc. */ " +
      "mseal(ptr, size); /* free will success, allocator can't shrink heap lower than ptr */ free(ptr);",
  ),
  immutable: rst(
    NOT_BLOCKED,
    "In a nutshell, mseal blocks certain mm syscall from modifying some of VMA's attributes, such as protection bits (RWX). Sealed mappings " +
      "doesn't mean the memory is immutable.",
  ),
  procMem: rst(NOT_BLOCKED, 'Those cases are: - Write to read-only memory through /proc/self/mem interface (FOLL_FORCE).'),
  /** The system-mappings use case: in 7.2's text (it arrived after 6.12). */
  sysmap: {
    doc: 'mseal.rst',
    version: 'Linux 7.2',
    section: 'Use cases: System mappings',
    url: RST_LATEST,
    text:
      'The system mappings are created by the kernel and includes vdso, vvar, vvar_vclock, vectors (arm compat-mode), sigpage (arm compat-mode), ' +
      'uprobes. Those system mappings are readonly only or execute only, memory sealing can protect them from ever changing to writable or ' +
      'unmmap/remapped as different attributes. … If supported by an architecture (CONFIG_ARCH_SUPPORTS_MSEAL_SYSTEM_MAPPINGS), the ' +
      'CONFIG_MSEAL_SYSTEM_MAPPINGS seals all system mappings of this architecture.',
  } satisfies Quote,
}

const USER_API = 'User API: mseal()'

/** mseal.rst, Linux 6.10 (and 6.11): the text the kernels of that era were documented by. */
export const DOC610 = {
  unmapMove: rst610(
    USER_API,
    'Blocked operations after sealing: Unmapping, moving to another location, and shrinking the size, via munmap() and mremap(), can leave an ' +
      'empty space, therefore can be replaced with a VMA with a new set of attributes.',
  ),
  moveInto: rst610(USER_API, 'Moving or expanding a different VMA into the current location, via mremap().'),
  mapFixed: rst610(USER_API, 'Modifying a VMA via mmap(MAP_FIXED).'),
  expand: rst610(
    USER_API,
    'Size expansion, via mremap(), does not appear to pose any specific risks to sealed VMAs. It is included anyway because the use case is ' +
      'unclear. In any case, users can rely on merging to expand a sealed VMA.',
  ),
  protection: rst610(USER_API, 'mprotect() and pkey_mprotect().'),
  madvise: rst610(
    USER_API,
    "Some destructive madvice() behaviors (e.g. MADV_DONTNEED) for anonymous memory, when users don't have write permission to the memory. " +
      'Those behaviors can alter region contents by discarding pages, effectively a memset(0) for anonymous memory.',
  ),
  eperm: rst610(USER_API, 'Kernel will return -EPERM for blocked operations.'),
  noPartial: rst610(
    USER_API,
    'For blocked operations, one can expect the given address is unmodified, i.e. no partial update. Note, this is different from existing mm ' +
      'system call behaviors, where partial updates are made till an error is found and returned to userspace.',
  ),
  brk: rst610(
    'Notes on which memory to seal: Brk (heap)',
    'Furthermore, even if the application never calls the free() for the ptr, the heap manager may invoke the brk system call to shrink the size ' +
      'of the heap. In the kernel, the brk-shrink will call munmap(). Consequently, depending on the location of the ptr, the outcome of ' +
      'brk-shrink is nondeterministic.',
  ),
}

const MAN = 'https://man7.org/linux/man-pages'

function man(doc: string, page: string, section: string, text: string): Quote {
  return { doc, version: 'man-pages 6.20', section, url: `${MAN}/${page}.html`, text }
}

/** The system calls' own pages (man-pages 6.20): what an unsealed mapping's control clause expects. */
export const MANUAL = {
  munmap: man(
    'mmap(2)',
    'man2/mmap.2',
    'DESCRIPTION',
    'The munmap() system call deletes the mappings for the specified address range, and causes further references to addresses within the range to ' +
      'generate invalid memory references.',
  ),
  mprotect: man(
    'mprotect(2)',
    'man2/mprotect.2',
    'DESCRIPTION',
    "mprotect() changes the access protections for the calling process's memory pages containing any part of the address range in the interval " +
      '[addr, addr+size-1].',
  ),
  pkeyMprotect: man(
    'mprotect(2)',
    'man2/mprotect.2',
    'DESCRIPTION',
    'Like mprotect(), pkey_mprotect() changes the protection on the pages specified by addr and size.',
  ),
  mapFixed: man(
    'mmap(2)',
    'man2/mmap.2',
    'MAP_FIXED',
    "Don't interpret addr as a hint: place the mapping at exactly that address. … If the memory region specified by addr and length overlaps " +
      'pages of any existing mapping(s), then the overlapped part of the existing mapping(s) will be discarded.',
  ),
  mremap: man(
    'mremap(2)',
    'man2/mremap.2',
    'DESCRIPTION',
    'mremap() expands (or shrinks) an existing memory mapping, potentially moving it at the same time (controlled by the flags argument and the ' +
      'available virtual address space).',
  ),
  mremapFixed: man(
    'mremap(2)',
    'man2/mremap.2',
    'MREMAP_FIXED',
    'If this flag is specified, then mremap() accepts a fifth argument, void *new_address, which specifies a page-aligned address to which the ' +
      'mapping must be moved. Any previous mapping at the address range specified by new_address and new_size is unmapped.',
  ),
  dontunmap: man(
    'mremap(2)',
    'man2/mremap.2',
    'MREMAP_DONTUNMAP',
    'This flag, which must be used in conjunction with MREMAP_MAYMOVE, remaps mappings to a new address but does not unmap them from their original address.',
  ),
  dontneed: man(
    'madvise(2)',
    'man2/madvise.2',
    'MADV_DONTNEED',
    'After a successful MADV_DONTNEED operation, the semantics of memory access in the specified region are changed: subsequent accesses of pages ' +
      'in the range will succeed, but will result in either repopulating the memory contents from the up-to-date contents of the underlying mapped ' +
      'file (for shared file mappings, shared anonymous mappings, and shmem-based techniques such as System V shared memory segments) or ' +
      'zero-fill-on-demand pages for anonymous private mappings.',
  ),
  free: man(
    'madvise(2)',
    'man2/madvise.2',
    'MADV_FREE',
    'The kernel can thus free these pages, but the freeing could be delayed until memory pressure occurs. … Once pages in the range have been ' +
      'freed, the caller will see zero-fill-on-demand pages upon subsequent page references.',
  ),
  dontfork: man('madvise(2)', 'man2/madvise.2', 'MADV_DONTFORK', 'Do not make the pages in this range available to the child after a fork(2).'),
  dofork: man(
    'madvise(2)',
    'man2/madvise.2',
    'MADV_DOFORK',
    'Undo the effect of MADV_DONTFORK, restoring the default behavior, whereby a mapping is inherited across fork(2).',
  ),
  wipeonfork: man('madvise(2)', 'man2/madvise.2', 'MADV_WIPEONFORK', 'Present the child process with zero-filled memory in this range after a fork(2).'),
  remove: man('madvise(2)', 'man2/madvise.2', 'MADV_REMOVE', 'The specified address range must be mapped shared and writable.'),
  guardInstall: man(
    'madvise(2)',
    'man2/madvise.2',
    'MADV_GUARD_INSTALL',
    'Install a lightweight guard region into the range specified by addr and size, causing any read or write in the range to result in a SIGSEGV signal being raised.',
  ),
  random: man('madvise(2)', 'man2/madvise.2', 'MADV_RANDOM', 'Expect page references in random order.'),
  dontdump: man('madvise(2)', 'man2/madvise.2', 'MADV_DONTDUMP', 'Exclude from a core dump those pages in the range specified by addr and size.'),
  mlock: man(
    'mlock(2)',
    'man2/mlock.2',
    'mlock(), mlock2(), and munlock()',
    'All pages that contain a part of the specified address range are guaranteed to be resident in RAM when the call returns successfully; the ' +
      'pages are guaranteed to stay in RAM until later unlocked.',
  ),
}

/** include/uapi/asm-generic/mman-common.h (Linux 7.2): the one description of MADV_DONTNEED_LOCKED. */
export const DONTNEED_LOCKED: Quote = {
  doc: 'include/uapi/asm-generic/mman-common.h',
  version: 'Linux 7.2',
  text: '#define MADV_DONTNEED_LOCKED 24 /* like DONTNEED, but drop locked pages too */',
}

// ── declaring clauses ─────────────────────────────────────────────────────────────────────────────

type Spec = Omit<Clause, 'area' | 'since'> & { since?: string }

/** An mseal clause with the area's defaults: since 6.10, needs the mseal feature. */
export function clause(spec: Spec): Clause {
  return { area: 'mseal', since: '6.10', ...spec, needs: spec.needs ?? ['mseal'] }
}

export interface PairSpec {
  /** [the sealed clause, its unsealed control]. */
  ids: [string, string]
  catalog?: string
  /** What the documentation says about the sealed case. */
  quote: Quote | Quote[]
  note: string
  /** The system call's own documentation, for the control. */
  control: Quote | Quote[]
  controlNote?: string
  /** The selftest or LTP cases both variants mirror (mseal_test.c runs each test with seal=false and seal=true). */
  mirrors?: string[]
  needs?: Clause['needs']
  since?: string
  basis?: Clause['basis']
  refused: Clause['expect']
  allowed: Clause['expect']
  history?: KnownBehaviour[]
  divergence?: Clause['divergence']
}

/** A refused clause (sealed) and its control (never sealed) from one scenario. */
export function pair(spec: PairSpec, scenario: (ctx: Ctx, sealed: boolean) => Observation): Clause[] {
  const common = {
    ...(spec.catalog ? { catalog: spec.catalog } : {}),
    ...(spec.mirrors ? { mirrors: spec.mirrors } : {}),
    ...(spec.needs ? { needs: spec.needs } : {}),
    ...(spec.since ? { since: spec.since } : {}),
  }
  return [
    clause({
      id: spec.ids[0],
      ...common,
      quote: spec.quote,
      note: spec.note,
      ...(spec.basis ? { basis: spec.basis } : {}),
      expect: spec.refused,
      ...(spec.history ? { history: spec.history } : {}),
      ...(spec.divergence ? { divergence: spec.divergence } : {}),
      run: (ctx) => scenario(ctx, true),
    }),
    clause({
      id: spec.ids[1],
      ...common,
      quote: spec.control,
      note: spec.controlNote ?? `Control for ${spec.ids[0]}: the same calls on a mapping that was never sealed.`,
      expect: spec.allowed,
      run: (ctx) => scenario(ctx, false),
    }),
  ]
}

// ── small steps ───────────────────────────────────────────────────────────────────────────────────

/** A guarded private anonymous mapping of `pages` pages (RO by default), its pages written with 'A' first. */
export function filled(ctx: Ctx, pages: number, prot: number = RO): Region {
  const r = ctx.mem.guarded(pages, RW)
  ctx.mem.fillPages(
    r,
    Array.from({ length: pages }, (_, i) => i),
    FILL,
  )
  if (prot !== RW) ctx.mem.protect(r, 0, pg(ctx, pages), prot)
  return r
}

/** The byte filled() writes: 'A'. */
export const FILL = 0x41

/** mseal of whole pages as a setup step (verified: 'sl' in the VmFlags of the first page). */
export function seal(ctx: Ctx, r: Region, first: number, count: number): void {
  ctx.mem.seal(r, pg(ctx, first), pg(ctx, count))
}

/** What ctx.mem.scenario reports of a forked child's run. */
export type ScenarioRun = ReturnType<Ctx['mem']['scenario']>

/**
 * The answer ({ ret } or { errno }) of the child's `nth` call of `syscall` (-1: the last one), or
 * { missing: syscall } when the child never made it (it stopped or died before).
 */
export function callOf(run: ScenarioRun, syscall: string, nth = -1): Observation {
  const made = run.calls.filter((c) => c.syscall === syscall)
  return made.at(nth)?.answer ?? { missing: syscall }
}

/** A boolean fact of the child's (null when it never got that far). */
export function flag(run: ScenarioRun, key: string): boolean | null {
  const v = run.facts[key]
  return v === undefined ? null : v !== 0
}

/** Just the answer of an observation: 0 for success, the errno name otherwise. */
export function answer(o: Observation): number | string {
  return typeof o.errno === 'string' ? o.errno : 0
}
