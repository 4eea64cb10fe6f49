/**
 * What this kernel can do, probed with real calls and judged by version. A feature is `present` when
 * its probe works (stable kernels carry backports, so a probe can prove a feature older than its
 * version). When the probe fails, the reason is decided in this order:
 *   - `blocked`: a seccomp filter answers the probed call (its canary shows it: ./seccomp.ts);
 *   - `absent`: the kernel is older than the version that brought the feature, or is in a recorded range
 *     that lacks it, or there is evidence that it was built without it (a config-dependent feature);
 *   - `missing`: the kernel's version promises the feature and nothing explains the failure. Its clauses
 *     run anyway (and show what the kernel does), and its presence clause diverges;
 *   - `unknown`: the probe's own setup step failed, so the probe says nothing about the feature.
 * Only `absent` and `blocked` make a clause that needs the feature a skip.
 */
import { existsSync, readFileSync } from 'node:fs'
import { errnoName } from '../errors'
import { constants as C, native, type RawRegion } from '../native'
import { seccompStatus } from './container'
import { evidenceText, filterEvidence } from './seccomp'
import { compareVersions, inRange, parseVersion, type KernelVersion } from './version'

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

export type FeatureState = 'present' | 'absent' | 'blocked' | 'missing' | 'unknown'

/** One probed feature: whether it works here and, if not, why. */
export interface FeatureProbe {
  /** The feature works here (state 'present'). */
  ok: boolean
  state: FeatureState
  /** Version of Linux that brought the feature. */
  since: string
  /** The errno the probe saw, when it failed. */
  errno?: string
  /** For state 'absent': older than the feature, in a recorded range without it, or built without it. */
  absentBy?: 'version' | 'range' | 'config'
  /** Set when a seccomp filter answered the probed call (state 'blocked'). */
  blockedBy?: 'seccomp'
  /** One sentence for people: why it is not usable, or what the failure means. */
  reason?: string
}

export interface Features extends Record<FeatureName, boolean> {
  /** Huge page sizes the kernel supports, in bytes (from /sys/kernel/mm/hugepages). */
  hugetlbSizes: number[]
  /** Per-feature detail: state, since which version, errno, seccomp. */
  probes: Record<FeatureName, FeatureProbe>
}

/** A probe's answer: the result of the call that shows the feature, or the setup step that failed first. */
interface ProbeResult {
  ret: number
  /** Set when a step before the feature's own call failed: the probe says nothing about the feature. */
  failedStep?: string
}

