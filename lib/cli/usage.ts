/**
 * Usage errors: one line that says what is wrong, with a suggestion where a name looks misspelt, and a
 * pointer to the help of the command it concerns, never the whole help (that hides the one line that
 * matters). Shared by every command, the matrix included.
 */

/** A command line that cannot be run. `command` is the subcommand it concerns ('check'), if any. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
    /** An option this command does not have, for the "it belongs to another command" hint. */
    readonly unknownOption?: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

/** The two lines a usage error prints: what is wrong, and where the help is. */
export function usageErrorText(err: UsageError, program = 'memseal'): string {
  const who = err.command ? `${program} ${err.command}` : program
  return `${who}: ${err.message}\nTry '${who} --help' for more information.\n`
}

/** Edit distance with adjacent transpositions counted as one edit ('chekc' is one edit from 'check'). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  const at = (i: number, j: number): number => d[i]![j]!
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      d[i]![j] = best
    }
  }
  return at(a.length, b.length)
}

/**
 * The candidate `input` most likely meant: the only one it is a prefix of ('mat' → 'matrix'), or the
 * nearest within one edit per three characters (at least one). Undefined when nothing is close enough.
 */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  if (input.length === 0) return undefined
  const prefixed = candidates.filter((c) => c.startsWith(input) && c !== input)
  if (prefixed.length === 1 && input.replace(/^-+/, '').length >= 2) return prefixed[0]
  const limit = Math.max(1, Math.floor(input.replace(/^-+/, '').length / 3))
  let best: { name: string; distance: number } | undefined
  for (const name of candidates) {
    const distance = editDistance(input, name)
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name, distance }
  }
  return best?.name
}

/** ' (did you mean X?)', or nothing. */
export function suggestion(input: string, candidates: readonly string[]): string {
  const near = didYouMean(input, candidates)
  return near === undefined ? '' : ` (did you mean ${near}?)`
}
