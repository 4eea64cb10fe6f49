/**
 * What this kernel is and what it can do. Features are probed with real calls, not guessed from the
 * version (stable kernels carry backports), and a call that a seccomp filter blocks is told apart from
 * a feature the kernel lacks.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { machine, release } from 'node:os'
import { errnoName } from './errors'
import { detectContainer, INITIAL_PID_NAMESPACE_INODE, pidNamespaceInode, seccompStatus } from './kernel/container'
import { constants as C, native, type RawRegion } from './native'

export type KernelVersion = [number, number, number]

/** '6.18.44-fc-v657' → [6, 18, 44] */
export function parseVersion(text: string): KernelVersion {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text)
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0]
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** One probed feature: whether it works here and, if not, why (absent, or blocked by seccomp). */
export interface FeatureProbe {
  ok: boolean
  /** Version of Linux that brought the feature. */
  since: string
  /** The errno the probe saw, when it failed. */
  errno?: string
  /** Set when the kernel should have it but a seccomp filter refused the call. */
  blockedBy?: 'seccomp'
  /** One sentence for people: why it is unavailable. */
  reason?: string
}

export type FeatureName =
  | 'memfd'
  | 'allowSealing'
  | 'hugetlb'
  | 'futureWrite'
  | 'noexecSeal'
  | 'mfdExec'
  | 'sealExec'
  | 'mseal'
  | 'guardInstall'
  | 'roSharedAfterWriteSeal'
  | 'pkeys'
  | 'ioUring'
  | 'memfdNoexecSysctl'

export interface Features extends Record<FeatureName, boolean> {
  /** Huge page sizes the kernel supports, in bytes (from /sys/kernel/mm/hugepages). */
  hugetlbSizes: number[]
  /** Per-feature detail: since which version, errno, seccomp. */
  probes: Record<FeatureName, FeatureProbe>
}

export interface HugetlbPool {
  pageSize: number
  total: number
  free: number
}

export interface Environment {
  seccomp: number
  seccompFilters: number
  container: string | null
  memfdNoexec: number | null
  /** This process's pid namespace: its link ('pid:[…]'), depth below the /proc mount's namespace (NSpid),
   * and whether it is the initial one (a container's /proc hides its depth, the inode does not). */
  pidNamespace: { inode: string | null; depth: number; initial: boolean }
  root: boolean
  capSysAdmin: boolean
  pageSize: number
  hugetlbPools: HugetlbPool[]
}

const FEATURE_SINCE: Record<FeatureName, string> = {
  memfd: '3.17',
  allowSealing: '3.17',
  hugetlb: '4.14',
  futureWrite: '5.1',
  noexecSeal: '6.3',
  mfdExec: '6.3',
  sealExec: '6.3',
  mseal: '6.10',
  guardInstall: '6.13',
  roSharedAfterWriteSeal: '6.7',
  pkeys: '4.9',
  ioUring: '5.1',
  memfdNoexecSysctl: '6.3',
}

