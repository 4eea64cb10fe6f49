/**
 * F_SEAL_SHRINK, F_SEAL_GROW and both (catalog §5.1–5.2; memfd_test.c test_seal_shrink, test_seal_grow,
 * test_seal_resize; LTP memfd_create01 "Shrink/Grow/Resize seal"). One table row per call on a sealed
 * memfd of two pages, each judged by the answer and the size afterwards (and the bytes it wrote, for a
 * write; the bytes of the range, for a hole punch). A refused row has its unsealed control beside it.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, DocDivergence, KnownBehaviour, Observation, Quote } from '../types'
import { clause, filled, GROW, ps, PUNCH, sealed, SHRINK } from './seal-common'
import { EPERM_SEAL, FALLOCATE, man, OPEN_TRUNC, seals, SEALS, TRUNCATE, WRITE } from './seal-docs'

/** A call on the two-page sealed memfd, and what it promises to show. */
interface Call {
  /** How the report names it: 'ftruncate(1 page)'. */
  what: string
  run: (ctx: Ctx, fd: number) => Observation
  /** The page the call is documented on, quoted for the unsealed control. */
  control: Quote
  /** Rows that punch a hole need the pages to hold data first. */
  needsData?: boolean
}

const size = (pages: number): number => pages * ps
const pagesText = (n: number): string => (n === 1 ? '1 page' : `${n} pages`)

const ftruncate = (pages: number): Call => ({
  what: `ftruncate(${pagesText(pages)})`,
  run: (ctx, fd) => ctx.try.ftruncate(fd, size(pages)),
  control: man('truncate', 'DESCRIPTION', pages < 2 ? TRUNCATE.truncates : `${TRUNCATE.truncates} … ${TRUNCATE.extends}`),
})
const truncate = (pages: number): Call => ({
  what: `truncate(/proc/self/fd/N, ${pagesText(pages)})`,
  run: (ctx, fd) => ctx.try.truncate(fd, size(pages)),
  control: man('truncate', 'DESCRIPTION', pages < 2 ? TRUNCATE.truncates : `${TRUNCATE.truncates} … ${TRUNCATE.extends}`),
})
const openTrunc: Call = {
  what: 'open(/proc/self/fd/N, O_RDWR | O_TRUNC)',
  run: (ctx, fd) => ctx.try.openTrunc(fd, C.O_RDWR),
  control: man('open', 'DESCRIPTION', OPEN_TRUNC),
}
const fallocate = (mode: number, offset: number, pages: number): Call => ({
  what: `fallocate(${mode === 0 ? '0' : mode === C.FALLOC_FL_KEEP_SIZE ? 'FALLOC_FL_KEEP_SIZE' : 'PUNCH_HOLE|KEEP_SIZE'}, ${offset}, ${pagesText(pages)})`,
  // An allocation shows in the storage the file holds (st_blocks), also where the size stays.
  run: (ctx, fd) =>
    mode & C.FALLOC_FL_PUNCH_HOLE
      ? ctx.try.fallocate(fd, mode, offset, size(pages))
      : { ...ctx.try.fallocate(fd, mode, offset, size(pages)), allocated: ctx.file.allocated(fd) >= size(pages) },
  control: man('fallocate', 'DESCRIPTION', mode === 0 ? FALLOCATE.allocates : mode === C.FALLOC_FL_KEEP_SIZE ? FALLOCATE.keepSize : FALLOCATE.punch),
  needsData: (mode & C.FALLOC_FL_PUNCH_HOLE) !== 0,
})
const pwrite = (bytes: number, at: number): Call => ({
  what: `pwrite(${bytes} bytes at ${at})`,
  run: (ctx, fd) => ctx.try.write(fd, bytes, at),
  control: man('write', 'RETURN VALUE', WRITE.returned),
})

/** Size and contents after a call: the answer, the size, and (writes) the bytes written or (punch) the range. */
const refused = (sizePages: number, extra: Observation = {}): Observation => ({ errno: 'EPERM', size: size(sizePages), ...extra })
const done = (ret: number, sizePages: number, extra: Observation = {}): Observation => ({ ret, size: size(sizePages), ...extra })

