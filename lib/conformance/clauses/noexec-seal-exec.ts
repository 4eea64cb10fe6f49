/**
 * F_SEAL_EXEC on executable memfds, shmem and hugetlbfs (catalog §5.5; memfd_test.c test_exec_seal and its
 * hugetlbfs run): the seals it implies, what those refuse, and the mode changes it freezes. Tables, one
 * row per case: the memfd is made with MFD_EXEC (so none of this runs at vm.memfd_noexec=2, where MFD_EXEC
 * is refused), given the row's mode (verified), and sealed (verified) unless the row is a control.
 *
 * The documents differ, and the clauses say which they follow: F_ADD_SEALS(2const) of man-pages 6.20 says
 * that adding F_SEAL_EXEC "implicitly adds F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE, and F_SEAL_FUTURE_WRITE",
 * with no condition; man-pages 6.9.1 and older do not document F_SEAL_EXEC at all, and mfd_noexec.rst says
 * nothing of implied seals. The kernel (mm/memfd.c memfd_add_seals(), 6.3 to 7.2) adds them only when the
 * file has an execute bit: "if (seals & F_SEAL_EXEC && inode->i_mode & 0111)". The expectations are the
 * man page's; the rows on a file without execute bits are the recorded difference.
 */
import { C } from '../abi'
import type { Ctx } from '../ctx'
import type { Clause, KnownBehaviour, Need, Observation, Quote } from '../types'
import type { Fs } from './noexec-cases'
import { HUGETLB_EXEC_SEAL_DIVERGENCE, HUGETLB_EXEC_SEAL_IGNORED, MAN_TEXT, manDoc, SEALS_WX } from './noexec-docs'
import { unfixed } from './unfixed'

const NON_X: KnownBehaviour['ref'] =
  'c4f75bc8bd6b "mm/memfd: add write seals when apply SEAL_EXEC to executable memfd" (6.3): mm/memfd.c memfd_add_seals() "if (seals & F_SEAL_EXEC && inode->i_mode & 0111)"'
const NON_X_DIVERGENCE = {
  doc: `F_ADD_SEALS(2const) (man-pages 6.20): "${MAN_TEXT.implied.text}" (man-pages 6.9.1 and older do not document F_SEAL_EXEC; mfd_noexec.rst does not mention implied seals.)`,
  kernel:
    'mm/memfd.c memfd_add_seals() (6.3 to 7.2) adds the implied seals only "if (seals & F_SEAL_EXEC && inode->i_mode & 0111)": on a file without execute bits F_SEAL_EXEC comes alone (0x20), and writes and writable shared mappings stay allowed. memfd_test.c test_exec_seal encodes the kernel\'s behaviour (mode 0644, then F_SEAL_EXEC alone, then writes succeed).',
}
const MMAP_EPERM = manDoc('mmap(2)', 'ERRORS', 'EPERM The operation was prevented by a file seal; see fcntl(2).')
const SEAL_WRITE_MMAP = manDoc(
  'F_ADD_SEALS(2const)',
  'DESCRIPTION',
  'F_SEAL_WRITE If this seal is set, you cannot modify the contents of the file. … Furthermore, trying to create new shared, writable memory-mappings via mmap(2) will also fail with EPERM.',
)

/** Kernels where the implied F_SEAL_WRITE ignored writable shared mappings (fixed by 3b041514cb6e). */
const EBUSY_UNFIXED = unfixed({ since: '6.3', mainline: '7.1', stable: { '6.12': '6.12.93', '6.18': '6.18.35' }, unknown: ['6.6', '7.0'] })

const octal = (mode: number): string => mode.toString(8).padStart(4, '0')

interface ExecFile {
  fd: number
  /** One page, or one huge page on hugetlbfs. */
  length: number
  mapFlags: number
}

/** A one-page executable, sealable memfd (MFD_EXEC) given `mode` (verified), sealed with F_SEAL_EXEC (verified) if asked. */
function execFile(ctx: Ctx, fs: Fs, mode: number, sealed: boolean): ExecFile {
  const huge = fs === 'hugetlbfs'
  const fd = ctx.file.memfd(C.MFD_ALLOW_SEALING | C.MFD_EXEC | (huge ? C.MFD_HUGETLB : 0), 'memseal-exec')
  const length = huge ? ctx.file.blksize(fd) : ctx.ps
  ctx.file.resize(fd, length)
  if (mode !== 0o777) ctx.file.chmod(fd, mode)
  if (sealed) ctx.file.addSeals(fd, C.F_SEAL_EXEC)
  // MAP_NORESERVE: hugetlbfs mappings that are never touched need no free huge pages
  return { fd, length, mapFlags: C.MAP_SHARED | (huge ? C.MAP_NORESERVE : 0) }
}

