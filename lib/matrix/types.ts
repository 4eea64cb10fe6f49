/**
 * Shapes shared by the kernel matrix: what a kernel spec resolves to, how one kernel run ended,
 * and the matrix report written as JSON for CI.
 */

/** The outcomes a conformance clause can have (DESIGN.md, "Conformance model"). */
export type ClauseStatus = 'pass' | 'diverges' | 'known' | 'skip' | 'broken'

/** A recorded behaviour of some kernels (the report's `history` entries). */
export interface HistoryEntry {
  range: string
  behaviour: string
  ref?: string
}

/**
 * One row of `memseal check --json` as the matrix reads it; unknown fields are kept as they came.
 * The optional fields are rendered when a report has them and never required.
 */
export interface GuestResult {
  id: string
  area: string
  status: ClauseStatus
  statement?: string
  source?: unknown
  expected?: unknown
  observed?: unknown
  reason?: string | null
  durationMs?: number
  /** For `known`: the recorded behaviour and its reference. */
  known?: { behaviour: string; ref: string }
  /** Where the documentation and the kernel disagree. */
  divergence?: { doc: string; kernel: string }
  /** The version that brought the behaviour. */
  since?: string
  history?: HistoryEntry[]
  note?: string
  basis?: 'doc' | 'code'
  /** kselftest or LTP cases that check the same thing. */
  mirrors?: unknown[]
}

/** The parts of `memseal check --json` the matrix relies on. */
export interface GuestReport {
  tool?: { name: string; version: string }
  kernel: { release: string; version?: number[]; machine?: string }
  environment?: Record<string, unknown>
  results: GuestResult[]
  summary?: Record<string, number>
}

/** A report as `check()` returns it: its environment is a typed object rather than a record. */
export type CheckLikeReport = Omit<GuestReport, 'environment'> & { environment?: object }

/** How a kernel run ended. */
export type RunStatus = 'ok' | 'boot-failed' | 'timeout' | 'no-report' | 'fetch-failed'

export type Accel = 'kvm' | 'tcg'

/** A kernel ready to boot: an image qemu can load and the modules directory that goes with it. */
export interface PreparedKernel {
  /** The ELF vmlinux when it could be extracted (PVH boot), else the bzImage. */
  image: string
  /** Why the image is booted as it is, when no complete vmlinux came out of it. */
  imageNote: string | null
  /** The kernel release (`uname -r` inside the guest), when known before booting. */
  release: string | null
  /** `…/lib/modules/<release>`, or null when the kernel comes without modules. */
  modulesDir: string | null
  /** Debian packages it came from, `name=version`. */
  packages: string[]
}

export interface KernelTiming {
  fetchMs: number
  prepareMs: number
  bootMs: number | null
  runMs: number | null
  totalMs: number
}

/** One column of the matrix: the host or one booted kernel. */
export interface KernelRun {
  spec: string
  /** The column name: the spec, or for a local kernel the image's file name. */
  label: string
  status: RunStatus
  release: string | null
  version: number[] | null
  accel: Accel | 'host' | null
  packages: string[]
  timing: KernelTiming
  /** Why the run did not produce a report, in one line. */
  error: string | null
  /** The last lines of the guest console (and of the guest command's stderr) when the run failed. */
  consoleTail: string | null
  /** Set when the kernel crashed before /init and booted on a second attempt: the first crash, in one line. */
  bootRetry?: string
  environment: Record<string, unknown> | null
  report: GuestReport | null
  /** The file this column came from, in a merged report. */
  source?: string
}

export interface MatrixReport {
  /** `matrix` for one run of memseal matrix (or one check report seen as a matrix), `merge` for merged reports. */
  tool: { name: 'memseal'; command: 'matrix' | 'merge' | 'check'; version?: string }
  createdAt: string
  host: { release: string; machine: string }
  /** For a merge, what the inputs used (`mixed` when they differ; `none` when nothing was booted). */
  accel: { requested: 'auto' | Accel | 'mixed' | 'none'; used: Accel | 'mixed' | 'none'; reason: string }
  /** For a merge: the files it was made from. */
  sources?: string[]
  /** Wall-clock time of the whole matrix (kernels are fetched while earlier ones boot). */
  durationMs: number
  kernels: KernelRun[]
  /** Clause ids in catalogue order, the union over all kernels. */
  clauses: string[]
}
