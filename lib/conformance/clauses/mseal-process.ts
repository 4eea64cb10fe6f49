/**
 * mseal(2) where a long-lived process must never go: a mapping at address 0, the program break, a System V
 * shared memory segment, the i386 system call entry of a 64-bit process and the thread's protection-key
 * rights (mseal_test.c test_seal_zero_address, test_seal_mremap_move_fixed_zero,
 * test_seal_discard_ro_anon_on_pkey; LTP mseal01's pkey_mprotect case; catalog mseal.brk-shrink-blocked,
 * mseal.shmdt-sealed, mseal.compat-ia32-on-64bit-kernel). Each runs in a forked child of the worker
 * (native/mseal_scenarios.cc, through ctx.mem.scenario), which reports every call it made and what it saw.
 */
import type { Ctx } from '../ctx'
import type { Clause, Json, Observation, Quote } from '../types'
import { DOC, DOC610, MANUAL, callOf, flag, pair, type ScenarioRun } from './mseal-common'

/** The child's setup calls must have succeeded (and a sealed run must have left its seal): otherwise the clause is broken. */
function setupDone(ctx: Ctx, run: ScenarioRun, syscalls: readonly string[], sealed: boolean): void {
  const died = run.signal ? ` (the child was killed by ${run.signal})` : ''
  for (const s of syscalls) {
    const a = callOf(run, s, 0)
    ctx.verify(a.errno === undefined && a.missing === undefined, () => `${s} in the child: ${JSON.stringify(a)}${died}`)
  }
  if (!sealed) return
  const a = callOf(run, 'mseal', 0)
  ctx.verify(
    a.ret === 0 && flag(run, 'sealed') === true,
    () => `the child's seal did not take: mseal ${JSON.stringify(a)}, sealed ${String(run.facts.sealed)}${died}`,
  )
}

/** Protection bits as /proc/self/maps shows them (r=4 w=2 x=1), or 'unmapped'. */
function protText(prot: number | undefined): Json {
  if (prot === undefined || prot < 0) return 'unmapped'
  return `${prot & 4 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 1 ? 'x' : '-'}`
}

const PKEYS: Quote = {
  doc: 'pkeys(7)',
  version: 'man-pages 6.20',
  section: 'DESCRIPTION',
  url: 'https://man7.org/linux/man-pages/man7/pkeys.7.html',
  text:
    'To use pkeys, software must first "tag" a page in the page tables with a pkey. After this tag is in place, an application only has to ' +
    'change the contents of a register in order to remove write access, or all access to a tagged page.',
}

const BRK: Quote = {
  doc: 'brk(2)',
  version: 'man-pages 6.20',
  section: 'C library/kernel differences',
  url: 'https://man7.org/linux/man-pages/man2/brk.2.html',
  text: 'However, the actual Linux system call returns the new program break on success. On failure, the system call returns the current break.',
}

const SHMDT: Quote[] = [
  {
    doc: 'shmop(2)',
    version: 'man-pages 6.20',
    section: 'shmdt()',
    url: 'https://man7.org/linux/man-pages/man2/shmop.2.html',
    text:
      'shmdt() detaches the shared memory segment located at the address specified by shmaddr from the address space of the calling process. … ' +
      'On success, shmdt() returns 0; on error -1 is returned, and errno is set to indicate the error. … shmdt() can fail with one of the ' +
      'following errors: EINVAL There is no shared memory segment attached at shmaddr; or, shmaddr is not aligned on a page boundary.',
  },
  {
    doc: 'ipc/shm.c',
    version: 'Linux 7.2',
    section: 'ksys_shmdt()',
    text: "Errors from do_munmap are ignored: the function only fails if it's called with invalid parameters or if it's called to unmap a part of a vma.",
  },
]

const I386_TABLE: Quote = {
  doc: 'arch/x86/entry/syscalls/syscall_32.tbl',
  version: 'Linux 7.2',
  text: '462 i386 mseal sys_mseal',
}

