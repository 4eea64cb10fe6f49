/**
 * Seals belong to the inode (F_ADD_SEALS(2const): "Seals are a property of an inode"): every fd of the
 * file sees them, however it was made (dup, a new open of /proc/self/fd, fork), and a shared writable
 * mapping blocks F_SEAL_WRITE only. memfd_test.c runs these SHARE tests (test_share_dup, _mmap, _open,
 * _fork) twice: in a single-threaded process, then again while a thread made with CLONE_FILES shares the
 * file table, because the kernel looks up an fd without a reference when the table is not shared
 * (fdget's light path) and with one when it is. A Node process always has threads sharing its table, so
 * here the shared case is the worker itself and the other case is a forked child, which has one thread
 * and a table of its own (ctx.proc.fileSteps runs the same steps in both; the observation names which
 * case it was from the process's thread count). Each runs on shmem and again on hugetlbfs, as the
 * selftest does with its `hugetlbfs` argument.
 *
 * The steps work on a dup of the clause's memfd (the same open file description, as the selftest's fd
 * is), so that closing "fd" in a step never closes a descriptor the clause still owns.
 */
import { C } from '../abi'
import type { Ctx, FileStep, StepFd } from '../ctx'
import type { Clause, KernelFacts, Observation } from '../types'
import { seals, SEALS } from './seal-docs'
import { base, clause, GROW, RW, SEAL, sealed, sealedHuge, sealNames, SHRINK, WRITE } from './seal-common'

type Want = 'ok' | 'fd' | 'child' | 'EPERM' | 'EBUSY' | number

/** One SHARE test as steps, each with what it must give; built the same way for run() and expect(). */
class Steps {
  readonly steps: FileStep[] = []
  readonly labels: string[] = []
  readonly wants: Want[] = []
  readonly #names = new Map<number, string>()

  constructor(private readonly length: number) {}

  #push(step: FileStep, label: string, want: Want): { step: number } {
    this.steps.push(step)
    this.labels.push(label)
    this.wants.push(want)
    return { step: this.steps.length - 1 }
  }

  #name(fd: StepFd): string {
    return typeof fd === 'number' ? 'memfd' : (this.#names.get(fd.step) ?? `step ${fd.step}`)
  }

  dup(fd: StepFd, name: string): { step: number } {
    const ref = this.#push({ op: 'dup', fd }, `${name} = dup(${this.#name(fd)})`, 'fd')
    this.#names.set(ref.step, name)
    return ref
  }

  reopen(fd: StepFd, flags: number, name: string): { step: number } {
    const how = flags === C.O_RDONLY ? 'O_RDONLY' : 'O_RDWR'
    const ref = this.#push({ op: 'reopen', fd, flags }, `${name} = open(/proc/self/fd/${this.#name(fd)}, ${how})`, 'fd')
    this.#names.set(ref.step, name)
    return ref
  }

  has(fd: StepFd, bits: number): void {
    this.#push({ op: 'getSeals', fd }, `F_GET_SEALS(${this.#name(fd)})`, bits)
  }

  add(fd: StepFd, bits: number, want: 'ok' | 'EPERM' | 'EBUSY'): void {
    this.#push({ op: 'addSeals', fd, seals: bits }, `F_ADD_SEALS(${this.#name(fd)}, ${sealNames(bits)})`, want)
  }

  close(fd: StepFd): void {
    this.#push({ op: 'close', fd }, `close(${this.#name(fd)})`, 'ok')
  }

  mmap(fd: StepFd, prot: number, flags: number): number {
    const how = `${prot & C.PROT_WRITE ? 'PROT_READ|PROT_WRITE' : 'PROT_READ'}, ${flags & C.MAP_SHARED ? 'MAP_SHARED' : 'MAP_PRIVATE'}`
    return this.#push({ op: 'mmap', fd, prot, flags, length: this.length }, `mmap(${how}, ${this.#name(fd)})`, 'ok').step
  }

  munmap(map: number): void {
    this.#push({ op: 'munmap', map }, `munmap(the mapping of step ${map})`, 'ok')
  }

  forkIdle(): number {
    return this.#push({ op: 'forkIdle' }, 'fork() an idle child', 'child').step
  }

  join(child: number): void {
    this.#push({ op: 'join', child }, 'kill and reap the idle child', 'ok')
  }

  /** "label = want", with seal sets by name. */
  expected(): string[] {
    return this.labels.map((l, i) => `${l} = ${show(this.wants[i]!)}`)
  }

  /** "label = what the step gave". */
  observed(results: readonly Observation[]): string[] {
    return this.labels.map((l, i) => {
      const r = results[i]!
      if (typeof r.errno === 'string') return `${l} = ${r.errno}`
      const want = this.wants[i]!
      const ret = r.ret as number
      if (typeof want === 'number') return `${l} = ${show(ret)}`
      if (want === 'fd' || want === 'child') return `${l} = ${want}`
      return `${l} = ${ret === 0 ? 'ok' : String(ret)}`
    })
  }
}

function show(want: Want): string {
  return typeof want === 'number' ? sealNames(want) : want
}

