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

/** What a clause needs before it can say anything: probed features or privileges. */
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

export interface KernelFacts {
  release: string
  version: KernelVersion
  machine: string
  features: Features
  environment: Environment
}

export interface Clause {
  /** Area prefix + name, e.g. 'seal.write.pwrite-eperm'. */
  id: string
  area: Area
  /** The catalog row(s) it checks, where the id differs. */
  catalog?: string
  /** The documented statement, quoted from its source. */
  statement: string
  source: Source
  /** Linux version that brought the behaviour. */
  since: string
  needs?: Need[]
  /** 'pidns': runs in a private pid namespace (root), e.g. for vm.memfd_noexec. Default: a worker process. */
  isolation?: 'worker' | 'pidns'
  /** What the documentation says should be observed (may depend on the kernel). */
  expect: Observation | ((k: KernelFacts) => Observation)
  /** Recorded kernel history or doc-vs-code divergences that explain a different observation. */
  history?: KnownBehaviour[]
  /** Set when the documentation and the kernel disagree; the report lists these in their own section. */
  divergence?: DocDivergence
  /** Makes the kernel show what it does. Throw SetupError (ctx.setup) when setup fails: that is `broken`. */
  run(ctx: Ctx): Observation | Promise<Observation>
}

export interface ClauseResult {
  id: string
  area: Area
  status: Status
  statement: string
  source: string
  expected: string | null
  observed: string | null
  reason: string | null
  /** For `known`: the recorded behaviour and its reference. */
  known?: { behaviour: string; ref: string }
  divergence?: DocDivergence
  durationMs: number
}