interface Row {
  id: string
  catalog?: string
  seal: number
  call: Call
  /** What the documentation says the sealed call gives. */
  want: Observation | Observation[]
  quote: Quote | Quote[]
  note: string
  mirrors?: string[]
  /** The unsealed control: its id and what it gives (omitted where the sealed row is itself allowed). */
  control?: { id: string; want: Observation }
  divergence?: DocDivergence
  history?: KnownBehaviour[]
  run?: (ctx: Ctx, fd: number) => Observation
}

const shrinkQuote = (call: string): Quote[] => [seals('DESCRIPTION', SEALS.shrink), man(call, 'ERRORS', EPERM_SEAL)]
const growQuote = (call: string): Quote[] => [seals('DESCRIPTION', SEALS.grow), man(call, 'ERRORS', EPERM_SEAL)]
const T_SHRINK = ['memfd_test.c test_seal_shrink', 'LTP memfd_create01 test_seal_shrink']
const T_GROW = ['memfd_test.c test_seal_grow', 'LTP memfd_create01 test_seal_grow']
const T_RESIZE = ['memfd_test.c test_seal_resize', 'LTP memfd_create01 test_seal_resize']

const SHRINK_ROWS: Row[] = [
  {
    id: 'seal.shrink.ftruncate-smaller-eperm',
    seal: SHRINK,
    call: ftruncate(1),
    want: refused(2),
    quote: shrinkQuote('truncate'),
    note: 'mfd_fail_shrink: ftruncate to half the size; the file keeps its two pages.',
    mirrors: T_SHRINK,
    control: { id: 'seal.unsealed.ftruncate-smaller-ok', want: done(0, 1) },
  },
  {
    id: 'seal.shrink.truncate-path-eperm',
    seal: SHRINK,
    call: truncate(1),
    want: refused(2),
    quote: shrinkQuote('truncate'),
    note: 'truncate(2) by the /proc/self/fd path; the file keeps its two pages.',
    control: { id: 'seal.unsealed.truncate-path-smaller-ok', want: done(0, 1) },
  },
  {
    id: 'seal.shrink.open-otrunc-eperm',
    seal: SHRINK,
    call: openTrunc,
    want: refused(2),
    quote: shrinkQuote('open'),
    note: 'mfd_fail_shrink: open(O_TRUNC) of /proc/self/fd/N; no fd is made and the file keeps its two pages.',
    mirrors: T_SHRINK,
    control: { id: 'seal.unsealed.open-otrunc-ok', want: done(0, 0) },
  },
  {
    id: 'seal.shrink.ftruncate-same-ok',
    seal: SHRINK,
    call: ftruncate(2),
    want: done(0, 2),
    quote: seals('DESCRIPTION', SEALS.shrink),
    note: 'Setting the size the file already has shrinks nothing.',
  },
  {
    id: 'seal.shrink.grow-ok',
    seal: SHRINK,
    call: ftruncate(4),
    want: done(0, 4),
    quote: seals('DESCRIPTION', SEALS.shrink),
    note: 'mfd_assert_grow: "Increasing the file size is still possible".',
    mirrors: T_SHRINK,
  },
  {
    id: 'seal.shrink.fallocate-grow-ok',
    seal: SHRINK,
    call: fallocate(0, 0, 4),
    want: done(0, 4, { allocated: true }),
    quote: seals('DESCRIPTION', SEALS.shrink),
    note: 'mfd_assert_grow: fallocate past the end grows the file.',
    mirrors: T_SHRINK,
  },
  {
    id: 'seal.shrink.pwrite-grow-ok',
    seal: SHRINK,
    call: pwrite(size(4), 0),
    want: done(size(4), 4, { changed: size(4) }),
    quote: seals('DESCRIPTION', SEALS.shrink),
    note: 'mfd_assert_grow_write: a pwrite of four pages at 0 grows the file to four pages and writes them all.',
    mirrors: T_SHRINK,
  },
  {
    id: 'seal.shrink.write-ok',
    seal: SHRINK,
    call: pwrite(1, 0),
    want: done(1, 2, { changed: 1 }),
    quote: seals('DESCRIPTION', SEALS.shrink),
    note: 'mfd_assert_write: F_SEAL_SHRINK does not stop a write inside the file.',
    mirrors: T_SHRINK,
  },
  {
    id: 'seal.shrink.punch-hole-ok',
    seal: SHRINK,
    call: fallocate(PUNCH, 0, 1),
    want: done(0, 2, { data: 'zero' }),
    quote: [seals('DESCRIPTION', SEALS.shrink), man('fallocate', 'DESCRIPTION', FALLOCATE.punch)],
    note: 'mfd_assert_write: F_SEAL_SHRINK names open(O_TRUNC), truncate and ftruncate only, and a hole punch with FALLOC_FL_KEEP_SIZE keeps the size: allowed; the punched page reads back as zeros.',
    mirrors: T_SHRINK,
  },
]

