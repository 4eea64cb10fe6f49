/**
 * Why a clause cannot say anything here. A skip never runs the clause and always names its reason: the
 * Linux version that brought a feature, a seccomp filter that blocks a call the kernel has (told apart
 * from absence by the feature probe, which makes a call that must succeed), or a privilege or resource
 * the machine lacks, with how to provide it.
 */
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { errnoName } from '../errors'
import type { FeatureName, FeatureProbe, HugetlbPool } from '../kernel'
import { FEATURE_SYSCALL, featureRuns } from '../kernel/features'
import { seccompAdvice, type ContainerEngine } from '../kernel/container'
import { evidenceText, filterEvidence, type FilterEvidence } from '../kernel/seccomp'
import { compareVersions, parseVersion } from '../kernel/version'
import type { Clause, KernelFacts, Need } from './types'

function isFeature(need: Need, facts: KernelFacts): need is FeatureName {
  return typeof need === 'string' && Object.prototype.hasOwnProperty.call(facts.features.probes, need)
}

/** How to lift a seccomp block: the container engine's own words, or the filter our parent installed. */
export function liftAdvice(syscall: string, facts: KernelFacts): string {
  const engine = facts.environment.container as ContainerEngine | null
  if (engine !== null) return seccompAdvice(syscall, engine)
  return (
    `this process is not in a container but inherited a seccomp filter (${facts.environment.seccompFilters || 'one or more'} ` +
    `stacked) from whatever started it; run memseal outside that filter, or have it allow ${syscall}`
  )
}

export function featureReason(name: FeatureName, probe: FeatureProbe, facts: KernelFacts): string {
  const base = probe.reason ?? `${name} is not available (probe: ${probe.errno ?? 'failed'}); it arrived in Linux ${probe.since}`
  if (probe.blockedBy === 'seccomp') {
    const text = /seccomp/.test(base) ? base : `blocked by seccomp: ${base}`
    return `${name}: ${text}; ${liftAdvice(FEATURE_SYSCALL[name], facts)}`
  }
  return `${name}: ${base}`
}

/** Why a clause whose calls a seccomp filter answered says nothing about the kernel (see lib/kernel/seccomp.ts). */
export function filteredReason(evidence: readonly FilterEvidence[], facts: KernelFacts): string {
  const what = evidence.map(evidenceText).join('; ')
  return `blocked by a seccomp filter: ${what}; ${liftAdvice(evidence[0]!.syscall, facts)}`
}

/** The default huge page size in bytes (Hugepagesize in /proc/meminfo), or null without hugetlb. */
function defaultHugePageSize(): number | null {
  try {
    const m = /^Hugepagesize:\s+(\d+)\s*kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

export function sizeText(bytes: number): string {
  if (bytes >= 1 << 30 && bytes % (1 << 30) === 0) return `${bytes / (1 << 30)} GiB`
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`
  return `${bytes / 1024} KiB`
}

/** The pool that MFD_HUGETLB without a size flag draws from. */
export function defaultPool(pools: HugetlbPool[]): HugetlbPool | undefined {
  const size = defaultHugePageSize()
  return pools.find((p) => p.pageSize === size) ?? pools[0]
}

function hugetlbPoolReason(facts: KernelFacts): string | null {
  const pools = facts.environment.hugetlbPools
  const pool = defaultPool(pools)
  if (!pool) return 'needs a hugetlb pool, but this kernel has none (/sys/kernel/mm/hugepages is empty or missing: CONFIG_HUGETLBFS is off)'
  if (pool.free > 0) return null
  const kb = pool.pageSize / 1024
  const where = facts.environment.container ? " on the host (a container shares the host's pools)" : ''
  return (
    `needs free huge pages in the default pool, but nr_hugepages=${pool.total} (free ${pool.free}) for ${sizeText(pool.pageSize)} pages; ` +
    `reserve some${where} with \`sysctl vm.nr_hugepages=4\` or \`echo 4 > /sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages\``
  )
}

/**
 * Whether a private pid namespace can be made here (./child/spawn.ts). Loaded lazily: it spawns a
 * process to find out, and only clauses that need it should pay for that.
 */
function pidnsAvailability(): { ok: boolean; reason?: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    return (require('./child/spawn') as typeof import('./child/spawn')).pidnsAvailable()
  } catch (err) {
    return { ok: false, reason: `the pid namespace probe is unavailable (${(err as Error).message.split('\n')[0]})` }
  }
}

