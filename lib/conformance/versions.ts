/**
 * Kernel version ranges in history records: space-separated comparators ('>=6.12 <6.12.9'), alternatives
 * joined by '||', and '*' for every version. Versions are compared as [major, minor, patch].
 */
import { compareVersions, parseVersion } from '../kernel'

function satisfiesComparator(version: readonly number[], comparator: string): boolean {
  const m = /^(<=|>=|<|>|=)?(\d+(?:\.\d+){0,2})$/.exec(comparator)
  if (!m) throw new Error(`bad version comparator '${comparator}'`)
  const d = compareVersions(version, parseVersion(m[2]!))
  switch (m[1] ?? '=') {
    case '<':
      return d < 0
    case '<=':
      return d <= 0
    case '>':
      return d > 0
    case '>=':
      return d >= 0
    default:
      return d === 0
  }
}

export function inRange(version: readonly number[], range: string): boolean {
  return range.split('||').some((alternative) => {
    const parts = alternative.trim().split(/\s+/).filter(Boolean)
    return parts.length === 0 || parts.every((p) => p === '*' || satisfiesComparator(version, p))
  })
}

/** Throws on a malformed range, so a typo in a clause's history fails the catalog test, not a user run. */
export function validateRange(range: string): void {
  inRange([0, 0, 0], range)
}
