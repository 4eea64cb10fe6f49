/**
 * JUnit XML for CI systems: one <testsuite> per area, one <testcase> per clause. `diverges` is a
 * <failure>, `broken` an <error>, `skip` is <skipped> with its reason, `known` passes with a note in
 * <system-out> (and is a <failure> under --strict).
 */
import { byArea, environmentText, type Report } from '../report'
import type { ClauseResult } from '../types'

function escapeXml(text: string): string {
  // Characters XML 1.0 cannot carry at all are dropped; the five specials are escaped.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const unrepresentable = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g
  return text.replace(unrepresentable, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
}

const seconds = (ms: number): string => (ms / 1000).toFixed(6)

function detail(r: ClauseResult): string {
  return [
    r.statement,
    `source: ${r.source}`,
    `expected: ${r.expected ?? '—'}`,
    `observed: ${r.observed ?? '—'}`,
    ...(r.reason ? [`reason: ${r.reason}`] : []),
    ...(r.known ? [`known: ${r.known.behaviour} (${r.known.ref})`] : []),
  ].join('\n')
}

function testcase(r: ClauseResult, strict: boolean): string {
  const open = `    <testcase classname="memseal.${r.area}" name="${escapeXml(r.id)}" time="${seconds(r.durationMs)}"`
  const vs = `expected ${r.expected ?? '—'}, observed ${r.observed ?? '—'}`
  switch (r.status) {
    case 'pass':
      return `${open}/>`
    case 'skip':
      return `${open}>\n      <skipped message="${escapeXml(r.reason ?? '')}"/>\n    </testcase>`
    case 'diverges':
      return `${open}>\n      <failure type="diverges" message="${escapeXml(vs)}">${escapeXml(detail(r))}</failure>\n    </testcase>`
    case 'broken':
      return `${open}>\n      <error type="broken" message="${escapeXml(r.reason ?? 'broken')}">${escapeXml(detail(r))}</error>\n    </testcase>`
    case 'known':
      return strict
        ? `${open}>\n      <failure type="known" message="${escapeXml(`known divergence (--strict): ${vs}`)}">${escapeXml(detail(r))}</failure>\n    </testcase>`
        : `${open}>\n      <system-out>${escapeXml(`known: ${detail(r)}`)}</system-out>\n    </testcase>`
  }
}

export function formatJunit(report: Report, options: { strict?: boolean } = {}): string {
  const strict = options.strict ?? false
  const count = (rs: readonly ClauseResult[]) => ({
    tests: rs.length,
    failures: rs.filter((r) => r.status === 'diverges' || (strict && r.status === 'known')).length,
    errors: rs.filter((r) => r.status === 'broken').length,
    skipped: rs.filter((r) => r.status === 'skip').length,
    time: seconds(rs.reduce((t, r) => t + r.durationMs, 0)),
  })
  const attrs = (c: ReturnType<typeof count>) => `tests="${c.tests}" failures="${c.failures}" errors="${c.errors}" skipped="${c.skipped}" time="${c.time}"`
  const properties = [
    ['kernel.release', report.kernel.release],
    ['kernel.machine', report.kernel.machine],
    ['environment', environmentText(report.environment)],
    ['memseal.version', report.tool.version],
  ]
    .map(([name, value]) => `      <property name="${name}" value="${escapeXml(value!)}"/>`)
    .join('\n')
  const suites = byArea(report.results).map(([area, rs]) =>
    [
      `  <testsuite name="memseal.${area}" ${attrs(count(rs))}>`,
      `    <properties>\n${properties}\n    </properties>`,
      ...rs.map((r) => testcase(r, strict)),
      '  </testsuite>',
    ].join('\n'),
  )
  const all = count(report.results)
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="memseal ${escapeXml(report.kernel.release)}" ${attrs({ ...all, time: seconds(report.summary.durationMs) })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n')
}