export const kernel = {
  /** uname -r */
  release: release(),
  /** [major, minor, patch] from the release */
  version: parseVersion(release()),
  /** uname -m */
  machine: machine(),
  /** Whether this kernel's version is at least `v` ('6.10'). */
  atLeast(v: string): boolean {
    return compareVersions(kernel.version, parseVersion(v)) >= 0
  },
  features,
  environment,
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function statusField(name: string): string | null {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(readText('/proc/self/status') ?? '')
  return m ? m[1]!.trim() : null
}

export function hugetlbPools(): HugetlbPool[] {
  const dir = '/sys/kernel/mm/hugepages'
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .map((entry) => {
      const m = /^hugepages-(\d+)kB$/.exec(entry)
      if (!m) return null
      const n = (f: string) => Number(readText(`${dir}/${entry}/${f}`)?.trim() ?? 0)
      return { pageSize: Number(m[1]) * 1024, total: n('nr_hugepages'), free: n('free_hugepages') }
    })
    .filter((p): p is HugetlbPool => p !== null)
    .sort((a, b) => a.pageSize - b.pageSize)
}

let cachedEnvironment: Environment | undefined
function environment(): Environment {
  if (cachedEnvironment) return { ...cachedEnvironment, hugetlbPools: hugetlbPools() }
  const seccomp = seccompStatus()
  const nspid = (statusField('NSpid') ?? '').split(/\s+/).filter(Boolean)
  let pidns: string | null = null
  try {
    pidns = readlinkSync('/proc/self/ns/pid')
  } catch {
    pidns = null
  }
  const capEff = BigInt(`0x${statusField('CapEff') ?? '0'}`)
  const noexec = readText('/proc/sys/vm/memfd_noexec')
  const container = detectContainer()
  cachedEnvironment = {
    seccomp: seccomp.mode,
    seccompFilters: seccomp.filters,
    container: container.container ? (container.engine ?? 'unknown') : null,
    memfdNoexec: noexec === null ? null : Number(noexec.trim()),
    pidNamespace: { inode: pidns, depth: Math.max(0, nspid.length - 1), initial: pidNamespaceInode() === INITIAL_PID_NAMESPACE_INODE },
    root: process.getuid?.() === 0,
    capSysAdmin: (capEff & (1n << 21n)) !== 0n,
    pageSize: C.PAGE_SIZE,
    hugetlbPools: hugetlbPools(),
  }
  return { ...cachedEnvironment }
}

/**
 * Turns a probe's result into a FeatureProbe. ENOSYS or EPERM from a call that this kernel version
 * should have, while a seccomp filter is installed, is reported as blocked, not absent.
 */
function judge(name: FeatureName, ret: number, okErrnos: number[] = []): FeatureProbe {
  const since = FEATURE_SINCE[name]
  if (ret >= 0 || okErrnos.includes(ret)) return { ok: true, since }
  const errno = errnoName(ret)
  const filtered = seccompStatus().mode === 2
  if (filtered && (errno === 'ENOSYS' || errno === 'EPERM') && kernel.atLeast(since)) {
    return {
      ok: false,
      since,
      errno,
      blockedBy: 'seccomp',
      reason: `blocked by a seccomp filter: the probe got ${errno} on Linux ${kernel.release}, which has had it since ${since}`,
    }
  }
  const versionNote = kernel.atLeast(since)
    ? `it arrived in Linux ${since} (a build option or backport may be missing)`
    : `it arrived in Linux ${since}; this kernel is ${kernel.release}`
  return { ok: false, since, errno, reason: `not supported by this kernel (probe: ${errno}); ${versionNote}` }
}

function withMemfd<T>(flags: number, use: (fd: number) => T, orElse: (ret: number) => T): T {
  const fd = native.memfdCreate('memseal-feature', flags | C.MFD_CLOEXEC)
  if (fd < 0) return orElse(fd)
  try {
    return use(fd)
  } finally {
    native.close(fd)
  }
}

function withAnonPage<T>(prot: number, use: (r: RawRegion) => T): T {
  const r = native.raw.mmap(C.PAGE_SIZE, prot, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0)
  if (typeof r === 'number') throw new Error(`feature probe: mmap failed with ${errnoName(r)}`)
  try {
    return use(r)
  } finally {
    native.raw.munmap(r, 0, C.PAGE_SIZE)
  }
}

let cachedFeatures: Features | undefined
/**
 * Probes what this kernel can do. Nothing it does leaves a trace: no seal on address space (mseal is
 * probed with a zero length, which seals nothing), every fd and mapping is released.
 */
function features(): Features {
  if (cachedFeatures) return { ...cachedFeatures, probes: { ...cachedFeatures.probes } }
  const p = {} as Record<FeatureName, FeatureProbe>
  const sealing = C.MFD_ALLOW_SEALING
  p.memfd = judge(
    'memfd',
    withMemfd(
      0,
      () => 0,
      (r) => r,
    ),
  )
  p.allowSealing = judge(
    'allowSealing',
    withMemfd(
      sealing,
      (fd) => native.fcntl(fd, C.F_GET_SEALS),
      (r) => r,
    ),
  )
  p.hugetlb = judge(
    'hugetlb',
    withMemfd(
      C.MFD_HUGETLB,
      () => 0,
      (r) => r,
    ),
  )
  p.futureWrite = judge(
    'futureWrite',
    withMemfd(
      sealing,
      (fd) => native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_FUTURE_WRITE),
      (r) => r,
    ),
  )
  p.noexecSeal = judge(
    'noexecSeal',
    withMemfd(
      C.MFD_NOEXEC_SEAL,
      () => 0,
      (r) => r,
    ),
  )
  p.mfdExec = judge(
    'mfdExec',
    withMemfd(
      C.MFD_EXEC,
      () => 0,
      (r) => r,
    ),
  )
  p.sealExec = judge(
    'sealExec',
    withMemfd(
      sealing,
      (fd) => native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_EXEC),
      (r) => r,
    ),
  )
  // mseal with length 0 returns 0 before looking at any VMA: it proves the syscall exists and seals nothing.
  p.mseal = judge(
    'mseal',
    withAnonPage(C.PROT_READ, (r) => native.raw.mseal(r, 0, 0, 0)),
  )
  p.guardInstall = judge(
    'guardInstall',
    withAnonPage(C.PROT_READ | C.PROT_WRITE, (r) => native.raw.madvise(r, 0, C.PAGE_SIZE, C.MADV_GUARD_INSTALL)),
  )
  p.roSharedAfterWriteSeal = judge(
    'roSharedAfterWriteSeal',
    withMemfd(
      sealing,
      (fd) => {
        const sized = native.fallocate(fd, 0, 0, C.PAGE_SIZE)
        if (sized < 0) return sized
        const sealed = native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_WRITE)
        if (sealed < 0) return sealed
        const r = native.raw.mmap(C.PAGE_SIZE, C.PROT_READ, C.MAP_SHARED, fd, 0)
        if (typeof r === 'number') return r
        native.raw.munmap(r, 0, C.PAGE_SIZE)
        return 0
      },
      (r) => r,
    ),
  )
  const cpuFlags = /^flags\s*:(.*)$/m.exec(readText('/proc/cpuinfo') ?? '')?.[1] ?? ''
  p.pkeys =
    /\bpku\b/.test(cpuFlags) && /\bospke\b/.test(cpuFlags)
      ? { ok: true, since: FEATURE_SINCE.pkeys }
      : { ok: false, since: FEATURE_SINCE.pkeys, reason: 'the CPU or kernel has no memory protection keys (no pku/ospke in /proc/cpuinfo)' }
  p.ioUring = judge(
    'ioUring',
    withAnonPage(C.PROT_READ | C.PROT_WRITE, (r) => {
      const ring = native.raw.pinPages(r, 0, C.PAGE_SIZE)
      return ring < 0 ? ring : native.raw.unpinPages(ring)
    }),
  )
  p.memfdNoexecSysctl = existsSync('/proc/sys/vm/memfd_noexec')
    ? { ok: true, since: FEATURE_SINCE.memfdNoexecSysctl }
    : {
        ok: false,
        since: FEATURE_SINCE.memfdNoexecSysctl,
        reason: `/proc/sys/vm/memfd_noexec does not exist; it arrived in Linux ${FEATURE_SINCE.memfdNoexecSysctl}`,
      }
  const flags = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.ok])) as Record<FeatureName, boolean>
  cachedFeatures = { ...flags, hugetlbSizes: p.hugetlb.ok ? hugetlbPools().map((pool) => pool.pageSize) : [], probes: p }
  return features()
}
