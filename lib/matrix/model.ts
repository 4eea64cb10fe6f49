/**
 * What a matrix report says, whatever made it (one `memseal matrix` run, or `memseal report merge` of
 * per-kernel and per-host reports): the clauses whose outcome really differs between kernels that ran
 * them, apart from clauses a kernel skipped because the feature arrived later (grouped per feature),
 * skips for reasons of the environment, the kernels without a report, and one verdict. Every renderer
 * (terminal, Markdown, HTML, KTAP) reads this rather than deciding again.
 */
import { type ClauseStatus, type GuestReport, type GuestResult, type KernelRun, type MatrixReport } from './types'

export interface OutcomeGroup {
  status: ClauseStatus
  /** Column labels with this outcome, in column order. */
  kernels: string[]
  /** The observations, when they differ within the group they are listed each once. */
  observed: string[]
}

/** A clause two kernels both ran and answered with different outcomes. */
export interface BehaviourDifference {
  id: string
  area: string
  statement: string | null
  outcomes: OutcomeGroup[]
}

/** Clauses skipped on some kernels because the feature they need arrived in a later version. */
export interface AbsenceGroup {
  feature: string
  /** The version that brought it, when the skips name one. */
  since: string | null
  kernels: string[]
  clauses: string[]
}

/** Clauses skipped for a reason of the environment (privileges, pools, seccomp), per reason. */
export interface SkipGroup {
  reason: string
  kernels: string[]
  clauses: string[]
}

export interface Verdict {
  passed: boolean
  /** One line: what passed or what failed. */
  text: string
}

export interface Analysis {
  behaviour: BehaviourDifference[]
  absence: AbsenceGroup[]
  environment: SkipGroup[]
  failed: Array<{ label: string; status: string; error: string | null }>
  verdict: Verdict
}

