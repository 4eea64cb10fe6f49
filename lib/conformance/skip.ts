/**
 * Why a clause cannot say anything here. A skip never runs the clause and always names its reason: the
 * Linux version that brought a feature, a seccomp filter that blocks a call the kernel has (told apart
 * from absence by the feature probe, which makes a call that must succeed), or a privilege or resource
 * the machine lacks, with how to provide it.
 */
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs'
import type { FeatureName, FeatureProbe, HugetlbPool } from '../kernel'
import { seccompAdvice, type ContainerEngine } from '../kernel/container'
import type { Clause, KernelFacts, Need } from './types'

/** The system call a feature probe makes: what a seccomp profile would have to allow. */
const PROBED_SYSCALL: Record<FeatureName, string> = {
  memfd: 'memfd_create',
  allowSealing: 'memfd_create',
  hugetlb: 'memfd_create',
  futureWrite: 'fcntl',
  noexecSeal: 'memfd_create',
  mfdExec: 'memfd_create',
  sealExec: 'fcntl',
  mseal: 'mseal',
  guardInstall: 'madvise',
  roSharedAfterWriteSeal: 'mmap',
  pkeys: 'pkey_mprotect',
  ioUring: 'io_uring_setup',
  memfdNoexecSysctl: 'open',
}

function isFeature(need: Need, facts: KernelFacts): need is FeatureName {
  return Object.prototype.hasOwnProperty.call(facts.features.probes, need)
}

/** How to lift a seccomp block: the container engine's own words, or the filter our parent installed. */
function liftAdvice(syscall: string, facts: KernelFacts): string {
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
    return `${name}: ${text}; ${liftAdvice(PROBED_SYSCALL[name], facts)}`
  }
  return `${name}: ${base}`
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

interface PidnsAnswer {
  ok: boolean
  reason?: string
}

/**
 * Whether a private pid namespace can be made here, from lib/conformance/pidns.ts. Loaded lazily: the
 * module spawns processes to find out, and only clauses that need it should pay for that.
 */
let pidnsCache: PidnsAnswer | undefined
function pidnsAvailability(): PidnsAnswer {
  if (pidnsCache) return pidnsCache
  let answer: PidnsAnswer
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    const mod = require('./pidns') as { pidnsAvailable?: () => unknown }
    const raw = mod.pidnsAvailable?.()
    if (typeof raw === 'boolean')
      answer = raw ? { ok: true } : { ok: false, reason: 'cannot create a private pid namespace here (unshare(CLONE_NEWPID) refused)' }
    else if (raw && typeof raw === 'object' && 'ok' in raw) answer = raw as PidnsAnswer
    else answer = { ok: false, reason: 'the pid namespace probe gave no answer' }
  } catch (err) {
    answer = { ok: false, reason: `the pid namespace probe is unavailable (${(err as Error).message.split('\n')[0]})` }
  }
  pidnsCache = answer
  return answer
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

function needReason(need: Need, facts: KernelFacts): string | null {
  if (isFeature(need, facts)) {
    const probe = facts.features.probes[need]
    return probe.ok ? null : featureReason(need, probe, facts)
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
      return a.ok ? null : `needs a private pid namespace: ${a.reason ?? 'not available here'}`
    }
    case 'x86_64':
      return facts.machine === 'x86_64' ? null : `x86-64 only; this machine is ${facts.machine}`
    case 'kmsg':
      return kmsgReason(facts)
    case 'sysctlWritable':
      return sysctlReason(facts)
    default:
      return `unknown need '${need as string}'`
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