// Opens and closes /dev/kmsg: reading the kernel log needs it (and CAP_SYSLOG where dmesg_restrict=1).
function kmsgReason(facts: KernelFacts): string | null {
  try {
    closeSync(openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK))
    return null
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const hint = facts.environment.container ? ` (in a container: --privileged, or --cap-add SYSLOG with /dev/kmsg passed in)` : ''
    return `needs to read the kernel log: /dev/kmsg cannot be opened (${code})${hint}`
  }
}

// access(W_OK) tells a read-only /proc/sys without writing anything: the host's value is never touched.
function sysctlReason(facts: KernelFacts): string | null {
  try {
    accessSync('/proc/sys/vm/memfd_noexec', constants.W_OK)
    return null
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const hint = facts.environment.container ? ' (the container mounts /proc/sys read-only: --security-opt systempaths=unconfined or --privileged)' : ''
    return `needs a writable /proc/sys/vm/memfd_noexec inside its private pid namespace: access(W_OK) gives ${code}${hint}`
  }
}

/** The answer of one of native/mseal_scenarios.cc's environment probes, asked once per process. */
const envProbes = new Map<'ia32' | 'map-zero', { forked: boolean; result: number; signal: number }>()
function envProbe(name: 'ia32' | 'map-zero'): { forked: boolean; result: number; signal: number } {
  let r = envProbes.get(name)
  if (r === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand: only clauses that need it pay for the fork
    r = (require('../native') as typeof import('../native')).native.msealEnvProbe(name)
    // A probe that could not fork learnt nothing: the clauses run, and their own fork says why it fails.
    if (r.forked) envProbes.set(name, r)
  }
  return r
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return fallback
  }
}

// int $0x80 from 64-bit code raises SIGSEGV where the kernel has no ia32 emulation: built without it, off
// by default (CONFIG_IA32_EMULATION_DEFAULT_DISABLED), or turned off with ia32_emulation= on the command line.
function ia32Reason(facts: KernelFacts): string | null {
  if (facts.machine !== 'x86_64') return `x86-64 only (the i386 system call entry of a 64-bit process); this machine is ${facts.machine}`
  const r = envProbe('ia32')
  if (!r.forked || (r.signal === 0 && r.result === 0)) return null
  const config = facts.config
  const cmdline = /(?:^|\s)(ia32_emulation=\S*)/.exec(readOr('/proc/cmdline', ''))?.[1]
  const why =
    config && config.CONFIG_IA32_EMULATION !== 'y'
      ? 'the kernel is built without CONFIG_IA32_EMULATION'
      : cmdline
        ? `the kernel command line has ${cmdline}`
        : config?.CONFIG_IA32_EMULATION_DEFAULT_DISABLED === 'y'
          ? 'CONFIG_IA32_EMULATION_DEFAULT_DISABLED=y (ia32_emulation=1 on the command line turns it on)'
          : 'the kernel runs without ia32 emulation (its configuration cannot be read here to say why)'
  const signal = Object.entries(osConstants.signals).find(([, n]) => n === r.signal)?.[0] ?? `signal ${r.signal}`
  const seen = r.signal !== 0 ? `int $0x80 raised ${signal}` : `int $0x80 getpid answered ${r.result === -71 ? 'another pid' : errnoName(r.result)}`
  return `needs the i386 system call entry of a 64-bit process, which is off here: ${seen}; ${why}`
}

