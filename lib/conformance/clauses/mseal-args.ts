/**
 * mseal(2) itself: what a successful seal leaves on the VMAs (the 'sl' flag, splits, merges), its argument
 * errors (EINVAL, ENOMEM) and that a failed call seals nothing (catalog §7.1, §8; mseal_test.c
 * test_seal_addseal … test_seal_zero_length; LTP mseal02). Every call under test is ctx.try.mseal, which
 * reports the seal it left ('sl' in the VmFlags of the range's first page) beside the kernel's answer.
 */
import type { Ctx } from '../ctx'
import { C } from '../abi'
import type { Clause, Observation, Quote } from '../types'
import { DOC, RO, RW, answer, clause, pg, seal, type Region } from './mseal-common'

/** An address no process maps: below vm.mmap_min_addr (4096 at the very least on every distribution). */
const UNMAPPED_LOW = 0x1000
const SIZE_MAX = 2n ** 64n - 1n

const TASK_MMU: Quote = {
  doc: 'fs/proc/task_mmu.c',
  version: 'Linux 7.2',
  section: 'show_smap_vma_flags()',
  text: '#ifdef CONFIG_64BIT [ilog2(VM_SEALED)] = "sl", #endif',
}

/** Whether each listed page of r carries VM_SEALED. */
function sealedPages(ctx: Ctx, r: Region, pages: readonly number[]): boolean[] {
  return pages.map((p) => ctx.mem.isSealed(r, pg(ctx, p)))
}

/** mseal over pages [first, first + count) of r, with the seal it left on the first page. */
function trySeal(ctx: Ctx, r: Region, first: number, count: number): Observation {
  return ctx.try.mseal(r, pg(ctx, first), pg(ctx, count))
}