const GROW_ROWS: Row[] = [
  {
    id: 'seal.grow.ftruncate-bigger-eperm',
    seal: GROW,
    call: ftruncate(3),
    want: refused(2),
    quote: growQuote('truncate'),
    note: 'mfd_fail_grow: ftruncate to three pages; the file keeps two.',
    mirrors: T_GROW,
    control: { id: 'seal.unsealed.ftruncate-bigger-ok', want: done(0, 3) },
  },
  {
    id: 'seal.grow.truncate-path-bigger-eperm',
    seal: GROW,
    call: truncate(3),
    want: refused(2),
    quote: growQuote('truncate'),
    note: 'truncate(2) by the /proc/self/fd path to three pages; the file keeps two.',
    control: { id: 'seal.unsealed.truncate-path-bigger-ok', want: done(0, 3) },
  },
  {
    id: 'seal.grow.fallocate-beyond-eof-eperm',
    seal: GROW,
    call: fallocate(0, 0, 4),
    want: refused(2, { allocated: false }),
    quote: growQuote('fallocate'),
    note: 'mfd_fail_grow: fallocate of four pages from 0; the file keeps two.',
    mirrors: T_GROW,
    control: { id: 'seal.unsealed.fallocate-beyond-eof-ok', want: done(0, 4, { allocated: true }) },
  },
  {
    id: 'seal.grow.fallocate-keepsize-beyond-eof-ok',
    seal: GROW,
    call: fallocate(C.FALLOC_FL_KEEP_SIZE, 0, 4),
    want: done(0, 2, { allocated: true }),
    quote: [seals('DESCRIPTION', SEALS.grow), man('fallocate', 'DESCRIPTION', FALLOCATE.keepSize)],
    note: 'fallocate(FALLOC_FL_KEEP_SIZE) past the end allocates blocks (`allocated`: st_blocks covers the range) but does not change the size: "If you keep the size …, those calls still work as expected."',
    control: { id: 'seal.unsealed.fallocate-keepsize-beyond-eof-ok', want: done(0, 2, { allocated: true }) },
    divergence: {
      doc: 'F_ADD_SEALS(2const), F_SEAL_GROW: "These calls fail with EPERM if you use them to increase the file size. If you keep the size or shrink it, those calls still work as expected."',
      kernel:
        'mm/shmem.c shmem_fallocate() refuses with EPERM whenever F_SEAL_GROW is set and offset + len > i_size, whatever the mode, so fallocate(FALLOC_FL_KEEP_SIZE) past the end fails although the size would not change.',
    },
    history: [
      {
        range: '*',
        observed: refused(2, { allocated: false }),
        behaviour: 'F_SEAL_GROW refuses any fallocate that reaches past the end of the file, FALLOC_FL_KEEP_SIZE included.',
        ref: 'mm/shmem.c shmem_fallocate() (F_SEAL_GROW and offset + len > inode->i_size), unchanged since F_SEAL_GROW arrived (3.17)',
      },
    ],
  },
  {
    id: 'seal.grow.fallocate-within-ok',
    seal: GROW,
    call: fallocate(0, 0, 2),
    want: done(0, 2, { allocated: true }),
    quote: seals('DESCRIPTION', SEALS.grow),
    note: 'fallocate inside the file keeps the size.',
  },
  {
    id: 'seal.grow.pwrite-at-eof-eperm',
    seal: GROW,
    call: pwrite(1, size(2)),
    want: refused(2, { changed: 0 }),
    quote: growQuote('write'),
    note: 'One byte at the end of the file: nothing is written and the size stays.',
    control: { id: 'seal.unsealed.pwrite-at-eof-ok', want: done(1, 2, { size: size(2) + 1, changed: 1 }) },
  },
  {
    id: 'seal.grow.pwrite-straddling-eof-stops-at-eof',
    catalog: 'seal.grow.pwrite-straddling-eof-short',
    seal: GROW,
    call: pwrite(size(2), size(1)),
    want: [refused(2, { changed: 0 }), done(size(1), 2, { changed: size(1), rest: refused(2, { changed: 0 }) })],
    quote: [seals('DESCRIPTION', SEALS.grow), man('write', 'RETURN VALUE', WRITE.partial), man('write', 'ERRORS', EPERM_SEAL)],
    note: 'mfd_fail_grow_write: a pwrite of two pages starting one page before the end. F_SEAL_GROW makes write(2) "fail with EPERM if you use them to increase the file size", and write(2) allows a partial write whose "subsequent call … may result in an error". Both readings keep the size: the call fails with EPERM and writes nothing, or it writes the bytes up to the end and returns that count, and the write of the rest (made as write(2) tells the caller to) fails with EPERM. Either is expected; the observation shows which (`rest` is the second call). The kernel (mm/shmem.c shmem_write_begin, per page) does the second.',
    mirrors: [...T_GROW, 'memfd_test.c test_seal_resize'],
    run: (ctx, fd) => {
      const first = ctx.try.write(fd, size(2), size(1))
      if (typeof first.ret !== 'number' || first.ret >= size(2) || first.ret <= 0) return first
      return { ...first, rest: ctx.try.write(fd, size(2) - first.ret, size(1) + first.ret) }
    },
  },
  {
    id: 'seal.grow.write-within-ok',
    seal: GROW,
    call: pwrite(1, 0),
    want: done(1, 2, { changed: 1 }),
    quote: seals('DESCRIPTION', SEALS.grow),
    note: 'mfd_assert_write: a write inside the file keeps the size.',
    mirrors: T_GROW,
  },
  {
    id: 'seal.grow.shrink-ok',
    seal: GROW,
    call: ftruncate(1),
    want: done(0, 1),
    quote: seals('DESCRIPTION', SEALS.grow),
    note: 'mfd_assert_shrink: "If you keep the size or shrink it, those calls still work as expected."',
    mirrors: T_GROW,
  },
  {
    id: 'seal.grow.open-otrunc-ok',
    seal: GROW,
    call: openTrunc,
    want: done(0, 0),
    quote: [seals('DESCRIPTION', SEALS.grow), man('open', 'DESCRIPTION', OPEN_TRUNC)],
    note: 'mfd_assert_shrink: open(O_TRUNC) shrinks the file to 0, which F_SEAL_GROW allows.',
    mirrors: T_GROW,
  },
  {
    id: 'seal.grow.punch-hole-ok',
    seal: GROW,
    call: fallocate(PUNCH, 0, 1),
    want: done(0, 2, { data: 'zero' }),
    quote: [seals('DESCRIPTION', SEALS.grow), man('fallocate', 'DESCRIPTION', FALLOCATE.punch)],
    note: 'mfd_assert_write: a hole punch inside the file keeps the size; the page reads back as zeros.',
    mirrors: T_GROW,
  },
]