interface Row {
  slug: string
  /** The file's mode before F_SEAL_EXEC (0777 from MFD_EXEC, else set with fchmod). */
  mode: number
  /** Whether F_SEAL_EXEC is added first (false: the control without the seal). */
  sealed: boolean
  quote: Quote[]
  note: string
  /** shmem only (write(2): hugetlbfs has none). */
  shmemOnly?: boolean
  expect: Observation
  /** What the kernel does where the man page's text does not hold. */
  known?: Observation
  /** What hugetlbfs does instead, where it ignores F_SEAL_EXEC (the fchmod rows it should refuse). */
  hugetlbfsKnown?: Observation
  catalog?: string
  run: (ctx: Ctx, f: ExecFile) => Observation
}

const addExec =
  (extra = 0) =>
  (ctx: Ctx, f: ExecFile): Observation =>
    ctx.try.addSeals(f.fd, C.F_SEAL_EXEC | extra)
const write3 = (ctx: Ctx, f: ExecFile): Observation => ctx.try.write(f.fd, 3, 0)
const mapRw = (ctx: Ctx, f: ExecFile): Observation => ctx.try.mmap(f.length, C.PROT_READ | C.PROT_WRITE, f.mapFlags, f.fd, 0).obs
const chmodTo =
  (mode: number) =>
  (ctx: Ctx, f: ExecFile): Observation =>
    ctx.try.chmod(f.fd, mode)