const successClauses: Clause[] = [
  clause({
    id: 'mseal.map-sealable.not-merged',
    quote: [DOC.anyRegion, DOC.success],
    note:
      'The RFC versions of mseal (up to v7) had a MAP_SEALABLE mmap flag ("A map created without MAP_SEALABLE will not support sealing") and ' +
      'PROT_SEAL; neither was merged. An ordinary read-write anonymous mapping, made without any such flag, is sealed: mseal returns 0 and the ' +
      "VMA carries 'sl'.",
    expect: { ret: 0, sealed: true },
    run: (ctx) => trySeal(ctx, ctx.mem.guarded(1, RW), 0, 1),
  }),
  clause({
    id: 'mseal.addseal-ok',
    mirrors: ['mseal_test.c test_seal_addseal'],
    quote: [DOC.signature, DOC.success],
    note: "mseal of a four-page read-only private anonymous mapping returns 0 and leaves VM_SEALED ('sl') on it.",
    expect: { ret: 0, sealed: true },
    run: (ctx) => trySeal(ctx, ctx.mem.guarded(4), 0, 4),
  }),
  clause({
    id: 'mseal.smaps-sl-flag',
    basis: 'code',
    quote: TASK_MMU,
    note:
      "No document lists the VmFlags mnemonic of VM_SEALED; the kernel's code prints 'sl' in /proc/PID/smaps on 64-bit kernels (6.10 on). " +
      'Every other clause reads the seal from there, so this one and its control check that reading: a sealed page shows it.',
    expect: { ret: 0, sealed: true },
    run: (ctx) => trySeal(ctx, ctx.mem.guarded(1), 0, 1),
  }),
  clause({
    id: 'mseal.smaps-sl-flag-unsealed-absent',
    basis: 'code',
    quote: TASK_MMU,
    note: "Control for mseal.smaps-sl-flag: a mapping that was never sealed shows no 'sl' (VM_SEALED is set only by mseal).",
    expect: { sealed: false },
    run: (ctx) => ({ sealed: ctx.mem.isSealed(ctx.mem.guarded(1), 0) }),
  }),
  clause({
    id: 'mseal.idempotent',
    mirrors: ['mseal_test.c test_seal_twice'],
    quote: DOC.idempotent,
    note: 'A second mseal over the same sealed range returns 0 and the range stays sealed.',
    expect: { ret: 0, sealed: true },
    run(ctx) {
      const r = ctx.mem.sealedAnon(4)
      return trySeal(ctx, r, 0, 4)
    },
  }),
  clause({
    id: 'mseal.multiple-vmas-ok',
    mirrors: ['mseal_test.c test_seal_multiple_vmas'],
    quote: DOC.range,
    note: 'A range over three VMAs (read-only, read-write, read-only) without a gap is sealed whole: each VMA carries the seal.',
    expect: { ret: 0, sealed: [true, true, true] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.protect(r, pg(ctx, 1), pg(ctx, 2), RW)
      const { sealed: _first, ...answer } = trySeal(ctx, r, 0, 4)
      return { ...answer, sealed: sealedPages(ctx, r, [0, 1, 3]) }
    },
  }),
  clause({
    id: 'mseal.split-start-ok',
    mirrors: ['mseal_test.c test_seal_split_start'],
    quote: [DOC.range, DOC.idempotent],
    note: 'After sealing the first page of a two-page read-write VMA, sealing from its second page over the read-only rest succeeds: every page is sealed.',
    expect: { ret: 0, sealed: [true, true, true] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.protect(r, 0, pg(ctx, 2), RW)
      seal(ctx, r, 0, 1)
      const { sealed: _first, ...answer } = trySeal(ctx, r, 1, 3)
      return { ...answer, sealed: sealedPages(ctx, r, [0, 1, 3]) }
    },
  }),
  clause({
    id: 'mseal.split-end-ok',
    mirrors: ['mseal_test.c test_seal_split_end'],
    quote: [DOC.range, DOC.idempotent],
    note: 'After sealing the last page, sealing the first three pages (across a read-write and a read-only VMA) succeeds: every page is sealed.',
    expect: { ret: 0, sealed: [true, true, true] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.protect(r, 0, pg(ctx, 2), RW)
      seal(ctx, r, 3, 1)
      const { sealed: _first, ...answer } = trySeal(ctx, r, 0, 3)
      return { ...answer, sealed: sealedPages(ctx, r, [0, 2, 3]) }
    },
  }),
  clause({
    id: 'mseal.splits-vma',
    quote: [DOC.range, DOC.len],
    note:
      'The seal covers exactly the page-aligned range: sealing the first two pages of a four-page VMA leaves a sealed two-page VMA and an unsealed ' +
      'one ([first page, end page, sealed], relative to the mapping, as /proc/self/smaps shows them).',
    expect: {
      ret: 0,
      vmas: [
        [0, 2, true],
        [2, 4, false],
      ],
    },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      const { sealed: _first, ...answer } = trySeal(ctx, r, 0, 2)
      return { ...answer, vmas: [ctx.mem.span(r, 0), ctx.mem.span(r, 2)] }
    },
  }),
  clause({
    id: 'mseal.merges-adjacent-sealed',
    basis: 'code',
    note:
      'Not documented: the kernel merges adjacent VMAs whose flags, VM_SEALED included, become equal (vma_modify_flags() in mseal_apply()), so ' +
      'sealing the whole of a half-sealed mapping leaves one sealed VMA.',
    mirrors: ['mseal_test.c test_seal_merge_and_split'],
    expect: { ret: 0, vmas: [[0, 4, true]] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      seal(ctx, r, 0, 2)
      const { sealed: _first, ...answer } = trySeal(ctx, r, 0, 4)
      return { ...answer, vmas: [ctx.mem.span(r, 0)] }
    },
  }),
  clause({
    id: 'mseal.merge-and-split',
    mirrors: ['mseal_test.c test_seal_merge_and_split'],
    basis: 'code',
    quote: DOC.blocked,
    note:
      "The selftest's sequence on 24 pages (guard, 22 read-only, guard): seals that split VMAs from the start and the end, then grow the sealed " +
      'VMAs into their neighbours, which merge; the layout after each step is [first page, end page, sealed] of the VMA looked at. How VMAs ' +
      "split and merge is the kernel's code, not a documented promise. In between, munmap and mprotect inside the sealed VMAs are refused " +
      '(mseal.rst) and leave them as they were.',
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
      munmap: { errno: 'EPERM', mapped: true },
      mprotect: { errno: 'EPERM', perms: 'r--p' },
    },
    run(ctx) {
      const r = ctx.mem.guarded(24)
      ctx.mem.protect(r, 0, ctx.ps, C.PROT_NONE) // (1 NONE) (22 RO) (1 NONE)
      ctx.mem.protect(r, pg(ctx, 23), ctx.ps, C.PROT_NONE)
      const steps = [ctx.mem.span(r, 1)]
      seal(ctx, r, 1, 1) // split from the start
      steps.push(ctx.mem.span(r, 1), ctx.mem.span(r, 2))
      seal(ctx, r, 22, 1) // split from the end
      steps.push(ctx.mem.span(r, 22), ctx.mem.span(r, 2))
      seal(ctx, r, 2, 1) // merge with the previous sealed VMA
      steps.push(ctx.mem.span(r, 1))
      seal(ctx, r, 21, 1) // merge with the next sealed VMA
      steps.push(ctx.mem.span(r, 21))
      seal(ctx, r, 2, 2) // split and merge from the previous one
      steps.push(ctx.mem.span(r, 1))
      const munmap = ctx.try.munmap(r, ctx.ps, ctx.ps)
      const mprotect = ctx.try.mprotect(r, pg(ctx, 2), ctx.ps, C.PROT_NONE)
      seal(ctx, r, 20, 2) // split and merge from the next one
      steps.push(ctx.mem.span(r, 20))
      seal(ctx, r, 2, 20) // merge across the middle
      steps.push(ctx.mem.span(r, 1))
      return { steps, munmap, mprotect }
    },
  }),
  clause({
    id: 'mseal.prot-none-sealable',
    quote: [DOC.anyRegion, DOC.blocked],
    note: 'A PROT_NONE mapping is sealed like any other; mprotect(PROT_READ) on it is then refused and the page stays ---p.',
    expect: { ret: 0, sealed: true, mprotect: { errno: 'EPERM', perms: '---p' } },
    run(ctx) {
      const r = ctx.mem.guarded(1, C.PROT_NONE)
      const sealed = trySeal(ctx, r, 0, 1)
      return { ...sealed, mprotect: ctx.try.mprotect(r, 0, ctx.ps, RO) }
    },
  }),
]

