/**
 * Kernel version ranges in history records: space-separated comparators ('>=6.12 <6.12.9'), alternatives
 * joined by '||', and '*' for every version. Versions are compared as [major, minor, patch].
 */
import { inRange } from '../kernel/version'

export { inRange }

/** Throws on a malformed range, so a typo in a clause's history fails the catalog test, not a user run. */
export function validateRange(range: string): void {
  inRange([0, 0, 0], range)
}
