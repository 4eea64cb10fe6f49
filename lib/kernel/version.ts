/** Linux versions as [major, minor, patch], from `uname -r` text. */
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

/**
 * Whether a version is in a range: space-separated comparators ('>=6.12 <6.12.9'), alternatives joined
 * by '||' ('<6.7 || >=6.12 <6.12.9'), '*' for every version.
 */
export function inRange(version: readonly number[], range: string): boolean {
  return range.split('||').some((alternative) => {
    const parts = alternative.trim().split(/\s+/).filter(Boolean)
    return parts.length === 0 || parts.every((p) => p === '*' || satisfiesComparator(version, p))
  })
}