/** Flags that are not 0: "reserved for future use", so EINVAL, and nothing is sealed. */
const FLAGS: Array<{ id: string; flags: number | bigint; mirrors?: string[] }> = [
  { id: 'mseal.flags-nonzero-einval', flags: 1 },
  { id: 'mseal.flags-0x20-einval', flags: 0x20, mirrors: ['mseal_test.c test_seal_invalid_input'] },
  { id: 'mseal.flags-high-bit-einval', flags: 1n << 63n },
  { id: 'mseal.flags-all-bits-einval', flags: SIZE_MAX, mirrors: ['LTP mseal02'] },
]

/** Lengths whose range overflows: EINVAL, and nothing is sealed. */
const OVERFLOWS: Array<{ id: string; len: (ps: number) => bigint; note: string; mirrors?: string[] }> = [
  {
    id: 'mseal.len-rounds-to-zero-einval',
    len: () => SIZE_MAX,
    note: 'len = SIZE_MAX rounds up to 0 when page-aligned: addr + len overflows.',
  },
  {
    id: 'mseal.len-rounds-to-zero-ltp-einval',
    len: (ps) => SIZE_MAX - BigInt(ps) + 2n,
    note: "LTP mseal02's length, ULONG_MAX - page size + 2, also rounds up to 0: addr + len overflows.",
    mirrors: ['LTP mseal02'],
  },
  {
    id: 'mseal.end-overflow-einval',
    len: (ps) => SIZE_MAX - BigInt(2 * ps) + 1n,
    note: 'addr + PAGE_ALIGN(len) wraps around to one page below addr.',
  },
]

