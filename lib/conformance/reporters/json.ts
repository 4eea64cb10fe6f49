/** The JSON report: DESIGN.md's contract, printed as the report object itself. */
import type { Report } from '../report'

export function formatJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`
}
