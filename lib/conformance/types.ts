/**
 * The conformance model: a clause is data (what the documentation says, where, since when, what history
 * explains a different answer) plus a small function that makes the kernel show what it does.
 */
import type { Environment, Features, FeatureName, KernelVersion } from '../kernel'
import type { Ctx } from './ctx'

export type Area = 'memfd' | 'seal' | 'mmap' | 'noexec' | 'mseal'
export const AREAS: readonly Area[] = ['memfd', 'seal', 'mmap', 'noexec', 'mseal']

export type Status = 'pass' | 'diverges' | 'known' | 'skip' | 'broken'

/**
 * What the kernel did, as plain JSON, compared field by field with the expectation. Conventions:
 * `{ ret: 0 }` for success, `{ errno: 'EPERM' }` for failure, plus named facts (`seals`, `mode`, `signal`,
 * `size`, `data` …). An observation lists only what the clause is about.
 */
export type Observation = { [key: string]: Json }
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

export interface Source {
  /** Short document tag, e.g. 'F_ADD_SEALS(2const)', 'mfd_noexec.rst', 'mseal.rst', 'memfd_create(2)'. */
  doc: string
  /** Section of that document, e.g. 'File seals', 'ERRORS'. */
  section?: string
  url?: string
}

/**
 * A recorded way in which some kernels differ from the documentation: on kernels in `range` the
 * observation `observed` is `known`, not `diverges`. Ranges are space-separated comparators
 * ('>=6.12 <6.12.9'), alternatives joined by '||' ('<6.7 || >=6.12 <6.12.9'); '*' is every version.
 */
export interface KnownBehaviour {
  range: string
  observed: Observation
  /** What happens there and why, in one or two sentences. */
  behaviour: string
  /** Commit, patch or document that records it. */
  ref: string
}

/** A place where the documentation and the kernel disagree: the report shows both texts. */
export interface DocDivergence {
  /** What the documentation says (quoted). */
  doc: string
  /** What the kernel does, and where in the code. */
  kernel: string
}

/** What a clause needs before it can say anything: probed features, privileges or the environment. */
export type Need =
  | FeatureName
  | 'root'
  | 'hugetlbPool'
  | 'pidns'
  | 'x86_64'
  | 'nonRoot'
  /** The kernel log is readable (/dev/kmsg): containers often hide it or lack CAP_SYSLOG. */
  | 'kmsg'
  /** /proc/sys is writable (containers mount it read-only unless told otherwise). */
  | 'sysctlWritable'
  /**
   * The kernel's build configuration is readable (/proc/config.gz or /boot/config-RELEASE), on kernels from
   * this version on: the options read arrived then, so an older kernel's answer is known without them.
   */
  | { kernelConfigFrom: string }
  /** x86-64 with ia32 emulation on: int $0x80 from a 64-bit process reaches the i386 table (probed in a child). */
  | 'ia32'
  /** A mapping at address 0 is allowed here (vm.mmap_min_addr, CAP_SYS_RAWIO, LSMs; probed in a child). */
  | 'mapZero'
  /** vm.memfd_noexec here is at most this level (a namespace cannot go below its parent's level). */
  | { memfdNoexecAtMost: 0 | 1 }
  /** The kernel was not built without this config-dependent feature (a version-absent feature still runs). */
  | { builtWith: FeatureName }

export interface KernelFacts {
  release: string
  version: KernelVersion
  machine: string
  features: Features
  environment: Environment
  /** The kernel's build configuration (CONFIG_* → 'y', 'm', a value), or null where it cannot be read. */
  config: Readonly<Record<string, string>> | null
}

/**
 * The documentation's own words, verbatim ('…' marks an omission), with the version of the document they
 * were read in: documents change (mseal.rst 6.10 against 6.12; F_GET_SEALS with and without F_SEAL_EXEC),
 * and a verdict that depends on the wording follows the document of the kernel's era.
 */
export interface Quote {
  /** 'F_ADD_SEALS(2const)', 'memfd_create(2)', 'mseal.rst', 'mfd_noexec.rst'; for basis 'code', the file. */
  doc: string
  /** Which version of the document: 'man-pages 6.14', 'Linux 6.12', 'Linux 6.10'. */
  version: string
  section?: string
  url?: string
  text: string
}

/**
 * Where an expectation comes from: 'doc' — a document states it (the quote); 'code' — no document
 * states it, and the expectation is memseal's reading of the kernel's code, said so in the note.
 */
export type Basis = 'doc' | 'code'

export interface Clause {
  /** Area prefix + name, e.g. 'seal.write.pwrite-eperm'. An errno or '-ok' at its end names the expectation. */
  id: string
  area: Area
  /** The catalog row(s) it checks, where the id differs. */
  catalog?: string
  /** The documentation's words (verbatim): required for basis 'doc'. */
  quote?: Quote | Quote[]
  /** memseal's own words: what is checked, how, and why (never mixed into the quote). */
  note?: string
  /** Default 'doc'. */
  basis?: Basis
  /** The selftest or LTP cases this clause mirrors: 'memfd_test.c test_seal_write', 'LTP memfd_create02'. */
  mirrors?: string[]
  /** Linux version that brought the behaviour. */
  since: string
  needs?: Need[]
  /** 'pidns': runs in a private pid namespace (root), e.g. for vm.memfd_noexec. Default: a worker process. */
  isolation?: 'worker' | 'pidns'
  /**
   * What the documentation says should be observed (may depend on the kernel and the environment). Where a
   * document allows several outcomes ("might happen", "undefined behavior"), an array of them: any passes.
   */
  expect: Observation | Observation[] | ((k: KernelFacts) => Observation | Observation[])
  /** Recorded kernel history or doc-vs-code divergences that explain a different observation. */
  history?: KnownBehaviour[]
  /** Set when the documentation and the kernel disagree; the report lists these in their own section. */
  divergence?: DocDivergence
  /** Makes the kernel show what it does, through ctx only. A failed setup step throws SetupError: `broken`. */
  run(ctx: Ctx): Observation | Promise<Observation>
}

export interface ClauseResult {
  id: string
  area: Area
  status: Status
  /** The quoted documentation (for basis 'code', memseal's reading of the code). */
  statement: string
  /** The document, its version and section. */
  source: string
  /** memseal's own note on the clause, apart from the quote. */
  note?: string
  basis?: Basis
  /** Version of Linux that brought the behaviour. */
  since?: string
  /** Selftest or LTP cases the clause mirrors. */
  mirrors?: string[]
  /** The recorded kernel history the verdict was judged against. */
  history?: Array<{ range: string; behaviour: string; ref: string }>
  expected: string | null
  observed: string | null
  reason: string | null
  /** For `known`: the recorded behaviour and its reference. */
  known?: { behaviour: string; ref: string }
  divergence?: DocDivergence
  durationMs: number
}