const argumentClauses: Clause[] = [
  ...FLAGS.map(({ id, flags, mirrors }) =>
    clause({
      id,
      ...(mirrors ? { mirrors } : {}),
      quote: [DOC.flags, DOC.einval, DOC.noPartial],
      note: `mseal with flags 0x${flags.toString(16)} on a mapped, aligned range: EINVAL, and the range is not sealed.`,
      expect: { errno: 'EINVAL', sealed: false },
      run: (ctx) => ctx.try.mseal(ctx.mem.guarded(4), 0, pg(ctx, 4), flags),
    }),
  ),
  clause({
    id: 'mseal.unaligned-start-einval',
    mirrors: ['mseal_test.c test_seal_invalid_input', 'LTP mseal02'],
    quote: [DOC.range, DOC.einval, DOC.noPartial],
    note: 'mseal(addr + 1, two pages): EINVAL, and the page is not sealed.',
    expect: { errno: 'EINVAL', sealed: false },
    run: (ctx) => ctx.try.mseal(ctx.mem.guarded(4), 1, pg(ctx, 2)),
  }),
  clause({
    id: 'mseal.order.unaligned-before-len-zero',
    quote: DOC.einval,
    note: 'An unaligned start is EINVAL even with len 0 (the document makes no exception for len 0; the code checks the alignment before it returns early for len == 0).',
    expect: { errno: 'EINVAL', sealed: false },
    run: (ctx) => ctx.try.mseal(ctx.mem.guarded(1), 1, 0),
  }),
  clause({
    id: 'mseal.len-rounded-up',
    catalog: 'mseal.len-rounded-up',
    mirrors: ['mseal_test.c test_seal_mprotect_unalign_len', 'mseal_test.c test_seal_mprotect_unalign_len_variant_2'],
    quote: DOC.len,
    note: 'mseal(addr, one page + 1) seals two whole pages, and not the third.',
    expect: { ret: 0, sealed: [true, true, false] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      const { sealed: _first, ...answer } = ctx.try.mseal(r, 0, ctx.ps + 1)
      return { ...answer, sealed: sealedPages(ctx, r, [0, 1, 2]) }
    },
  }),
  ...OVERFLOWS.map(({ id, len, note, mirrors }) =>
    clause({
      id,
      ...(mirrors ? { mirrors } : {}),
      quote: [DOC.einval, DOC.noPartial],
      note: `${note} EINVAL, and the mapped page is not sealed.`,
      expect: { errno: 'EINVAL', sealed: false },
      run: (ctx) => ctx.try.mseal(ctx.mem.guarded(1), 0, len(ctx.ps)),
    }),
  ),
  clause({
    id: 'mseal.len-beyond-address-space-enomem',
    mirrors: ['mseal_test.c test_seal_invalid_input'],
    quote: [DOC.enomem, DOC.noPartial],
    note: 'len = UINT64_MAX / page size does not wrap, so the end lies beyond every mapping: ENOMEM, and nothing is sealed.',
    expect: { errno: 'ENOMEM', sealed: false },
    run: (ctx) => ctx.try.mseal(ctx.mem.guarded(4), 0, SIZE_MAX / BigInt(ctx.ps)),
  }),
  clause({
    id: 'mseal.len-zero-noop',
    mirrors: ['mseal_test.c test_seal_zero_length'],
    quote: [DOC.range, DOC.success],
    note:
      'len 0 is an empty range whose start and end lie in the mapping: mseal returns 0 and seals nothing, so mprotect of the four pages still ' +
      'succeeds (the selftest: "seal 0 length will be OK, same as mprotect").',
    expect: { ret: 0, sealed: false, mprotect: { ret: 0, perms: 'rw-p' } },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      const sealed = ctx.try.mseal(r, 0, 0)
      return { ...sealed, mprotect: ctx.try.mprotect(r, 0, pg(ctx, 4), RW) }
    },
  }),
  clause({
    id: 'mseal.len-zero-unmapped-addr-enomem',
    catalog: 'mseal.len-zero-unmapped-addr-ok',
    quote: [DOC.range, DOC.enomem],
    note: 'mseal(0x1000, 0), where nothing is mapped: the document requires the start to be in an allocated VMA, whatever the length.',
    expect: { errno: 'ENOMEM' },
    divergence: {
      doc: 'mseal.rst: "The start address must be in an allocated VMA" … "-ENOMEM: The start address (addr) is not allocated." (no exception for len 0)',
      kernel: 'do_mseal() returns 0 when end == start, before it looks for VMAs, so len 0 succeeds at any page-aligned address (mm/mseal.c).',
    },
    history: [
      {
        range: '>=6.10',
        observed: { ret: 0 },
        behaviour: 'len == 0 returns 0 before the VMA walk, even where nothing is mapped.',
        ref: 'mm/mseal.c do_mseal(): "if (end == start) return 0;" (every version since 8be7258aad44, 6.10)',
      },
    ],
    run: (ctx) => ctx.try.msealAt(UNMAPPED_LOW, 0),
  }),
  clause({
    id: 'mseal.len-zero-bad-flags-einval',
    quote: [DOC.flags, DOC.einval],
    note: 'Flags are checked first: mseal(0x1000, 0, 1) is EINVAL.',
    expect: { errno: 'EINVAL' },
    run: (ctx) => ctx.try.msealAt(UNMAPPED_LOW, 0, 1),
  }),
  clause({
    id: 'mseal.unmapped-addr-enomem',
    quote: DOC.enomem,
    note: 'mseal(0x1000, one page), where nothing is mapped: ENOMEM.',
    expect: { errno: 'ENOMEM' },
    run: (ctx) => ctx.try.msealAt(UNMAPPED_LOW, ctx.ps),
  }),
  clause({
    id: 'mseal.vsyscall-gate-enomem',
    basis: 'code',
    quote: DOC.enomem,
    note:
      "The x86-64 vsyscall page shows in /proc/self/maps as [vsyscall] but is not a VMA of the process (the kernel's gate area, outside the " +
      'mm-managed range), so its start "is not allocated": ENOMEM. That it is no VMA is the code, not the document.',
    needs: ['mseal', 'x86_64'],
    expect: { errno: 'ENOMEM' },
    run: (ctx) => ctx.try.msealAt(0xffffffffff600000n, ctx.ps),
  }),
]