/** test_share_dup: seals added through either of two dup'ed fds show through both; F_SEAL_SEAL stops both. */
function shareDup(s: Steps, memfd: number, b: number): void {
  const fd = s.dup(memfd, 'fd')
  s.has(fd, b)
  const fd2 = s.dup(fd, 'fd2')
  s.has(fd2, b)
  s.add(fd, WRITE, 'ok')
  s.has(fd, b | WRITE)
  s.has(fd2, b | WRITE)
  s.add(fd2, SHRINK, 'ok')
  s.has(fd, b | WRITE | SHRINK)
  s.has(fd2, b | WRITE | SHRINK)
  s.add(fd, SEAL, 'ok')
  s.has(fd, b | WRITE | SHRINK | SEAL)
  s.has(fd2, b | WRITE | SHRINK | SEAL)
  s.add(fd, GROW, 'EPERM')
  s.add(fd2, GROW, 'EPERM')
  s.add(fd, SEAL, 'EPERM')
  s.add(fd2, SEAL, 'EPERM')
  s.close(fd2)
  s.add(fd, GROW, 'EPERM')
  s.has(fd, b | WRITE | SHRINK | SEAL)
}

/** test_share_mmap: a shared writable mapping blocks F_SEAL_WRITE only; a private read-only one blocks nothing. */
function shareMmap(s: Steps, memfd: number, b: number): void {
  const fd = s.dup(memfd, 'fd')
  s.has(fd, b)
  const shared = s.mmap(fd, RW, C.MAP_SHARED)
  s.add(fd, WRITE, 'EBUSY')
  s.has(fd, b)
  s.add(fd, SHRINK, 'ok')
  s.has(fd, b | SHRINK)
  s.munmap(shared)
  const priv = s.mmap(fd, C.PROT_READ, C.MAP_PRIVATE)
  s.add(fd, WRITE, 'ok')
  s.has(fd, b | WRITE | SHRINK)
  s.munmap(priv)
}

/** test_share_open: a new open file description sees the same seals; an O_RDONLY one cannot add any. */
function shareOpen(s: Steps, memfd: number, b: number): void {
  const fd = s.dup(memfd, 'fd')
  s.has(fd, b)
  const fd2 = s.reopen(fd, C.O_RDWR, 'fd2')
  s.add(fd, WRITE, 'ok')
  s.has(fd, b | WRITE)
  s.has(fd2, b | WRITE)
  s.add(fd2, SHRINK, 'ok')
  s.has(fd, b | WRITE | SHRINK)
  s.has(fd2, b | WRITE | SHRINK)
  s.close(fd)
  const ro = s.reopen(fd2, C.O_RDONLY, 'fd3')
  s.add(ro, SEAL, 'EPERM')
  s.has(ro, b | WRITE | SHRINK)
  s.has(fd2, b | WRITE | SHRINK)
  s.close(fd2)
  const rw = s.reopen(ro, C.O_RDWR, 'fd4')
  s.add(rw, SEAL, 'ok')
  s.has(ro, b | WRITE | SHRINK | SEAL)
  s.has(rw, b | WRITE | SHRINK | SEAL)
}

/** test_share_fork: a forked child holding the file does not change what F_ADD_SEALS does, before or after it ends. */
function shareFork(s: Steps, memfd: number, b: number): void {
  const fd = s.dup(memfd, 'fd')
  s.has(fd, b)
  const child = s.forkIdle()
  s.add(fd, SEAL, 'ok')
  s.has(fd, b | SEAL)
  s.add(fd, WRITE, 'EPERM')
  s.has(fd, b | SEAL)
  s.join(child)
  s.add(fd, WRITE, 'EPERM')
  s.has(fd, b | SEAL)
}

interface ShareTest {
  slug: string
  selftest: string
  ltp?: string
  build: (s: Steps, memfd: number, base: number) => void
  quote: string[]
}

const SHARE_TESTS: ShareTest[] = [
  { slug: 'dup', selftest: 'test_share_dup', ltp: 'LTP memfd_create01 test_share_dup', build: shareDup, quote: [SEALS.inode, SEALS.sealSeal] },
  { slug: 'mmap', selftest: 'test_share_mmap', ltp: 'LTP memfd_create01 test_share_mmap', build: shareMmap, quote: [SEALS.ebusy] },
  {
    slug: 'open',
    selftest: 'test_share_open',
    ltp: 'LTP memfd_create01 test_share_open',
    build: shareOpen,
    quote: [SEALS.inode, SEALS.writable],
  },
  { slug: 'fork', selftest: 'test_share_fork', build: shareFork, quote: [SEALS.inode, SEALS.sealSeal] },
]

type Table = 'shared' | 'own'
type Fs = 'shmem' | 'hugetlbfs'