/** A result's value as text (reports carry strings; older or foreign ones may carry objects). */
export function text(value: unknown): string {
  if (value === null || value === undefined) return ''
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** `[6, 1, 0]` ≥ `6.10`? */
function atLeast(version: number[] | null, since: string): boolean | null {
  if (!version) return null
  const want = since.split('.').map(Number)
  for (let i = 0; i < Math.max(want.length, 2); i++) {
    const a = version[i] ?? 0
    const b = want[i] ?? 0
    if (a !== b) return a > b
  }
  return true
}

/**
 * Whether a skip is a feature's absence, and which feature and version: the skip names the version
 * that brought the feature ("… it arrived in Linux 6.10"), or the result says `since` and the kernel
 * is older. A skip that a seccomp filter explains is never an absence.
 */
export function absenceOf(r: GuestResult, kernel: KernelRun): { feature: string; since: string | null } | null {
  if (r.status !== 'skip') return null
  const reason = text(r.reason)
  if (/seccomp/i.test(reason)) return null
  const feature = /^([A-Za-z][\w.-]*): /.exec(reason)?.[1] ?? r.area
  const named = /arrived in (?:Linux )?(\d+\.\d+)/.exec(reason)?.[1]
  if (named) return { feature, since: named }
  const since = typeof r.since === 'string' && /^\d+\.\d+/.test(r.since) ? r.since : null
  if (since && atLeast(kernel.version, since) === false) return { feature, since }
  if (/not supported by this kernel|does not exist/.test(reason)) return { feature, since: null }
  return null
}

/** An environment skip's reason without what names one kernel, so equal reasons group. */
function skipKey(reason: string): string {
  return reason
    .replace(/;?\s*this kernel is \S+/g, '')
    .replace(/\s+/g, ' ')
    .trim()
}

function resultMap(k: KernelRun): Map<string, GuestResult> {
  return new Map((k.report?.results ?? []).map((r) => [r.id, r]))
}

function listKey(labels: string[]): string {
  return labels.join('\u0000')
}

/** Reads the whole matrix once and says what differs, what is absent, and whether it passed. */
export function analyse(m: MatrixReport, options: { strict?: boolean } = {}): Analysis {
  const reported = m.kernels.filter((k) => k.report)
  const maps = new Map(reported.map((k) => [k.label, resultMap(k)]))
  const behaviour: BehaviourDifference[] = []
  const absence = new Map<string, AbsenceGroup>()
  const environment = new Map<string, SkipGroup>()

  for (const id of m.clauses) {
    const ran: Array<{ k: KernelRun; r: GuestResult }> = []
    const absentOn = new Map<string, { feature: string; since: string | null; labels: string[] }>()
    const skippedFor = new Map<string, string[]>()
    for (const k of reported) {
      const r = maps.get(k.label)!.get(id)
      if (!r) continue
      if (r.status !== 'skip') {
        ran.push({ k, r })
        continue
      }
      const absent = absenceOf(r, k)
      if (absent) {
        const key = `${absent.feature}\u0000${absent.since ?? ''}`
        const entry = absentOn.get(key) ?? { ...absent, labels: [] }
        entry.labels.push(k.label)
        absentOn.set(key, entry)
      } else {
        const key = skipKey(text(r.reason))
        skippedFor.set(key, [...(skippedFor.get(key) ?? []), k.label])
      }
    }
    const statuses = new Set(ran.map((x) => x.r.status))
    if (statuses.size > 1) {
      const groups: OutcomeGroup[] = []
      for (const { k, r } of ran) {
        let g = groups.find((x) => x.status === r.status)
        if (!g) groups.push((g = { status: r.status, kernels: [], observed: [] }))
        g.kernels.push(k.label)
        const obs = text(r.observed)
        if (obs && !g.observed.includes(obs)) g.observed.push(obs)
      }
      const first = ran[0]!.r
      behaviour.push({ id, area: first.area, statement: first.statement ?? null, outcomes: groups })
    }
    for (const a of absentOn.values()) {
      const key = `${a.feature}\u0000${a.since ?? ''}\u0000${listKey(a.labels)}`
      const g = absence.get(key) ?? { feature: a.feature, since: a.since, kernels: a.labels, clauses: [] }
      g.clauses.push(id)
      absence.set(key, g)
    }
    for (const [reason, labels] of skippedFor) {
      const key = `${reason}\u0000${listKey(labels)}`
      const g = environment.get(key) ?? { reason, kernels: labels, clauses: [] }
      g.clauses.push(id)
      environment.set(key, g)
    }
  }

  const failed = m.kernels.filter((k) => k.status !== 'ok').map((k) => ({ label: k.label, status: k.status, error: k.error }))
  return {
    behaviour,
    absence: [...absence.values()].sort((a, b) => b.clauses.length - a.clauses.length),
    environment: [...environment.values()].sort((a, b) => b.clauses.length - a.clauses.length),
    failed,
    verdict: verdict(m, failed, options.strict ?? false),
  }
}

function verdict(m: MatrixReport, failed: Analysis['failed'], strict: boolean): Verdict {
  const bad: string[] = []
  let diverges = 0
  let broken = 0
  let known = 0
  for (const k of m.kernels) {
    for (const r of k.report?.results ?? []) {
      if (r.status === 'diverges') diverges++
      else if (r.status === 'broken') broken++
      else if (r.status === 'known') known++
    }
  }
  if (failed.length > 0)
    bad.push(`${failed.length} of ${m.kernels.length} kernels without a report (${failed.map((f) => `${f.label}: ${f.status}`).join(', ')})`)
  if (diverges > 0) bad.push(`${diverges} clause results diverge`)
  if (broken > 0) bad.push(`${broken} broken`)
  if (strict && known > 0) bad.push(`${known} known (--strict)`)
  const reported = m.kernels.length - failed.length
  if (bad.length > 0) return { passed: false, text: `FAIL: ${bad.join('; ')}` }
  if (m.kernels.length === 0) return { passed: false, text: 'FAIL: no kernel in the report' }
  return { passed: true, text: `PASS: ${reported} kernel${reported === 1 ? '' : 's'} reported; nothing diverges or is broken` }
}

/** `a`, `a and b`, `a, b and c`. */
export function andList(items: string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]!}`
}

/** "mseal: 133 clauses skipped on 5.10 and 6.1, arrived in 6.10". */
export function absenceLine(g: AbsenceGroup): string {
  const n = g.clauses.length
  return `${g.feature}: ${n} clause${n === 1 ? '' : 's'} skipped on ${andList(g.kernels)}${g.since ? `, arrived in ${g.since}` : ', absent there'}`
}

/** Totals of one column. */
export function totals(k: KernelRun): Record<ClauseStatus, number> {
  const t: Record<ClauseStatus, number> = { pass: 0, diverges: 0, known: 0, skip: 0, broken: 0 }
  for (const r of k.report?.results ?? []) t[r.status]++
  return t
}

/** An environment value in a few words: objects as `key value` pairs, lists joined, no JSON. */
export function envValue(v: unknown): string {
  if (v === null || v === undefined) return '–'
  if (Array.isArray(v)) return v.length === 0 ? 'none' : v.map(envValue).join('; ')
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>
    if (typeof o.pageSize === 'number' && typeof o.total === 'number') {
      const size = o.pageSize >= 1 << 30 ? `${o.pageSize / (1 << 30)} GiB` : `${o.pageSize / (1 << 20)} MiB`
      return `${size} pages ${String(o.free)}/${o.total} free`
    }
    return Object.entries(o)
      .map(([k, x]) => `${k} ${envValue(x)}`)
      .join(', ')
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** `6.1.0-44-amd64` → [6, 1, 0]. */
function versionOf(release: string): number[] | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release)
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null
}

/** One column made from a `memseal check --json` report (a real machine, a container, a guest). */
export function columnFromCheck(report: GuestReport, label: string, source?: string): KernelRun {
  const durationMs = typeof report.summary?.durationMs === 'number' ? report.summary.durationMs : null
  return {
    spec: label,
    label,
    status: 'ok',
    release: report.kernel.release,
    version: report.kernel.version ?? versionOf(report.kernel.release),
    accel: null,
    packages: [],
    timing: { fetchMs: 0, prepareMs: 0, bootMs: null, runMs: durationMs, totalMs: durationMs ?? 0 },
    error: null,
    consoleTail: null,
    environment: report.environment ?? null,
    report,
    ...(source ? { source } : {}),
  }
}

/** A matrix of one column: how `check --html` and `check --ktap` share the matrix renderers. */
export function matrixFromCheck(report: GuestReport, label = 'this machine'): MatrixReport {
  const column = columnFromCheck(report, label)
  return {
    tool: { name: 'memseal', command: 'check', version: report.tool?.version },
    createdAt: new Date().toISOString(),
    host: { release: report.kernel.release, machine: report.kernel.machine ?? '' },
    accel: { requested: 'none', used: 'none', reason: 'the suite ran on this machine' },
    durationMs: column.timing.totalMs,
    kernels: [column],
    clauses: report.results.map((r) => r.id),
  }
}