/** [pages unmapped at setup] → the ENOMEM range cases of mseal_test.c and LTP mseal02. */
const GAPS: Array<{ id: string; hole: [number, number]; what: string; mirrors: string[]; rest: [number, number] }> = [
  {
    id: 'mseal.unmapped-start-enomem',
    hole: [0, 2],
    what: 'the first two of four pages are unmapped',
    mirrors: ['mseal_test.c test_seal_unmapped_start', 'mseal_test.c test_seal_invalid_input', 'LTP mseal02'],
    rest: [2, 2],
  },
  {
    id: 'mseal.unmapped-end-enomem',
    hole: [2, 2],
    what: 'the last two of four pages are unmapped',
    mirrors: ['mseal_test.c test_seal_unmapped_end', 'mseal_test.c test_seal_invalid_input', 'LTP mseal02'],
    rest: [0, 2],
  },
]

const enomemClauses: Clause[] = [
  ...GAPS.map(({ id, hole, what, mirrors, rest }) =>
    clause({
      id,
      catalog: id,
      mirrors,
      quote: [DOC.range, DOC.enomem, DOC.noPartial],
      note: `mseal over four pages of which ${what}: ENOMEM and nothing sealed; then the mapped pages alone can be sealed.`,
      expect: { errno: 'ENOMEM', sealed: false, thenSealRest: { ret: 0, sealed: true } },
      run(ctx) {
        const r = ctx.mem.guarded(4)
        ctx.mem.unmap(r, pg(ctx, hole[0]), pg(ctx, hole[1]))
        const { sealed: _first, ...answer } = trySeal(ctx, r, 0, 4)
        const sealed = ctx.mem.isSealed(r, pg(ctx, rest[0]))
        return { ...answer, sealed, thenSealRest: trySeal(ctx, r, rest[0], rest[1]) }
      },
    }),
  ),
  clause({
    id: 'mseal.gap-in-middle-enomem',
    catalog: 'mseal.gap-in-middle-enomem; mseal.enomem-nothing-sealed',
    mirrors: ['mseal_test.c test_seal_unmapped_middle', 'LTP mseal02'],
    quote: [DOC.range, DOC.enomem, DOC.noPartial],
    note: 'mseal over four pages whose middle two are unmapped: ENOMEM, and neither the first nor the last page is sealed.',
    expect: { errno: 'ENOMEM', sealed: [false, false] },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.unmap(r, pg(ctx, 1), pg(ctx, 2))
      const { sealed: _first, ...answer } = trySeal(ctx, r, 0, 4)
      return { ...answer, sealed: sealedPages(ctx, r, [0, 3]) }
    },
  }),
  clause({
    id: 'mseal.gap-pieces-sealable-ok',
    mirrors: ['mseal_test.c test_seal_unmapped_middle'],
    quote: [DOC.noPartial, DOC.range],
    note: 'After the ENOMEM over the gap, each mapped piece can be sealed on its own.',
    expect: { gap: 'ENOMEM', first: { ret: 0, sealed: true }, last: { ret: 0, sealed: true } },
    run(ctx) {
      const r = ctx.mem.guarded(4)
      ctx.mem.unmap(r, pg(ctx, 1), pg(ctx, 2))
      const gap = answer(trySeal(ctx, r, 0, 4))
      return { gap, first: trySeal(ctx, r, 0, 1), last: trySeal(ctx, r, 3, 1) }
    },
  }),
]

export const argClauses: Clause[] = [...successClauses, ...argumentClauses, ...enomemClauses]