function shareClause(t: ShareTest, table: Table, fs: Fs): Clause {
  const huge = fs === 'hugetlbfs'
  const selftest = `memfd_test.c ${t.selftest}${table === 'shared' ? ' (shared file-table)' : ''}${huge ? ' [hugetlbfs]' : ''}`
  const plan = (b: number, memfd: number, length: number): Steps => {
    const s = new Steps(length)
    t.build(s, memfd, b)
    return s
  }
  return clause({
    id: `seal.${huge ? 'hugetlb.' : ''}share-${t.slug}.file-table-${table}`,
    catalog: `seal.shared-by-inode-* (T-MEMFD ${t.selftest})`,
    quote: t.quote.map((text) => seals('DESCRIPTION', text)),
    note:
      `memfd_test.c ${t.selftest} step by step${huge ? ' on a hugetlbfs memfd of one huge page' : ' on a memfd of two pages'}, ` +
      (table === 'shared'
        ? "in the worker, whose threads share its file table (fdget takes a reference): the selftest's second run, after it started a thread with CLONE_FILES."
        : "in a forked child, which has one thread and its own file table (fdget's light path, no reference): the selftest's first run.") +
      ' Every step must give what the selftest asserts; F_GET_SEALS after each change shows its effect through each fd. Seals start with F_SEAL_EXEC where vm.memfd_noexec ≥ 1 makes the memfd MFD_NOEXEC_SEAL.',
    mirrors: [selftest, ...(t.ltp && !huge && table === 'shared' ? [t.ltp] : [])],
    since: huge ? '4.16' : '3.17',
    needs: huge ? ['hugetlb', ...(t.slug === 'mmap' ? (['hugetlbPool'] as const) : [])] : [],
    expect: (k: KernelFacts) => ({ fileTable: table, steps: plan(base(k), 0, 0).expected() }),
    run: (ctx: Ctx) => {
      const { fd, length } = huge ? hugeSubject(ctx) : { fd: sealed(ctx, 0, 2), length: 2 * ctx.ps }
      const s = plan(base(ctx.facts), fd, length)
      const r = ctx.proc.fileSteps(s.steps, table === 'shared' ? 'here' : 'forked')
      return { fileTable: r.threads > 1 ? 'shared' : 'own', steps: s.observed(r.results) }
    },
  })
}

function hugeSubject(ctx: Ctx): { fd: number; length: number } {
  const { fd, hps } = sealedHuge(ctx, 0, 1)
  return { fd, length: hps }
}

/** Seals added through one fd, read through another (a dup, a new open file description, a forked child). */
const byInode: Clause[] = [
  clause({
    id: 'seal.shared-by-inode-dup',
    quote: seals('DESCRIPTION', SEALS.inode),
    note: 'F_SEAL_SHRINK added through a dup (F_DUPFD_CLOEXEC) of the memfd; F_GET_SEALS through the original shows it.',
    mirrors: ['memfd_test.c test_share_dup', 'LTP memfd_create01 test_share_dup'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, SHRINK) }),
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      const { ret, errno } = ctx.try.addSeals(ctx.file.dup(fd), SHRINK)
      return { ...(errno === undefined ? { ret: ret! } : { errno }), ...ctx.try.getSeals(fd) }
    },
  }),
  clause({
    id: 'seal.shared-by-inode-reopen',
    quote: seals('DESCRIPTION', SEALS.inode),
    note: 'F_SEAL_GROW added through a second open file description of the same memfd (open of /proc/self/fd/N, O_RDWR); F_GET_SEALS through the first shows it.',
    mirrors: ['memfd_test.c test_share_open', 'LTP memfd_create01 test_share_open'],
    since: '3.17',
    expect: (k) => ({ ret: 0, seals: base(k, GROW) }),
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      const { ret, errno } = ctx.try.addSeals(ctx.file.reopen(fd, 'r+'), GROW)
      return { ...(errno === undefined ? { ret: ret! } : { errno }), ...ctx.try.getSeals(fd) }
    },
  }),
  clause({
    id: 'seal.shared-by-inode-fork',
    catalog: 'seal.shared-by-inode-dup (T-MEMFD test_share_fork)',
    quote: [
      seals('DESCRIPTION', SEALS.inode),
      {
        doc: 'memfd_create(2)',
        version: 'man-pages 6.20',
        section: 'DESCRIPTION',
        url: 'https://man7.org/linux/man-pages/man2/memfd_create.2.html',
        text: 'A copy of the file descriptor is inherited by the child produced by fork(2) and refers to the same file.',
      },
    ],
    note: 'A forked child adds F_SEAL_WRITE through its inherited copy of the fd; F_GET_SEALS in the parent shows it.',
    since: '3.17',
    expect: (k) => ({ child: 'ok', seals: base(k, WRITE) }),
    run: (ctx) => {
      const fd = sealed(ctx, 0, 0)
      const r = ctx.proc.fileSteps([{ op: 'addSeals', fd, seals: WRITE }], 'forked')
      const child = r.results[0]!
      return { child: typeof child.errno === 'string' ? child.errno : 'ok', ...ctx.try.getSeals(fd) }
    },
  }),
]

export const shareClauses: Clause[] = [
  ...byInode,
  ...(['shmem', 'hugetlbfs'] as const).flatMap((fs) => SHARE_TESTS.flatMap((t) => (['own', 'shared'] as const).map((table) => shareClause(t, table, fs)))),
]
