/**
 * The kernels that lack a fix, as a history range no wider than the evidence: every release from the one
 * that brought the behaviour up to the mainline release that fixed it, minus the stable branches that took
 * the fix from the point release that did. A stable branch known to have taken the fix at a point release
 * nobody here can name keeps only its first release (x.y.0, which is mainline's): a later release of that
 * branch that shows the old behaviour then reads `diverges`, not `known`, as it may be a regression.
 */
import { compareVersions, parseVersion } from '../../kernel/version'

export interface Fix {
  /** The release that brought the behaviour (the range starts there). */
  since: string
  /** The mainline release with the fix. */
  mainline: string
  /** Stable branch ('6.12') → its first point release with the fix ('6.12.93'). */
  stable?: Record<string, string>
  /** Stable branches that took the fix at a point release that is not known. */
  unknown?: string[]
}

type Interval = [number[], number[]]

const text = (v: readonly number[]): string => v.join('.')

/** The branch after `branch` as an upper bound ('5.4' → 5.5; 5.19 → 5.20, which no release reaches either). */
function nextBranch(branch: string): number[] {
  const [major, minor] = parseVersion(branch)
  return [major, minor + 1, 0]
}

/** [from, to) minus [cutFrom, cutTo): zero, one or two intervals. */
function subtract([from, to]: Interval, [cutFrom, cutTo]: Interval): Interval[] {
  if (compareVersions(cutTo, from) <= 0 || compareVersions(cutFrom, to) >= 0) return [[from, to]]
  const out: Interval[] = []
  if (compareVersions(from, cutFrom) < 0) out.push([from, cutFrom])
  if (compareVersions(cutTo, to) < 0) out.push([cutTo, to])
  return out
}

/** The range of kernels without the fix: '>=6.3 <6.12.93 || >=6.13 <6.18.35 || …'. */
export function unfixed(fix: Fix): string {
  const cuts: Interval[] = [
    ...Object.entries(fix.stable ?? {}).map(([branch, first]): Interval => [parseVersion(first), nextBranch(branch)]),
    ...(fix.unknown ?? []).map((branch): Interval => [[...parseVersion(branch).slice(0, 2), 1], nextBranch(branch)]),
  ]
  let intervals: Interval[] = [[parseVersion(fix.since), parseVersion(fix.mainline)]]
  for (const cut of cuts) intervals = intervals.flatMap((i) => subtract(i, cut))
  return intervals.map(([from, to]) => `>=${text(from)} <${text(to)}`).join(' || ')
}