interface FeatureSpec {
  since: string
  /** The call that shows the feature, and the arguments a filter matches on (for its canary). */
  syscall: string
  canaryArgs: number[]
  /** The probe reads a file instead of making the call (CPU flags, a sysctl's existence): no filter can answer it. */
  readsOnly?: boolean
  /** Versions at or after `since` that lack the feature, and why (a regression). */
  absentIn?: { range: string; why: string }
  /** Evidence that this kernel was built or configured without it, as a sentence; null when there is none. */
  config?: (errno: string) => string | null
  probe: () => ProbeResult
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function withMemfd(flags: number, use: (fd: number) => ProbeResult): ProbeResult {
  const fd = native.memfdCreate('memseal-feature', flags | C.MFD_CLOEXEC)
  if (fd < 0) return { ret: fd }
  try {
    return use(fd)
  } finally {
    native.close(fd)
  }
}

function withAnonPage(prot: number, use: (r: RawRegion) => ProbeResult): ProbeResult {
  const r = native.raw.mmap(C.PAGE_SIZE, prot, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0)
  if (typeof r === 'number') return { ret: r, failedStep: 'mmap of an anonymous page' }
  try {
    return use(r)
  } finally {
    native.raw.munmap(r, 0, C.PAGE_SIZE)
  }
}

/** A step before the feature's own call: its failure makes the probe say nothing about the feature. */
function step(ret: number, what: string): ProbeResult | null {
  return ret < 0 ? { ret, failedStep: what } : null
}

const noexecLevel = (): number | null => {
  const text = readText('/proc/sys/vm/memfd_noexec')
  return text === null ? null : Number(text.trim())
}

const SPECS: Record<FeatureName, FeatureSpec> = {
  memfd: {
    since: '3.17',
    syscall: 'memfd_create',
    canaryArgs: [0],
    config: (errno) => (errno === 'ENOSYS' ? 'memfd_create(2) answers ENOSYS: the kernel was built without CONFIG_MEMFD_CREATE' : null),
    probe: () => withMemfd(0, () => ({ ret: 0 })),
  },
  allowSealing: {
    since: '3.17',
    syscall: 'fcntl',
    canaryArgs: [C.F_GET_SEALS, 0],
    probe: () => {
      const fd = native.memfdCreate('memseal-feature', C.MFD_ALLOW_SEALING | C.MFD_CLOEXEC)
      if (fd < 0) return { ret: fd, failedStep: 'memfd_create(MFD_ALLOW_SEALING)' }
      try {
        return { ret: native.fcntl(fd, C.F_GET_SEALS) }
      } finally {
        native.close(fd)
      }
    },
  },
  hugetlb: {
    since: '4.14',
    syscall: 'memfd_create',
    canaryArgs: [C.MFD_HUGETLB],
    config: () => (existsSync('/sys/kernel/mm/hugepages') ? null : 'there is no /sys/kernel/mm/hugepages: the kernel was built without CONFIG_HUGETLBFS'),
    probe: () => withMemfd(C.MFD_HUGETLB, () => ({ ret: 0 })),
  },
  futureWrite: {
    since: '5.1',
    syscall: 'fcntl',
    canaryArgs: [C.F_ADD_SEALS, C.F_SEAL_FUTURE_WRITE],
    probe: () => sealProbe(C.F_SEAL_FUTURE_WRITE),
  },
  noexecSeal: {
    since: '6.3',
    syscall: 'memfd_create',
    canaryArgs: [C.MFD_NOEXEC_SEAL],
    probe: () => withMemfd(C.MFD_NOEXEC_SEAL, () => ({ ret: 0 })),
  },
  mfdExec: {
    since: '6.3',
    syscall: 'memfd_create',
    canaryArgs: [C.MFD_EXEC],
    // At vm.memfd_noexec=2 the kernel knows the flag and refuses it with EACCES (6.6 on): that proves it.
    probe: () => {
      const r = withMemfd(C.MFD_EXEC, () => ({ ret: 0 }))
      return r.ret === -13 /* EACCES */ && noexecLevel() === 2 ? { ret: 0 } : r
    },
  },
  sealExec: {
    since: '6.3',
    syscall: 'fcntl',
    canaryArgs: [C.F_ADD_SEALS, C.F_SEAL_EXEC],
    probe: () => sealProbe(C.F_SEAL_EXEC),
  },
  // mseal with length 0 returns 0 before it looks at any VMA: the call exists, and nothing is sealed.
  mseal: {
    since: '6.10',
    syscall: 'mseal',
    canaryArgs: [0],
    probe: () => withAnonPage(C.PROT_READ, (r) => ({ ret: native.raw.mseal(r, 0, 0, 0) })),
  },
  guardInstall: {
    since: '6.13',
    syscall: 'madvise',
    canaryArgs: [C.MADV_GUARD_INSTALL],
    probe: () => withAnonPage(C.PROT_READ | C.PROT_WRITE, (r) => ({ ret: native.raw.madvise(r, 0, C.PAGE_SIZE, C.MADV_GUARD_INSTALL) })),
  },
  roSharedAfterWriteSeal: {
    since: '6.7',
    syscall: 'mmap',
    canaryArgs: [C.PROT_READ, C.MAP_SHARED],
    absentIn: {
      range: '>=6.12 <6.12.9',
      why: '6.12.0–6.12.8 refuse it again (regression 5de195060b2e, fixed by 8ec396d05d1b in 6.12.9 and 6.13)',
    },
    probe: () =>
      withMemfd(C.MFD_ALLOW_SEALING, (fd) => {
        const failed =
          step(native.fallocate(fd, 0, 0, C.PAGE_SIZE), 'fallocate of one page') ??
          step(native.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_WRITE), 'F_ADD_SEALS(F_SEAL_WRITE)')
        if (failed) return failed
        const r = native.raw.mmap(C.PAGE_SIZE, C.PROT_READ, C.MAP_SHARED, fd, 0)
        if (typeof r === 'number') return { ret: r }
        native.raw.munmap(r, 0, C.PAGE_SIZE)
        return { ret: 0 }
      }),
  },
  pkeys: {
    since: '4.9',
    syscall: 'pkey_mprotect',
    canaryArgs: [C.PROT_READ, 0],
    readsOnly: true,
    config: () => {
      const flags = /^flags\s*:(.*)$/m.exec(readText('/proc/cpuinfo') ?? '')?.[1] ?? ''
      return /\bpku\b/.test(flags) && /\bospke\b/.test(flags) ? null : 'the CPU or kernel has no memory protection keys (no pku/ospke in /proc/cpuinfo)'
    },
    // Decided by the CPU flags above: the probe only fails when they are missing.
    probe: () => {
      const flags = /^flags\s*:(.*)$/m.exec(readText('/proc/cpuinfo') ?? '')?.[1] ?? ''
      return { ret: /\bpku\b/.test(flags) && /\bospke\b/.test(flags) ? 0 : -38 /* ENOSYS */ }
    },
  },
  ioUring: {
    since: '5.1',
    syscall: 'io_uring_setup',
    canaryArgs: [],
    config: (errno) => {
      const disabled = Number(readText('/proc/sys/kernel/io_uring_disabled')?.trim() ?? '0')
      if (errno === 'EPERM' && disabled > 0) return `io_uring is disabled here (kernel.io_uring_disabled = ${disabled})`
      return errno === 'ENOSYS' ? 'io_uring_setup(2) answers ENOSYS: the kernel was built without CONFIG_IO_URING' : null
    },
    probe: () =>
      withAnonPage(C.PROT_READ | C.PROT_WRITE, (r) => {
        const ring = native.raw.pinPages(r, 0, C.PAGE_SIZE)
        return { ret: ring < 0 ? ring : native.raw.unpinPages(ring) }
      }),
  },
  memfdNoexecSysctl: {
    since: '6.3',
    syscall: 'openat',
    canaryArgs: [0],
    readsOnly: true,
    config: () => (existsSync('/proc/sys/vm') ? null : 'there is no /proc/sys/vm here (the kernel was built without CONFIG_SYSCTL, or /proc/sys is hidden)'),
    probe: () => ({ ret: existsSync('/proc/sys/vm/memfd_noexec') ? 0 : -2 /* ENOENT */ }),
  },
}