const ROWS: Row[] = [
  // ── the implied seals ────────────────────────────────────────────────────────────────────────────
  {
    slug: 'on-0777-implies-write-seals',
    catalog: 'seal.exec.on-0777-implies-write-seals',
    mode: 0o777,
    sealed: false,
    quote: [MAN_TEXT.implied],
    note: 'F_ADD_SEALS(F_SEAL_EXEC) on a mode-0777 memfd: F_GET_SEALS shows F_SEAL_EXEC with the four implied seals (0x3e).',
    expect: { ret: 0, seals: SEALS_WX },
    run: addExec(),
  },
  {
    slug: 'on-partial-x-mode-implies-write-seals',
    catalog: 'seal.exec.on-0777-implies-write-seals (0700)',
    mode: 0o700,
    sealed: false,
    quote: [MAN_TEXT.implied],
    note: 'The same on a memfd of mode 0700 (memfd_test.c "Apply ALL_SEALS"): 0x3e.',
    expect: { ret: 0, seals: SEALS_WX },
    run: addExec(),
  },
  {
    slug: 'on-non-x-mode-implies-write-seals',
    catalog: 'seal.exec.on-non-x-mode-no-implied-seals',
    mode: 0o644,
    sealed: false,
    quote: [MAN_TEXT.implied],
    note: 'The same on a memfd of mode 0644: the man page implies the four seals whatever the mode (0x3e); the kernel adds F_SEAL_EXEC alone.',
    expect: { ret: 0, seals: SEALS_WX },
    known: { ret: 0, seals: C.F_SEAL_EXEC },
    run: addExec(),
  },
  {
    slug: 'with-seal-seal-same-call',
    catalog: 'seal.exec.with-seal-seal-same-call',
    mode: 0o777,
    sealed: false,
    quote: [MAN_TEXT.implied],
    note: 'F_SEAL_EXEC and F_SEAL_SEAL in one F_ADD_SEALS on a mode-0777 memfd: all six bits (0x3f).',
    expect: { ret: 0, seals: SEALS_WX | C.F_SEAL_SEAL },
    run: addExec(C.F_SEAL_SEAL),
  },
  // ── what the implied write seal refuses ──────────────────────────────────────────────────────────
  {
    slug: 'implied-write-seal-blocks-write',
    catalog: 'seal.exec.implied-write-seal-blocks-write',
    mode: 0o777,
    sealed: true,
    shmemOnly: true,
    quote: [MAN_TEXT.implied, MAN_TEXT.sealWrite],
    note: 'After F_SEAL_EXEC on a one-page mode-0777 memfd, write(2) of 3 bytes at offset 0 (inside the file, so only F_SEAL_WRITE applies) fails with EPERM and the bytes are not there.',
    expect: { errno: 'EPERM', size: C.PAGE_SIZE, changed: 0 },
    run: write3,
  },
  {
    slug: 'unsealed-write-ok',
    catalog: 'seal.exec.implied-write-seal-blocks-write (control)',
    mode: 0o777,
    sealed: false,
    shmemOnly: true,
    quote: [MAN_TEXT.implied],
    note: 'Control for implied-write-seal-blocks-write: without F_SEAL_EXEC the same write succeeds.',
    expect: { ret: 3, size: C.PAGE_SIZE, changed: 3 },
    run: write3,
  },
  {
    slug: 'on-non-x-mode-write-eperm',
    catalog: 'seal.exec.on-non-x-mode-no-implied-seals',
    mode: 0o644,
    sealed: true,
    shmemOnly: true,
    quote: [MAN_TEXT.implied, MAN_TEXT.sealWrite],
    note: "The same write after F_SEAL_EXEC on a memfd of mode 0644: the man page's implied F_SEAL_WRITE refuses it; the kernel implied none (memfd_test.c test_exec_seal writes there).",
    expect: { errno: 'EPERM', size: C.PAGE_SIZE, changed: 0 },
    known: { ret: 3, size: C.PAGE_SIZE, changed: 3 },
    run: write3,
  },
  {
    slug: 'implied-write-seal-blocks-shared-rw-mmap-eperm',
    mode: 0o777,
    sealed: true,
    quote: [MAN_TEXT.implied, SEAL_WRITE_MMAP, MMAP_EPERM],
    note: 'After F_SEAL_EXEC on a mode-0777 memfd, a new PROT_READ | PROT_WRITE, MAP_SHARED mapping fails with EPERM (memfd_test.c mfd_fail_write, the way the hugetlbfs run checks a write seal).',
    expect: { errno: 'EPERM' },
    run: mapRw,
  },
  {
    slug: 'unsealed-shared-rw-mmap-ok',
    mode: 0o777,
    sealed: false,
    quote: [MAN_TEXT.implied],
    note: 'Control: without F_SEAL_EXEC the same mapping is made (rw-s in /proc/self/smaps).',
    expect: { ret: 0, perms: 'rw-s' },
    run: mapRw,
  },
  {
    slug: 'on-non-x-mode-shared-rw-mmap-eperm',
    mode: 0o644,
    sealed: true,
    quote: [MAN_TEXT.implied, SEAL_WRITE_MMAP, MMAP_EPERM],
    note: "The same mapping after F_SEAL_EXEC on a memfd of mode 0644: refused by the man page's implied F_SEAL_WRITE; made by the kernel, which implied none (memfd_test.c test_exec_seal, mfd_assert_write).",
    expect: { errno: 'EPERM' },
    known: { ret: 0, perms: 'rw-s' },
    run: mapRw,
  },
  // ── the execute bits it freezes (memfd_test.c test_exec_seal's fchmod calls) ─────────────────────
  ...(
    [
      ['chmod-clear-x-eperm', 0o777, true, 0o666],
      ['chmod-clear-x-unsealed-ok', 0o777, false, 0o666],
      ['chmod-clear-one-x-bit-eperm', 0o777, true, 0o754],
      ['chmod-non-x-bits-ok', 0o777, true, 0o755],
      ['chmod-sticky-only-ok', 0o777, true, 0o1777],
      ['on-partial-x-mode-chmod-add-x-eperm', 0o700, true, 0o711],
      ['on-partial-x-mode-chmod-clear-x-eperm', 0o700, true, 0o600],
      ['on-non-x-mode-chmod-add-x-eperm', 0o644, true, 0o744],
      ['on-non-x-mode-chmod-non-x-ok', 0o644, true, 0o600],
    ] as const
  ).map(([slug, mode, sealed, to]): Row => {
    const xChanges = (mode & 0o111) !== (to & 0o111)
    const refused = sealed && xChanges
    return {
      slug,
      catalog: `seal.exec.${slug}`,
      mode,
      sealed,
      quote: [MAN_TEXT.sealExec],
      note:
        `fchmod(0${to.toString(8)}) of a memfd of mode ${octal(mode)}${sealed ? ' after F_SEAL_EXEC' : ' without F_SEAL_EXEC (the control)'}: ` +
        `the execute bits ${xChanges ? 'would change' : 'stay as they are'}, so it ${refused ? 'fails with EPERM and the mode stays' : 'succeeds and the mode is the new one'}.`,
      expect: refused ? { errno: 'EPERM', mode: octal(mode) } : { ret: 0, mode: octal(to) },
      ...(refused ? { hugetlbfsKnown: { ret: 0, mode: octal(to) } } : {}),
      run: chmodTo(to),
    }
  }),
  // ── the implied write seal's own prerequisite ────────────────────────────────────────────────────
  {
    slug: 'implied-write-with-rw-mapping-ebusy',
    catalog: 'seal.exec.implied-write-with-rw-mapping',
    mode: 0o777,
    sealed: false,
    quote: [MAN_TEXT.implied, MAN_TEXT.writeBusy],
    note: "A PROT_READ | PROT_WRITE, MAP_SHARED mapping of a mode-0777 memfd exists (verified rw-s); F_ADD_SEALS(F_SEAL_EXEC) must meet F_SEAL_WRITE's prerequisite: EBUSY, and no seal is added.",
    expect: { errno: 'EBUSY', seals: 0 },
    run: (ctx, f) => {
      ctx.mem.map(f.length, C.PROT_READ | C.PROT_WRITE, f.mapFlags, f.fd, 0)
      return ctx.try.addSeals(f.fd, C.F_SEAL_EXEC)
    },
  },
]