export const processClauses: Clause[] = [
  ...pair(
    {
      ids: ['mseal.madv-dontneed-pkey-write-disabled', 'mseal.madv-dontneed-pkey-unsealed-ok'],
      catalog: 'mseal.madv-dontneed-pkey-write-disabled',
      mirrors: ['mseal_test.c test_seal_discard_ro_anon_on_pkey', 'LTP mseal01'],
      quote: [DOC.discard, DOC.protection, PKEYS],
      note:
        "Four read-write anonymous pages tagged with a freshly allocated protection key (pkey_mprotect), sealed. While this thread's PKRU lets " +
        "it write the key's pages, MADV_DONTNEED is allowed and the page reads 0; once PKRU denies writes (PKEY_DISABLE_WRITE) the thread " +
        "lacks write permission and the discard is refused, the page keeping its 'B'. pkey_mprotect of the sealed pages (LTP mseal01) and " +
        'munmap are refused. In a forked child, whose PKRU is its own.',
      control: [MANUAL.dontneed, MANUAL.pkeyMprotect, MANUAL.munmap],
      needs: ['mseal', 'pkeys', 'x86_64'],
      refused: {
        writable: { ret: 0, byte: 0 },
        writeDenied: { errno: 'EPERM', byte: 0x42 },
        pkeyMprotect: { errno: 'EPERM' },
        munmap: { errno: 'EPERM', mapped: true },
      },
      allowed: {
        writable: { ret: 0, byte: 0 },
        writeDenied: { ret: 0, byte: 0 },
        pkeyMprotect: { ret: 0 },
        munmap: { ret: 0, mapped: false },
      },
    },
    (ctx, sealed): Observation => {
      const run = ctx.mem.scenario('pkey-discard', sealed)
      setupDone(ctx, run, ['mmap', 'pkey_alloc', 'pkey_mprotect'], sealed)
      if (run.signal) return { signal: run.signal }
      return {
        writable: { ...callOf(run, 'madvise', 0), byte: run.facts.writableByte ?? null },
        writeDenied: { ...callOf(run, 'madvise', 1), byte: run.facts.writeDeniedByte ?? null },
        pkeyMprotect: callOf(run, 'pkey_mprotect', 1),
        munmap: { ...callOf(run, 'munmap'), mapped: flag(run, 'mapped') },
      }
    },
  ),
  ...pair(
    {
      ids: ['mseal.brk-shrink-blocked', 'mseal.brk-shrink-unsealed-ok'],
      catalog: 'mseal.brk-shrink-blocked',
      quote: [DOC.heap, DOC610.brk, DOC.munmapAtomic, BRK],
      note:
        'A forked child raises its program break by four pages, seals the top one, and asks brk(2) for the old break: brk shrinks by unmapping ' +
        '("the brk-shrink will call munmap()"), which the seal refuses for the whole range, so the break stays at the top (the system call ' +
        'returns the current break on failure) and every page stays mapped.',
      control: BRK,
      controlNote: 'Control for mseal.brk-shrink-blocked: without the seal the break moves down and the four pages are unmapped.',
      refused: { break: 'unchanged', top: true, bottom: true },
      allowed: { break: 'moved', top: false, bottom: false },
    },
    (ctx, sealed): Observation => {
      const run = ctx.mem.scenario('brk-shrink', sealed)
      ctx.verify(flag(run, 'grown') === true, () => `the child could not raise its program break by four pages: ${JSON.stringify(run.calls)}`)
      setupDone(ctx, run, ['brk'], sealed)
      if (run.signal) return { signal: run.signal }
      const where = ['moved', 'unchanged', 'elsewhere'][run.facts.break ?? 2] ?? 'elsewhere'
      return { break: where, top: flag(run, 'topMapped'), bottom: flag(run, 'bottomMapped') }
    },
  ),
  ...pair(
    {
      ids: ['mseal.shmdt-sealed-leaks', 'mseal.shmdt-unsealed-ok'],
      catalog: 'mseal.shmdt-sealed',
      quote: [DOC.shm, ...SHMDT],
      note:
        'A forked child attaches a System V segment read-only, seals the attachment and detaches it: shmdt unmaps on its behalf, the seal ' +
        'refuses the unmap, and the mapping stays (the leak mseal.rst warns of). shmdt itself answers 0: the segment is attached there, so ' +
        "its one documented error does not apply, and ksys_shmdt() ignores the unmap's failure.",
      control: SHMDT[0]!,
      refused: { shmdt: { ret: 0 }, mapped: true },
      allowed: { shmdt: { ret: 0 }, mapped: false },
    },
    (ctx, sealed): Observation => {
      const run = ctx.mem.scenario('shmdt', sealed)
      setupDone(ctx, run, ['shmget', 'shmat', 'shmctl'], sealed)
      if (run.signal) return { signal: run.signal }
      return { shmdt: callOf(run, 'shmdt'), mapped: flag(run, 'mapped') }
    },
  ),
  ...pair(
    {
      ids: ['mseal.zero-address-mprotect-eperm', 'mseal.zero-address-mprotect-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_zero_address'],
      quote: [DOC.anyRegion, DOC.blocked, DOC.protection, DOC.eperm],
      note:
        'A forked child maps four PROT_NONE pages at address 0 (MAP_FIXED), seals them and asks mprotect(PROT_READ|PROT_WRITE): refused, ' +
        'the pages staying PROT_NONE. Needs an environment that allows a mapping at 0.',
      control: [MANUAL.mapFixed, MANUAL.mprotect],
      needs: ['mseal', 'mapZero'],
      refused: { atZero: true, vmaPages: 4, mprotect: { errno: 'EPERM' }, perms: '---' },
      allowed: { atZero: true, vmaPages: 4, mprotect: { ret: 0 }, perms: 'rw-' },
    },
    (ctx, sealed): Observation => {
      const run = ctx.mem.scenario('map-zero', sealed)
      setupDone(ctx, run, ['mmap'], sealed)
      if (run.signal) return { signal: run.signal }
      return { atZero: flag(run, 'atZero'), vmaPages: run.facts.vmaPages ?? null, mprotect: callOf(run, 'mprotect'), perms: protText(run.facts.prot) }
    },
  ),
  ...pair(
    {
      ids: ['mseal.mremap-fixed-zero-eperm', 'mseal.mremap-fixed-zero-unsealed-ok'],
      mirrors: ['mseal_test.c test_seal_mremap_move_fixed_zero'],
      quote: [DOC.blocked, DOC.firstSet, DOC.eperm, DOC610.unmapMove, DOC610.eperm],
      note:
        'A forked child seals four read-only pages and asks mremap(MREMAP_MAYMOVE|MREMAP_FIXED) to move them, shrunk to two, to address 0: ' +
        'refused, the four sealed pages staying where they were and nothing appearing at 0. Needs an environment that allows a mapping at 0.',
      control: MANUAL.mremapFixed,
      needs: ['mseal', 'mapZero'],
      refused: { errno: 'EPERM', atZero: false, sourcePages: 4, zeroPages: 0 },
      allowed: { ret: 0, atZero: true, sourcePages: 0, zeroPages: 2 },
    },
    (ctx, sealed): Observation => {
      const run = ctx.mem.scenario('mremap-zero', sealed)
      setupDone(ctx, run, ['mmap'], sealed)
      if (run.signal) return { signal: run.signal }
      return { ...callOf(run, 'mremap'), atZero: flag(run, 'atZero'), sourcePages: run.facts.sourcePages ?? null, zeroPages: run.facts.zeroPages ?? null }
    },
  ),
  ...pair(
    {
      ids: ['mseal.compat-ia32-on-64bit-kernel', 'mseal.compat-ia32-unsealed-munmap-ok'],
      catalog: 'mseal.compat-ia32-on-64bit-kernel',
      quote: [DOC.arch, DOC.eperm32, I386_TABLE],
      note:
        'A 64-bit process on an x86-64 kernel calls mseal through the i386 entry (int $0x80, system call 462) on a page below 4 GiB ' +
        '(MAP_32BIT), then munmap through the same entry. The document excludes 32-bit CPUs; this CPU and kernel are 64-bit, and the i386 ' +
        'table has the entry, so the seal is expected to work: 0, the page sealed, and the compat munmap refused. Runs in a forked child; ' +
        'skips where the kernel runs without ia32 emulation.',
      control: MANUAL.munmap,
      controlNote: 'Control for mseal.compat-ia32-on-64bit-kernel: the same page unmapped through the i386 entry without the seal.',
      needs: ['mseal', 'ia32'],
      refused: { mseal: { ret: 0, sealed: true }, munmap: { errno: 'EPERM', mapped: true } },
      allowed: { munmap: { ret: 0, mapped: false } },
    },
    (ctx, sealed): Observation => {
      const run = ctx.mem.scenario('ia32', sealed)
      ctx.verify(flag(run, 'below4G') !== false, () => 'MAP_32BIT gave a page above 4 GiB')
      setupDone(ctx, run, ['mmap'], false)
      if (run.signal) return { signal: run.signal }
      const munmap = { ...callOf(run, 'ia32:munmap'), mapped: flag(run, 'mapped') }
      return sealed ? { mseal: { ...callOf(run, 'ia32:mseal'), sealed: flag(run, 'sealed') }, munmap } : { munmap }
    },
  ),
]
