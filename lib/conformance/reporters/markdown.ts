/**
 * Markdown for READMEs and the kernel matrix: a table per area, then the places where the documentation
 * and the kernel disagree, with both texts and what this kernel did.
 */
import { byArea, environmentText, STATUSES, type Report } from '../report'
import type { ClauseResult, Status } from '../types'
import { PASS_LISTED } from './text'

const BADGE: Record<Status, string> = { pass: '✅ pass', diverges: '❌ diverges', known: '⚠️ known', skip: '⏭️ skip', broken: '💥 broken' }

/** Table cells: pipes escaped, line breaks flattened. */
function cell(text: string | null | undefined): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

const code = (text: string | null): string => (text ? `\`${text.replace(/`/g, "'")}\`` : '')

function note(r: ClauseResult): string {
  if (r.status === 'known' && r.known) return `${r.known.behaviour} (${r.known.ref})`
  return r.reason ?? ''
}

export function formatMarkdown(report: Report): string {
  const s = report.summary
  const lines = [
    `## memseal conformance: Linux ${report.kernel.release} (${report.kernel.machine})`,
    '',
    `Environment: ${cell(environmentText(report.environment))}`,
    '',
    `**Totals:** ${STATUSES.map((st) => `${st} ${s[st]}`).join(' · ')} (${s.total} clauses, ${(s.durationMs / 1000).toFixed(2)} s)`,
  ]
  for (const [area, results] of byArea(report.results)) {
    lines.push('', `### ${area}`, '', '| status | clause | statement | expected | observed | note |', '|---|---|---|---|---|---|')
    for (const r of results) {
      const shown = r.status !== 'pass' && r.status !== 'skip'
      lines.push(
        `| ${BADGE[r.status]} | \`${r.id}\` | ${cell(r.statement)} | ${cell(shown ? code(r.expected) : '')} | ${cell(shown ? code(r.observed) : '')} | ${cell(note(r))} |`,
      )
    }
  }
  if (report.divergences.length > 0) {
    lines.push('', '### Documentation vs kernel')
    for (const d of report.divergences) {
      lines.push(
        '',
        `#### \`${d.id}\`: ${BADGE[d.status]}`,
        '',
        `- **Statement:** ${d.statement}`,
        `- **Documentation:** ${d.doc}`,
        `- **Kernel:** ${d.kernel}`,
        `- **Observed here:** ${d.observed ? code(d.observed) : `not run${d.reason ? `: ${d.reason}` : ''}`}`,
        ...(d.status === 'pass' ? [`- **Why listed:** ${PASS_LISTED}`] : []),
      )
    }
  }
  return `${lines.join('\n')}\n`
}