const RESIZE_ROWS: Row[] = [
  {
    id: 'seal.resize.ftruncate-smaller-eperm',
    seal: SHRINK | GROW,
    call: ftruncate(1),
    want: refused(2),
    quote: shrinkQuote('truncate'),
    note: 'mfd_fail_shrink under F_SEAL_SHRINK | F_SEAL_GROW.',
    mirrors: T_RESIZE,
  },
  {
    id: 'seal.resize.open-otrunc-eperm',
    seal: SHRINK | GROW,
    call: openTrunc,
    want: refused(2),
    quote: shrinkQuote('open'),
    note: 'mfd_fail_shrink under F_SEAL_SHRINK | F_SEAL_GROW.',
    mirrors: T_RESIZE,
  },
  {
    id: 'seal.resize.ftruncate-bigger-eperm',
    seal: SHRINK | GROW,
    call: ftruncate(4),
    want: refused(2),
    quote: growQuote('truncate'),
    note: 'mfd_fail_grow under F_SEAL_SHRINK | F_SEAL_GROW.',
    mirrors: T_RESIZE,
  },
  {
    id: 'seal.resize.fallocate-beyond-eof-eperm',
    seal: SHRINK | GROW,
    call: fallocate(0, 0, 4),
    want: refused(2, { allocated: false }),
    quote: growQuote('fallocate'),
    note: 'mfd_fail_grow under F_SEAL_SHRINK | F_SEAL_GROW.',
    mirrors: T_RESIZE,
  },
  {
    id: 'seal.resize.pwrite-at-eof-eperm',
    seal: SHRINK | GROW,
    call: pwrite(1, size(2)),
    want: refused(2, { changed: 0 }),
    quote: growQuote('write'),
    note: 'mfd_fail_grow_write under F_SEAL_SHRINK | F_SEAL_GROW, at the end of the file.',
    mirrors: T_RESIZE,
  },
  {
    id: 'seal.resize.write-within-ok',
    seal: SHRINK | GROW,
    call: pwrite(1, 0),
    want: done(1, 2, { changed: 1 }),
    quote: [seals('DESCRIPTION', SEALS.shrink), seals('DESCRIPTION', SEALS.grow)],
    note: 'mfd_assert_write under F_SEAL_SHRINK | F_SEAL_GROW: a write inside the file changes no size.',
    mirrors: T_RESIZE,
  },
  {
    id: 'seal.resize.punch-hole-ok',
    seal: SHRINK | GROW,
    call: fallocate(PUNCH, 0, 1),
    want: done(0, 2, { data: 'zero' }),
    quote: [seals('DESCRIPTION', SEALS.shrink), seals('DESCRIPTION', SEALS.grow), man('fallocate', 'DESCRIPTION', FALLOCATE.punch)],
    note: 'mfd_assert_write under F_SEAL_SHRINK | F_SEAL_GROW: a hole punch keeps the size; the page reads back as zeros.',
    mirrors: T_RESIZE,
  },
]