// Below vm.mmap_min_addr a mapping needs CAP_SYS_RAWIO in the initial user namespace (containers drop it)
// and the LSMs' consent (SELinux: memprotect mmap_zero).
function mapZeroReason(): string | null {
  const r = envProbe('map-zero')
  if (!r.forked || (r.signal === 0 && r.result === 0)) return null
  const min = readOr('/proc/sys/vm/mmap_min_addr', '?').trim()
  const seen = r.signal !== 0 ? `its child was killed by signal ${r.signal}` : `mmap(0, MAP_FIXED_NOREPLACE) gives ${errnoName(r.result)}`
  return (
    `needs a mapping at address 0, which this environment refuses (${seen}; ` +
    `vm.mmap_min_addr = ${min}, below which a mapping needs CAP_SYS_RAWIO in the initial user namespace and the LSMs' consent)`
  )
}

function needReason(need: Need, facts: KernelFacts): string | null {
  if (typeof need === 'object' && 'builtWith' in need) {
    const probe = facts.features.probes[need.builtWith]
    return probe.state === 'absent' && probe.absentBy === 'config' ? featureReason(need.builtWith, probe, facts) : null
  }
  if (typeof need === 'object' && 'kernelConfigFrom' in need) {
    if (facts.config !== null || compareVersions(facts.version, parseVersion(need.kernelConfigFrom)) < 0) return null
    return (
      `needs the kernel's build configuration, which cannot be read here (no /proc/config.gz, /boot/config-${facts.release} or /lib/modules/${facts.release}/config` +
      `${facts.environment.container ? '; a container sees none of them unless they are mounted in' : ''})`
    )
  }
  if (typeof need === 'object') {
    const level = facts.environment.memfdNoexec
    if (level === null || level <= need.memfdNoexecAtMost) return null
    return (
      `needs vm.memfd_noexec at most ${need.memfdNoexecAtMost} here, but this pid namespace is at level ${level}; a namespace cannot go below ` +
      `its parent's level (mfd_noexec.rst: "the most restrictive setting"), so run memseal where the level is ${need.memfdNoexecAtMost}`
    )
  }
  if (isFeature(need, facts)) {
    const probe = facts.features.probes[need]
    return featureRuns(probe) ? null : featureReason(need, probe, facts)
  }
  switch (need) {
    case 'root':
      return facts.environment.root ? null : 'needs root (uid 0): run memseal as root or in a container as root'
    case 'nonRoot':
      return facts.environment.root ? 'needs an unprivileged user: run memseal as a non-root user (root bypasses the permission check under test)' : null
    case 'hugetlbPool':
      return hugetlbPoolReason(facts)
    case 'pidns': {
      const a = pidnsAvailability()
      if (a.ok) return null
      const filtered = facts.environment.seccomp === 2 ? filterEvidence('clone', [], facts.version) : null
      return `needs a private pid namespace: ${a.reason ?? 'not available here'}${filtered ? `; blocked by a seccomp filter: ${evidenceText(filtered)}` : ''}`
    }
    case 'x86_64':
      return facts.machine === 'x86_64' ? null : `x86-64 only; this machine is ${facts.machine}`
    case 'kmsg':
      return kmsgReason(facts)
    case 'ia32':
      return ia32Reason(facts)
    case 'mapZero':
      return mapZeroReason()
    case 'sysctlWritable':
      return sysctlReason(facts)
    default:
      return `unknown need '${String(need)}'`
  }
}

/** The first unmet need of a clause, as a sentence; null when the clause can run. */
export function skipReason(clause: Clause, facts: KernelFacts): string | null {
  const needs: Need[] = [...(clause.needs ?? [])]
  if (clause.isolation === 'pidns' && !needs.includes('pidns')) needs.push('pidns')
  // Features first: a call the kernel lacks or a filter blocks is the most telling reason, and it is the
  // same reason in every run of one environment whatever else is missing.
  needs.sort((a, b) => Number(!isFeature(a, facts)) - Number(!isFeature(b, facts)))
  for (const need of needs) {
    const reason = needReason(need, facts)
    if (reason !== null) return reason
  }
  return null
}