function rowClause(row: Row, fs: Fs): Clause {
  const huge = fs === 'hugetlbfs'
  const needs: Need[] = ['mfdExec', 'sealExec', { memfdNoexecAtMost: 1 }, ...(huge ? (['hugetlb'] as const) : [])]
  const history: KnownBehaviour[] = []
  if (row.known) history.push({ range: '>=6.3', observed: row.known, behaviour: 'The implied seals are added only to a file with an execute bit.', ref: NON_X })
  if (huge && row.hugetlbfsKnown) history.push({ range: '>=6.3', observed: row.hugetlbfsKnown, ...HUGETLB_EXEC_SEAL_IGNORED })
  if (row.slug === 'implied-write-with-rw-mapping-ebusy')
    history.push({
      range: EBUSY_UNFIXED,
      observed: { ret: 0, seals: SEALS_WX },
      behaviour:
        'Until 3b041514cb6e the implied seals were added after the writable-mapping check, so F_SEAL_EXEC set F_SEAL_WRITE while a writable shared mapping kept writing. Fixed in 7.1, 6.12.93 and 6.18.35 (their stable review queues); 6.6.y and 7.0.y took it at releases not known here and are left out of this range.',
      ref: '3b041514cb6e "memfd: deny writeable mappings when implying SEAL_WRITE" (Fixes c4f75bc8bd6b; Cc stable)',
    })
  return {
    id: `noexec.${huge ? 'hugetlb.' : ''}seal-exec.${row.slug}`,
    area: 'noexec',
    ...(row.catalog ? { catalog: row.catalog } : {}),
    since: '6.3',
    needs,
    quote: row.quote,
    note: `${row.note}${huge ? ' On a hugetlbfs memfd (MFD_HUGETLB), one huge page long.' : ''}`,
    mirrors: [`memfd_test.c test_exec_seal${huge ? ' (hugetlbfs)' : ''}`],
    expect: row.expect,
    ...(history.length ? { history } : {}),
    ...(row.known ? { divergence: NON_X_DIVERGENCE } : huge && row.hugetlbfsKnown ? { divergence: HUGETLB_EXEC_SEAL_DIVERGENCE } : {}),
    run: (ctx) => row.run(ctx, execFile(ctx, fs, row.mode, row.sealed)),
  }
}

export const sealExecClauses: Clause[] = (['shmem', 'hugetlbfs'] as const).flatMap((fs) =>
  ROWS.filter((r) => fs === 'shmem' || !r.shmemOnly).map((r) => rowClause(r, fs)),
)