function subject(ctx: Ctx, bits: number, call: Call): number {
  return call.needsData ? filled(ctx, bits, 2) : sealed(ctx, bits, 2)
}

function rowClauses(row: Row): Clause[] {
  const run = row.run ?? row.call.run
  const sealedClause = clause({
    id: row.id,
    ...(row.catalog ? { catalog: row.catalog } : {}),
    quote: row.quote,
    note: `${row.call.what} on a memfd of two pages sealed with ${row.seal === SHRINK ? 'F_SEAL_SHRINK' : row.seal === GROW ? 'F_SEAL_GROW' : 'F_SEAL_SHRINK | F_SEAL_GROW'}. ${row.note}`,
    ...(row.mirrors ? { mirrors: row.mirrors } : {}),
    since: '3.17',
    expect: row.want,
    ...(row.divergence ? { divergence: row.divergence } : {}),
    ...(row.history ? { history: row.history } : {}),
    run: (ctx) => run(ctx, subject(ctx, row.seal, row.call)),
  })
  if (!row.control) return [sealedClause]
  const control = row.control
  return [
    sealedClause,
    clause({
      id: control.id,
      catalog: `${row.id} (control)`,
      quote: row.call.control,
      note: `Control for ${row.id}: ${row.call.what} on the same memfd, never sealed.`,
      ...(row.mirrors ? { mirrors: row.mirrors } : {}),
      since: '3.17',
      expect: control.want,
      run: (ctx) => row.call.run(ctx, subject(ctx, 0, row.call)),
    }),
  ]
}

export const sizeClauses: Clause[] = [...SHRINK_ROWS, ...GROW_ROWS, ...RESIZE_ROWS].flatMap(rowClauses)