/** A memfd that can be sealed gets one seal: the probe of F_SEAL_FUTURE_WRITE and F_SEAL_EXEC. */
function sealProbe(seal: number): ProbeResult {
  const fd = native.memfdCreate('memseal-feature', C.MFD_ALLOW_SEALING | C.MFD_CLOEXEC)
  if (fd < 0) return { ret: fd, failedStep: 'memfd_create(MFD_ALLOW_SEALING)' }
  try {
    return { ret: native.fcntl(fd, C.F_ADD_SEALS, seal) }
  } finally {
    native.close(fd)
  }
}

/** The system call each feature's probe makes: what a seccomp profile would have to allow. */
export const FEATURE_SYSCALL = Object.fromEntries(Object.entries(SPECS).map(([name, spec]) => [name, spec.syscall])) as Record<FeatureName, string>

/** Version of Linux that brought each feature (the table above). */
export const FEATURE_SINCE = Object.fromEntries(Object.entries(SPECS).map(([name, spec]) => [name, spec.since])) as Record<FeatureName, string>

/** Judges one probe by the rules at the top of this file. */
export function judgeFeature(name: FeatureName, result: ProbeResult, version: KernelVersion, release: string, seccompMode: number): FeatureProbe {
  const spec = SPECS[name]
  const since = spec.since
  if (result.failedStep) {
    const errno = errnoName(result.ret)
    return { ok: false, state: 'unknown', since, errno, reason: `the probe could not look: its own step (${result.failedStep}) failed with ${errno}` }
  }
  if (result.ret >= 0) return { ok: true, state: 'present', since }
  const errno = errnoName(result.ret)
  if (seccompMode === 2 && !spec.readsOnly) {
    const evidence = filterEvidence(spec.syscall, spec.canaryArgs, version)
    if (evidence)
      return {
        ok: false,
        state: 'blocked',
        since,
        errno,
        blockedBy: 'seccomp',
        reason: `blocked by a seccomp filter: the probe got ${errno}, and ${evidenceText(evidence)}`,
      }
  }
  if (compareVersions(version, parseVersion(since)) < 0) {
    return {
      ok: false,
      state: 'absent',
      absentBy: 'version',
      since,
      errno,
      reason: `not in this kernel (probe: ${errno}): it arrived in Linux ${since}; this kernel is ${release}`,
    }
  }
  if (spec.absentIn && inRange(version, spec.absentIn.range))
    return { ok: false, state: 'absent', since, errno, reason: `not in this kernel (probe: ${errno}): ${spec.absentIn.why}` }
  const config = spec.config?.(errno) ?? null
  // ENOSYS or EPERM from a config-dependent call cannot be told apart from a filter's by its canary: say both.
  const orFilter = seccompMode === 2 ? `, or a seccomp filter answers ${spec.syscall} (one is active)` : ''
  if (config !== null)
    return { ok: false, state: 'absent', absentBy: 'config', since, errno, reason: `not in this kernel (probe: ${errno}): ${config}${orFilter}` }
  const filter = seccompMode === 2 ? `; a seccomp filter is active, but the canary of ${spec.syscall} shows that it lets the call through` : ''
  return {
    ok: false,
    state: 'missing',
    since,
    errno,
    reason: `missing: Linux ${release} should have it (it arrived in ${since}), but the probe got ${errno}${filter}. Its clauses run and show what the kernel does`,
  }
}

let cached: Features | undefined

/**
 * Probes what this kernel can do. Nothing it does leaves a trace: no seal on address space (mseal is
 * probed with a zero length, which seals nothing), every fd and mapping is released.
 */
export function probeFeatures(version: KernelVersion, release: string, hugetlbSizes: () => number[]): Features {
  if (cached) return { ...cached, probes: { ...cached.probes } }
  const mode = seccompStatus().mode
  const probes = {} as Record<FeatureName, FeatureProbe>
  for (const name of Object.keys(SPECS) as FeatureName[]) probes[name] = judgeFeature(name, SPECS[name].probe(), version, release, mode)
  const flags = Object.fromEntries(Object.entries(probes).map(([k, v]) => [k, v.ok])) as Record<FeatureName, boolean>
  cached = { ...flags, hugetlbSizes: probes.hugetlb.ok ? hugetlbSizes() : [], probes }
  return probeFeatures(version, release, hugetlbSizes)
}

/** Whether clauses that need this feature run: everything but `absent` and `blocked`. */
export function featureRuns(probe: FeatureProbe): boolean {
  return probe.state !== 'absent' && probe.state !== 'blocked'
}
