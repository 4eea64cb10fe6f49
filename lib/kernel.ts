/**
 * What this kernel is and what it can do. Features are probed with real calls, not guessed from the
 * version (stable kernels carry backports), and a call that a seccomp filter blocks is told apart from
 * a feature the kernel lacks.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { machine, release } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { detectContainer, INITIAL_PID_NAMESPACE_INODE, pidNamespaceInode, seccompStatus } from './kernel/container'
import { constants as C } from './native'
import { probeFeatures, type Features } from './kernel/features'
import { compareVersions, parseVersion } from './kernel/version'

export type { KernelVersion } from './kernel/version'
export { compareVersions, parseVersion } from './kernel/version'
export type { FeatureName, FeatureProbe, FeatureState, Features } from './kernel/features'

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
  /** Where the kernel's build configuration was read from, or null where it cannot be read. */
  kernelConfig: string | null
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
  /** The kernel's build configuration, where it can be read. */
  config,
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
    kernelConfig: config().source,
  }
  return { ...cachedEnvironment }
}

/** Probes what this kernel can do (lib/kernel/features.ts): probed once, judged by version. */
function features(): Features {
  return probeFeatures(kernel.version, kernel.release, () => hugetlbPools().map((pool) => pool.pageSize))
}

let cachedConfig: { source: string | null; options: Record<string, string> | null } | undefined

/**
 * The kernel's build configuration, from /proc/config.gz (CONFIG_IKCONFIG_PROC) or the distribution's
 * copy beside the kernel (/boot/config-RELEASE, /lib/modules/RELEASE/config); null options where none
 * can be read (the usual case in containers).
 */
function config(): { source: string | null; options: Record<string, string> | null } {
  if (cachedConfig) return cachedConfig
  const candidates: Array<[string, (b: Buffer) => string]> = [
    ['/proc/config.gz', (b) => gunzipSync(b).toString('utf8')],
    [`/boot/config-${kernel.release}`, (b) => b.toString('utf8')],
    [`/lib/modules/${kernel.release}/config`, (b) => b.toString('utf8')],
  ]
  for (const [path, decode] of candidates) {
    try {
      const options: Record<string, string> = {}
      for (const m of decode(readFileSync(path)).matchAll(/^(CONFIG_\w+)=(.*)$/gm)) options[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1')
      cachedConfig = { source: path, options }
      return cachedConfig
    } catch {
      // not here: try the next place
    }
  }
  cachedConfig = { source: null, options: null }
  return cachedConfig
}
