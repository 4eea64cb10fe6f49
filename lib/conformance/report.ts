/**
 * The report of one conformance run: the object that `check()` returns and `memseal check --json`
 * prints. Its shape is the stable contract of DESIGN.md (tool, kernel, environment, results, summary),
 * plus the probed features and the places where the documentation and the kernel disagree.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Environment, FeatureName, FeatureProbe, HugetlbPool, KernelVersion } from '../kernel'
import { sizeText } from './skip'
import { AREAS, type Area, type ClauseResult, type KernelFacts, type Status } from './types'

export const STATUSES: readonly Status[] = ['pass', 'diverges', 'known', 'skip', 'broken']

export interface ReportEnvironment {
  /** Seccomp mode of the process: 0 none, 1 strict, 2 filter. */
  seccomp: number
  seccompFilters: number
  /** Container engine, or null outside a container. */
  container: string | null
  /** vm.memfd_noexec as this process sees it; null where the sysctl does not exist. */
  memfdNoexec: number | null
  root: boolean
  pageSize: number
  pidNamespace: Environment['pidNamespace']
  hugetlbPools: HugetlbPool[]
}

/** One place where the documentation and the kernel disagree, with what this kernel did. */
export interface DivergenceEntry {
  id: string
  area: Area
  status: Status
  statement: string
  /** What the documentation says. */
  doc: string
  /** What the kernel does, and where in the code. */
  kernel: string
  expected: string | null
  observed: string | null
  reason: string | null
}

export type Summary = Record<Status, number> & { total: number; durationMs: number }

export interface Report {
  tool: { name: 'memseal'; version: string }
  kernel: { release: string; version: KernelVersion; machine: string }
  environment: ReportEnvironment
  features: Record<FeatureName, FeatureProbe>
  results: ClauseResult[]
  divergences: DivergenceEntry[]
  summary: Summary
}

/** The package root: two levels above this file, from lib/conformance under ts-jest or dist/conformance. */
export const PACKAGE_ROOT = join(__dirname, '..', '..')

let version: string | undefined
export function toolVersion(): string {
  if (version === undefined) {
    try {
      const v = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version
      version = typeof v === 'string' ? v : '0.0.0'
    } catch {
      version = '0.0.0'
    }
  }
  return version
}

export function reportEnvironment(env: Environment): ReportEnvironment {
  return {
    seccomp: env.seccomp,
    seccompFilters: env.seccompFilters,
    container: env.container,
    memfdNoexec: env.memfdNoexec,
    root: env.root,
    pageSize: env.pageSize,
    pidNamespace: env.pidNamespace,
    hugetlbPools: env.hugetlbPools,
  }
}

export function summarize(results: readonly ClauseResult[], durationMs: number): Summary {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>
  for (const r of results) counts[r.status]++
  return { total: results.length, ...counts, durationMs: Math.round(durationMs * 10) / 10 }
}

export function divergencesOf(results: readonly ClauseResult[]): DivergenceEntry[] {
  return results
    .filter((r) => r.divergence)
    .map((r) => ({
      id: r.id,
      area: r.area,
      status: r.status,
      statement: r.statement,
      doc: r.divergence!.doc,
      kernel: r.divergence!.kernel,
      expected: r.expected,
      observed: r.observed,
      reason: r.reason,
    }))
}

export function buildReport(facts: KernelFacts, results: ClauseResult[], durationMs: number): Report {
  return {
    tool: { name: 'memseal', version: toolVersion() },
    kernel: { release: facts.release, version: facts.version, machine: facts.machine },
    environment: reportEnvironment(facts.environment),
    features: { ...facts.features.probes },
    results,
    divergences: divergencesOf(results),
    summary: summarize(results, durationMs),
  }
}

/** Whether a result fails the run: diverges and broken always, known under --strict. */
export function isFailure(status: Status, strict = false): boolean {
  return status === 'diverges' || status === 'broken' || (strict && status === 'known')
}

/** DESIGN.md's exit status: 0 when nothing diverges or is broken (or known, under strict); 1 otherwise. */
export function exitStatus(report: Report, strict = false): 0 | 1 {
  return report.results.some((r) => isFailure(r.status, strict)) ? 1 : 0
}

/** Results grouped by area, in the catalog's area order. */
export function byArea(results: readonly ClauseResult[]): Array<[Area, ClauseResult[]]> {
  return AREAS.map((area) => [area, results.filter((r) => r.area === area)] as [Area, ClauseResult[]]).filter(([, rs]) => rs.length > 0)
}

const SECCOMP_MODES = ['none', 'strict', 'filter']

/** One line for people: the environment facts that change what the kernel is allowed to answer. */
export function environmentText(env: ReportEnvironment): string {
  const seccomp = env.seccomp === 2 ? `filter (${env.seccompFilters} stacked)` : (SECCOMP_MODES[env.seccomp] ?? String(env.seccomp))
  const pidns = env.pidNamespace.initial ? 'initial' : env.pidNamespace.depth > 0 ? `nested (depth ${env.pidNamespace.depth})` : 'private (not the initial one)'
  const pools = env.hugetlbPools.length === 0 ? 'none' : env.hugetlbPools.map((p) => `${sizeText(p.pageSize)} ${p.free}/${p.total} free`).join(', ')
  return [
    `seccomp: ${seccomp}`,
    `container: ${env.container ?? 'no'}`,
    `vm.memfd_noexec: ${env.memfdNoexec ?? 'absent'}`,
    `pid namespace: ${pidns}`,
    env.root ? 'root' : 'not root',
    `page size: ${env.pageSize}`,
    `hugetlb pools: ${pools}`,
  ].join(' · ')
}

export function totalsLine(summary: Summary): string {
  return `# Totals: ${STATUSES.map((s) => `${s}:${summary[s]}`).join(' ')}`
}
