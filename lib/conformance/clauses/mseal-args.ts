/**
 * mseal(2) itself: its arguments and errors, what it does to VMAs (split, merge, the 'sl' VmFlag), and the
 * never-merged MAP_SEALABLE design (catalog §7.1, §8; mseal_test.c test_seal_addseal … test_seal_zero_length).
 */
import type { Clause } from '../types'
import { outcome } from '../ctx'
import { DOC, MSEAL_URL, anon, clause, isSealed, protect, res, rst, seal, span, unmap } from './mseal-common'

/** An address no process maps: below vm.mmap_min_addr (4096 at the very least on every distribution). */
const UNMAPPED_LOW = 0x1000
const SIZE_MAX = 2n ** 64n - 1n

export const argClauses: Clause[] = [
  clause({
    id: 'mseal.map-sealable.not-merged',
    statement:
      'Applications can apply sealing to any virtual memory region from userspace. (The RFC–v7 MAP_SEALABLE mmap ' +
      'flag, "A map created without MAP_SEALABLE will not support sealing", and PROT_SEAL were dropped before 6.10.)',
    source: rst('When not to use mseal'),
    expect: { ret: 0, sealed: true },
    run(ctx) {
      const r = anon(ctx, 1, ctx.C.PROT_READ | ctx.C.PROT_WRITE)
      const ret = ctx.raw.mseal(r, 0, ctx.ps, 0)
      return { ...outcome(ret), sealed: isSealed(ctx, r, 0) }
    },
  }),
  clause({
    id: 'mseal.addseal-ok',
    catalog: '§9.3 test_seal_addseal',
    statement: 'int mseal(void *addr, size_t len, unsigned long flags) … Return values: 0: Success.',
    source: rst('mseal syscall signature'),
    expect: { ret: 0 },
    run(ctx) {
      return outcome(ctx.raw.mseal(anon(ctx, 4), 0, 4 * ctx.ps, 0))
    },
  }),
  clause({
    id: 'mseal.smaps-sl-flag',
    statement: 'Not documented in mseal.rst; the code (fs/proc/task_mmu.c) shows VM_SEALED as "sl" in the VmFlags of /proc/<pid>/smaps on 64-bit kernels.',
    source: { doc: 'proc_pid_smaps(5)', section: 'VmFlags', url: 'https://docs.kernel.org/filesystems/proc.html' },
    expect: { sealed: true },
    run(ctx) {
      const r = anon(ctx, 1)
      seal(ctx, r, 0, 1)
      return { sealed: isSealed(ctx, r, 0) }
    },
  }),
  clause({
    id: 'mseal.smaps-sl-flag-unsealed-absent',
    statement: 'Not documented; the code sets VM_SEALED ("sl") only through mseal(2), so an ordinary mapping does not show it.',
    source: { doc: 'proc_pid_smaps(5)', section: 'VmFlags', url: 'https://docs.kernel.org/filesystems/proc.html' },
    expect: { sealed: false },
    run(ctx) {
      return { sealed: isSealed(ctx, anon(ctx, 1), 0) }
    },
  }),
  clause({
    id: 'mseal.idempotent',
    catalog: '§9.3 test_seal_twice',
    statement: DOC.idempotent,
    source: rst('Idempotent'),
    expect: { ret: 0 },
    run(ctx) {
      const r = anon(ctx, 4)
      seal(ctx, r, 0, 4)
      return outcome(ctx.raw.mseal(r, 0, 4 * ctx.ps, 0))
    },
  }),
  clause({
    id: 'mseal.multiple-vmas-ok',
    catalog: '§9.3 test_seal_multiple_vmas',
    statement: `${DOC.range} (A range may span several VMAs as long as there is no gap.)`,
    source: rst('mseal syscall signature'),
    expect: { ret: 0, sealed: [true, true, true] },
    run(ctx) {
      const r = anon(ctx, 4)
      protect(ctx, r, 1, 2, ctx.C.PROT_READ | ctx.C.PROT_WRITE) // three VMAs: RO, RW, RO
      const ret = ctx.raw.mseal(r, 0, 4 * ctx.ps, 0)
      return { ...outcome(ret), sealed: [0, 1, 3].map((p) => isSealed(ctx, r, p)) }
    },
  }),
  clause({
    id: 'mseal.split-start-ok',
    catalog: '§9.3 test_seal_split_start',
    statement: `${DOC.range} ${DOC.idempotent}`,
    source: rst('mseal syscall signature'),
    expect: { ret: 0, sealed: [true, true, true] },
    run(ctx) {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 2, ctx.C.PROT_READ | ctx.C.PROT_WRITE)
      seal(ctx, r, 0, 1) // splits the RW VMA
      const ret = ctx.raw.mseal(r, ctx.ps, 3 * ctx.ps, 0)
      return { ...outcome(ret), sealed: [0, 1, 3].map((p) => isSealed(ctx, r, p)) }
    },
  }),
  clause({
    id: 'mseal.split-end-ok',
    catalog: '§9.3 test_seal_split_end',
    statement: `${DOC.range} ${DOC.idempotent}`,
    source: rst('mseal syscall signature'),
    expect: { ret: 0, sealed: [true, true, true] },
    run(ctx) {
      const r = anon(ctx, 4)
      protect(ctx, r, 0, 2, ctx.C.PROT_READ | ctx.C.PROT_WRITE)
      seal(ctx, r, 3, 1)
      const ret = ctx.raw.mseal(r, 0, 3 * ctx.ps, 0)
      return { ...outcome(ret), sealed: [0, 2, 3].map((p) => isSealed(ctx, r, p)) }
    },
  }),
  clause({
    id: 'mseal.splits-vma',
    statement: 'Not documented; the code seals exactly the requested pages, splitting a VMA that the range covers only in part.',
    source: rst('mseal syscall signature'),
    expect: {
      vmas: [
        [0, 2, true],
        [2, 4, false],
      ],
    },
    run(ctx) {
      const r = anon(ctx, 4)
      seal(ctx, r, 0, 2)
      return { vmas: [span(ctx, r, 0), span(ctx, r, 2)] }
    },
  }),
  clause({
    id: 'mseal.merges-adjacent-sealed',
    statement: 'Not documented; the code merges adjacent VMAs whose flags (VM_SEALED included) become equal.',
    source: rst('mseal syscall signature'),
    expect: { vmas: [[0, 4, true]] },
    run(ctx) {
      const r = anon(ctx, 4)
      seal(ctx, r, 0, 2)
      seal(ctx, r, 0, 4)
      return { vmas: [span(ctx, r, 0)] }
    },
  }),
  clause({
    id: 'mseal.merge-and-split',
    catalog: '§9.3 test_seal_merge_and_split',
    statement: `Not documented; the code splits VMAs at the sealed range and merges equal neighbours. Inside it: ${DOC.blocked}`,
    source: rst('Blocked mm syscall for sealed mapping'),
    // The selftest's layout after each step, as [first page, end page, sealed] of the VMA it looks at.
    expect: {
      steps: [
        [1, 23, false],
        [1, 2, true],
        [2, 23, false],
        [22, 23, true],
        [2, 22, false],
        [1, 3, true],
        [21, 23, true],
        [1, 4, true],
        [20, 23, true],
        [1, 23, true],
      ],
      munmap: 'EPERM',
      mprotect: 'EPERM',
    },
    run(ctx) {
      const r = anon(ctx, 24)
      protect(ctx, r, 0, 1, ctx.C.PROT_NONE) // (1 NONE) (22 RO) (1 NONE)
      protect(ctx, r, 23, 1, ctx.C.PROT_NONE)
      const steps = [span(ctx, r, 1)]
      seal(ctx, r, 1, 1) // split from the start
      steps.push(span(ctx, r, 1), span(ctx, r, 2))
      seal(ctx, r, 22, 1) // split from the end
      steps.push(span(ctx, r, 22), span(ctx, r, 2))
      seal(ctx, r, 2, 1) // merge with the previous sealed VMA
      steps.push(span(ctx, r, 1))
      seal(ctx, r, 21, 1) // merge with the next sealed VMA
      steps.push(span(ctx, r, 21))
      seal(ctx, r, 2, 2) // split and merge from the previous one
      steps.push(span(ctx, r, 1))
      const munmap = res(ctx.raw.munmap(r, ctx.ps, ctx.ps))
      const mprotect = res(ctx.raw.mprotect(r, 2 * ctx.ps, ctx.ps, ctx.C.PROT_NONE))
      seal(ctx, r, 20, 2) // split and merge from the next one
      steps.push(span(ctx, r, 20))
      seal(ctx, r, 2, 20) // merge across the middle
      steps.push(span(ctx, r, 1))
      return { steps, munmap, mprotect }
    },
  }),
  ...[
    { id: 'mseal.flags-nonzero-einval', flags: 1 as number | bigint, catalog: undefined as string | undefined },
    { id: 'mseal.flags-0x20-einval', flags: 0x20, catalog: '§9.3 test_seal_invalid_input (invalid flag)' },
    { id: 'mseal.flags-high-bit-einval', flags: 1n << 63n, catalog: undefined },
  ].map(({ id, flags, catalog }) =>
    clause({
      id,
      ...(catalog ? { catalog } : {}),
      statement: DOC.flags,
      source: rst('mseal syscall signature'),
      expect: { errno: 'EINVAL' },
      run(ctx) {
        return outcome(ctx.raw.mseal(anon(ctx, 4), 0, 4 * ctx.ps, flags))
      },
    }),
  ),
  clause({
    id: 'mseal.unaligned-start-einval',
    catalog: '§9.3 test_seal_invalid_input (unaligned address)',
    statement: `${DOC.range} ${DOC.einval}`,
    source: rst('mseal syscall signature'),
    expect: { errno: 'EINVAL' },
    run(ctx) {
      return outcome(ctx.raw.mseal(anon(ctx, 4), 1, 2 * ctx.ps, 0))
    },
  }),
  clause({
    id: 'mseal.order.unaligned-before-len-zero',
    statement: `${DOC.einval} (Not documented: the code checks the alignment before it returns early for len == 0.)`,
    source: rst('mseal syscall signature'),
    expect: { errno: 'EINVAL' },
    run(ctx) {
      return outcome(ctx.raw.mseal(anon(ctx, 1), 1, 0, 0))
    },
  }),
  clause({
    id: 'mseal.len-rounded-up',
    catalog: 'mseal.len-rounded-up; §9.3 test_seal_mprotect_unalign_len*',
    statement: DOC.lenAligned,
    source: rst('mseal syscall signature'),
    expect: { ret: 0, sealed: [true, true, false] },
    run(ctx) {
      const r = anon(ctx, 4)
      const ret = ctx.raw.mseal(r, 0, ctx.ps + 1, 0)
      return { ...outcome(ret), sealed: [0, 1, 2].map((p) => isSealed(ctx, r, p)) }
    },
  }),
  clause({
    id: 'mseal.len-rounds-to-zero-einval',
    statement: `${DOC.einval} (len = SIZE_MAX rounds up to 0 and the range wraps.)`,
    source: rst('mseal syscall signature'),
    expect: { errno: 'EINVAL' },
    run(ctx) {
      return outcome(ctx.raw.mseal(anon(ctx, 1), 0, SIZE_MAX, 0))
    },
  }),
  clause({
    id: 'mseal.end-overflow-einval',
    statement: DOC.einval,
    source: rst('mseal syscall signature'),
    expect: { errno: 'EINVAL' },
    run(ctx) {
      // addr + PAGE_ALIGN(len) wraps to one page below addr.
      return outcome(ctx.raw.mseal(anon(ctx, 1), 0, SIZE_MAX - BigInt(2 * ctx.ps) + 1n, 0))
    },
  }),
  clause({
    id: 'mseal.len-beyond-address-space-enomem',
    catalog: '§9.3 test_seal_invalid_input (length overflow: UINT64_MAX/page_size)',
    statement: `${DOC.enomem} (addr + UINT64_MAX/page_size does not wrap, so its end lies beyond every mapping.)`,
    source: rst('mseal syscall signature'),
    expect: { errno: 'ENOMEM' },
    run(ctx) {
      return outcome(ctx.raw.mseal(anon(ctx, 4), 0, SIZE_MAX / BigInt(ctx.ps), 0))
    },
  }),
  clause({
    id: 'mseal.len-zero-noop',
    catalog: '§9.3 test_seal_zero_length',
    statement: 'Not documented in mseal.rst; the selftest says "seal 0 length will be OK, same as mprotect", and nothing is sealed.',
    source: rst('mseal syscall signature'),
    expect: { ret: 0, sealed: false, mprotect: 0 },
    run(ctx) {
      const r = anon(ctx, 4)
      ctx.setup(ctx.raw.mprotect(r, 0, 0, ctx.C.PROT_READ | ctx.C.PROT_WRITE), 'mprotect(len 0)')
      const ret = ctx.raw.mseal(r, 0, 0, 0)
      const sealed = isSealed(ctx, r, 0)
      return { ...outcome(ret), sealed, mprotect: res(ctx.raw.mprotect(r, 0, 4 * ctx.ps, ctx.C.PROT_READ | ctx.C.PROT_WRITE)) }
    },
  }),
  clause({
    id: 'mseal.len-zero-unmapped-addr-ok',
    statement: `${DOC.range} ${DOC.enomem}`,
    source: rst('mseal syscall signature'),
    expect: { errno: 'ENOMEM' },
    divergence: {
      doc: 'mseal.rst: "The start address must be in an allocated VMA" … "-ENOMEM: The start address (addr) is not allocated."',
      kernel: 'do_mseal() returns 0 when end == start, before it looks for VMAs, so len 0 succeeds at any page-aligned address (mm/mseal.c).',
    },
    history: [
      {
        range: '>=6.10',
        observed: { ret: 0 },
        behaviour: 'len == 0 returns 0 before the VMA walk, even where nothing is mapped.',
        ref: 'mm/mseal.c do_mseal(): "if (end == start) return 0;"',
      },
    ],
    run(ctx) {
      return outcome(ctx.raw.msealAt(UNMAPPED_LOW, 0, 0))
    },
  }),
  clause({
    id: 'mseal.len-zero-bad-flags-einval',
    statement: DOC.flags,
    source: rst('mseal syscall signature'),
    expect: { errno: 'EINVAL' },
    run(ctx) {
      return outcome(ctx.raw.msealAt(UNMAPPED_LOW, 0, 1))
    },
  }),
  clause({
    id: 'mseal.unmapped-addr-enomem',
    statement: DOC.enomem,
    source: rst('mseal syscall signature'),
    expect: { errno: 'ENOMEM' },
    run(ctx) {
      return outcome(ctx.raw.msealAt(UNMAPPED_LOW, ctx.ps, 0))
    },
  }),
  clause({
    id: 'mseal.unmapped-start-enomem',
    catalog: 'mseal.unmapped-start-enomem; §9.3 test_seal_unmapped_start, test_seal_invalid_input (start not in a VMA)',
    statement: `${DOC.enomem} (The mapped rest can still be sealed.)`,
    source: rst('mseal syscall signature'),
    expect: { errno: 'ENOMEM', mprotect: 'ENOMEM', thenSealRest: 0 },
    run(ctx) {
      const r = anon(ctx, 4)
      unmap(ctx, r, 0, 2)
      const mprotect = res(ctx.raw.mprotect(r, 0, 4 * ctx.ps, ctx.C.PROT_READ | ctx.C.PROT_WRITE))
      const ret = ctx.raw.mseal(r, 0, 4 * ctx.ps, 0)
      return { ...outcome(ret), mprotect, thenSealRest: res(ctx.raw.mseal(r, 2 * ctx.ps, 2 * ctx.ps, 0)) }
    },
  }),
  clause({
    id: 'mseal.unmapped-end-enomem',
    catalog: 'mseal.unmapped-end-enomem; §9.3 test_seal_unmapped_end, test_seal_invalid_input (length too big)',
    statement: `${DOC.enomem} (The mapped start can still be sealed.)`,
    source: rst('mseal syscall signature'),
    expect: { errno: 'ENOMEM', mprotect: 'ENOMEM', thenSealRest: 0 },
    run(ctx) {
      const r = anon(ctx, 4)
      unmap(ctx, r, 2, 2)
      const mprotect = res(ctx.raw.mprotect(r, 0, 4 * ctx.ps, ctx.C.PROT_READ | ctx.C.PROT_WRITE))
      const ret = ctx.raw.mseal(r, 0, 4 * ctx.ps, 0)
      return { ...outcome(ret), mprotect, thenSealRest: res(ctx.raw.mseal(r, 0, 2 * ctx.ps, 0)) }
    },
  }),
  clause({
    id: 'mseal.gap-in-middle-enomem',
    catalog: 'mseal.gap-in-middle-enomem; §9.3 test_seal_unmapped_middle',
    statement: DOC.enomem,
    source: rst('mseal syscall signature'),
    expect: { errno: 'ENOMEM', mprotect: 'ENOMEM' },
    run(ctx) {
      const r = anon(ctx, 4)
      unmap(ctx, r, 1, 2)
      const mprotect = res(ctx.raw.mprotect(r, 0, 4 * ctx.ps, ctx.C.PROT_READ | ctx.C.PROT_WRITE))
      return { ...outcome(ctx.raw.mseal(r, 0, 4 * ctx.ps, 0)), mprotect }
    },
  }),
  clause({
    id: 'mseal.enomem-nothing-sealed',
    statement: DOC.noPartial,
    source: rst('Note about error return'),
    expect: { errno: 'ENOMEM', sealed: [false, false] },
    run(ctx) {
      const r = anon(ctx, 4)
      unmap(ctx, r, 1, 2)
      const ret = ctx.raw.mseal(r, 0, 4 * ctx.ps, 0)
      return { ...outcome(ret), sealed: [isSealed(ctx, r, 0), isSealed(ctx, r, 3)] }
    },
  }),
  clause({
    id: 'mseal.gap-pieces-sealable-ok',
    catalog: '§9.3 test_seal_unmapped_middle (the pieces can still be sealed)',
    statement: `${DOC.noPartial} ${DOC.range}`,
    source: rst('Note about error return'),
    expect: { first: 0, last: 0, sealed: [true, true] },
    run(ctx) {
      const r = anon(ctx, 4)
      unmap(ctx, r, 1, 2)
      ctx.raw.mseal(r, 0, 4 * ctx.ps, 0) // fails (ENOMEM: gap), checked by mseal.gap-in-middle-enomem
      const first = res(ctx.raw.mseal(r, 0, ctx.ps, 0))
      const last = res(ctx.raw.mseal(r, 3 * ctx.ps, ctx.ps, 0))
      return { first, last, sealed: [isSealed(ctx, r, 0), isSealed(ctx, r, 3)] }
    },
  }),
  clause({
    id: 'mseal.vsyscall-gate-enomem',
    statement: `${DOC.enomem} Not documented for the x86-64 vsyscall page; the code treats it as unallocated: it is outside the mm-managed range and is not a VMA.`,
    source: rst('mseal syscall signature'),
    needs: ['mseal', 'x86_64'],
    expect: { errno: 'ENOMEM' },
    run(ctx) {
      return outcome(ctx.raw.msealAt(0xffffffffff600000n, ctx.ps, 0))
    },
  }),
  clause({
    id: 'mseal.prot-none-sealable',
    statement: `Applications can apply sealing to any virtual memory region from userspace. ${DOC.blocked}`,
    source: { doc: 'mseal.rst', section: 'When not to use mseal', url: MSEAL_URL },
    expect: { ret: 0, mprotect: 'EPERM' },
    run(ctx) {
      const r = anon(ctx, 1, ctx.C.PROT_NONE)
      const ret = ctx.raw.mseal(r, 0, ctx.ps, 0)
      return { ...outcome(ret), mprotect: res(ctx.raw.mprotect(r, 0, ctx.ps, ctx.C.PROT_READ)) }
    },
  }),
]
