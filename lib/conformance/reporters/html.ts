/**
 * One self-contained HTML page for a report or a matrix, to open from a CI artifact: the clause x
 * kernel grid coloured by status, filters by area, by status and to the clauses that differ, each
 * cell opening the statement, its source, expected and observed, the reason and the recorded history,
 * and each kernel's environment. Nothing is loaded from anywhere (the page forbids it in its own
 * Content-Security-Policy); the grid, the cell details (<details>) and the filters (radio buttons
 * read by CSS :has()) work without JavaScript. A few lines of script only count the rows shown and
 * close a cell's details with Escape.
 */
import { absenceLine, type Analysis, analyse, andList, envValue, matrixFromCheck, text, totals } from '../../matrix/model'
import { type CheckLikeReport, type ClauseStatus, type GuestReport, type GuestResult, type KernelRun, type MatrixReport } from '../../matrix/types'

const STATUSES: readonly ClauseStatus[] = ['pass', 'diverges', 'known', 'skip', 'broken']

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

const esc = escapeHtml

/** A class-safe token. */
function token(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_')
}

function seconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–'
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}

const CSS = `
:root { --pass:#2e7d32; --diverges:#c62828; --known:#b26a00; --skip:#546e7a; --broken:#6a1b9a; --absent:#bdbdbd; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 1.5rem 3rem; color: #1f2328; }
h1 { font-size: 1.5rem; margin: 1rem 0 .25rem; } h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
.verdict { font-weight: 700; padding: .4rem .7rem; border-radius: 6px; display: inline-block; color: #fff; }
.verdict.pass { background: var(--pass); } .verdict.fail { background: var(--diverges); }
table { border-collapse: collapse; } th, td { border: 1px solid var(--line); padding: .2rem .45rem; text-align: left; vertical-align: top; }
#kernels td.n { text-align: right; }
.st-pass { background: #e8f5e9; } .st-diverges { background: #ffebee; } .st-known { background: #fff3e0; }
.st-skip { background: #eceff1; } .st-broken { background: #f3e5f5; } .st-absent { background: #fafafa; color: #9e9e9e; }
td.cell > details > summary { cursor: pointer; font-weight: 600; list-style: none; white-space: nowrap; }
td.cell.st-pass > details > summary { color: var(--pass); } td.cell.st-diverges > details > summary { color: var(--diverges); }
td.cell.st-known > details > summary { color: var(--known); } td.cell.st-skip > details > summary { color: var(--skip); }
td.cell.st-broken > details > summary { color: var(--broken); }
td.cell > details[open] > .detail, th.clause > details[open] > .detail { position: absolute; z-index: 5; max-width: 46rem; background: #fff; border: 1px solid #8c959f;
  border-radius: 6px; padding: .6rem .8rem; box-shadow: 0 6px 24px rgba(0,0,0,.18); white-space: normal; font-weight: 400; }
.detail dt { font-weight: 600; margin-top: .3rem; } .detail dd { margin: 0 0 0 .8rem; overflow-wrap: anywhere; }
#grid thead th { position: sticky; top: 0; background: #f6f8fa; z-index: 3; }
#grid th.clause { font-weight: 400; } #grid th.clause summary { cursor: pointer; }
form#filters { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; margin: .5rem 0 1rem; }
fieldset { border: 1px solid var(--line); border-radius: 6px; padding: .3rem .6rem; }
fieldset label { margin-right: .6rem; white-space: nowrap; cursor: pointer; }
ul.compact { margin: .2rem 0; padding-left: 1.2rem; }
pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; max-height: 20rem; }
`

/** A definition list of the fields that are present. */
function dl(fields: Array<[string, string | null | undefined]>): string {
  return `<dl>${fields
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v!}</dd>`)
    .join('')}</dl>`
}

/** The recorded history of a result: the `history` entries when the report has them, the `known` behaviour otherwise. */
function historyHtml(r: GuestResult): string | null {
  const items: string[] = []
  for (const h of r.history ?? []) {
    items.push(`<li><code>${esc(text(h.range))}</code>: ${esc(text(h.behaviour))}${h.ref ? ` <small>(${esc(text(h.ref))})</small>` : ''}</li>`)
  }
  if (items.length === 0 && r.known) items.push(`<li>${esc(r.known.behaviour)} <small>(${esc(r.known.ref)})</small></li>`)
  return items.length > 0 ? `<ul class="compact">${items.join('')}</ul>` : null
}

function mirrorsHtml(r: GuestResult): string | null {
  if (!Array.isArray(r.mirrors) || r.mirrors.length === 0) return null
  return r.mirrors.map((x) => `<code>${esc(text(x))}</code>`).join(', ')
}

function cellHtml(r: GuestResult | undefined, k: KernelRun): string {
  if (!r) {
    const why = k.report ? 'this kernel has no such clause' : `no report from this kernel (${k.status})`
    return `<td class="cell st-absent" data-kernel="${esc(k.label)}" data-status="absent" title="${esc(why)}">–</td>`
  }
  const code = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : `<code>${esc(text(v))}</code>`)
  const detail = dl([
    ['kernel', esc(k.release ? `${k.label} (${k.release})` : k.label)],
    ['statement', r.statement ? esc(r.statement) : null],
    ['source', r.source ? esc(text(r.source)) : null],
    ['expected', code(r.expected)],
    ['observed', code(r.observed)],
    ['reason', r.reason ? esc(r.reason) : null],
    ['recorded history', historyHtml(r)],
    ['since', r.since ? esc(r.since) : null],
    ['documentation says', r.divergence ? esc(r.divergence.doc) : null],
    ['kernel does', r.divergence ? esc(r.divergence.kernel) : null],
    ['note', r.note ? esc(r.note) : null],
    ['basis', r.basis ? esc(r.basis) : null],
    ['mirrored by', mirrorsHtml(r)],
  ])
  return `<td class="cell st-${token(r.status)}" data-kernel="${esc(k.label)}" data-status="${esc(r.status)}"><details><summary>${esc(r.status)}</summary><div class="detail">${detail}</div></details></td>`
}

function kernelRow(k: KernelRun): string {
  const t = totals(k)
  const n = (v: number): string => `<td class="n">${k.report ? v : '–'}</td>`
  const env = Object.entries(k.environment ?? {})
  const extra: string[] = []
  if (env.length > 0) extra.push(dl(env.map(([key, v]) => [key, esc(envValue(v))])))
  if (k.packages.length > 0) extra.push(`<p>Packages: ${k.packages.map((p) => `<code>${esc(p)}</code>`).join(', ')}</p>`)
  if (k.source) extra.push(`<p>From <code>${esc(k.source)}</code></p>`)
  if (k.error) extra.push(`<p><strong>${esc(k.status)}:</strong> ${esc(k.error)}</p>`)
  if (k.consoleTail) extra.push(`<pre>${esc(k.consoleTail)}</pre>`)
  const details = extra.length > 0 ? `<details><summary>environment and details</summary>${extra.join('')}</details>` : ''
  return `<tr data-kernel="${esc(k.label)}"><th scope="row">${esc(k.label)}</th><td>${esc(k.release ?? '–')}</td><td class="st-${k.status === 'ok' ? 'pass' : 'broken'}">${esc(k.status)}</td>${n(t.pass)}${n(t.diverges)}${n(t.known)}${n(t.skip)}${n(t.broken)}<td>${esc(k.accel ?? '–')}</td><td class="n">${seconds(k.timing.bootMs)}</td><td class="n">${seconds(k.timing.runMs)}</td><td>${details}</td></tr>`
}

function radios(name: string, values: string[], label: (v: string) => string): string {
  return ['all', ...values]
    .map(
      (v) =>
        `<label><input type="radio" name="${name}" id="${name}-${token(v)}" value="${esc(v)}"${v === 'all' ? ' checked' : ''}> ${esc(v === 'all' ? 'all' : label(v))}</label>`,
    )
    .join('')
}

/** The filter rules: one per radio value, read by :has() so they work without JavaScript. */
function filterCss(areas: string[]): string {
  const rules = areas.map((a) => `body:has(#area-${token(a)}:checked) #grid tr.row:not(.a-${token(a)}) { display: none; }`)
  rules.push(...STATUSES.map((s) => `body:has(#status-${s}:checked) #grid tr.row:not(.s-${s}) { display: none; }`))
  rules.push('body:has(#differs:checked) #grid tr.row:not(.differs) { display: none; }')
  return rules.join('\n')
}

const SCRIPT = `
(() => {
  const rows = [...document.querySelectorAll('#grid tbody tr.row')]
  const out = document.getElementById('shown')
  const count = () => { out.textContent = rows.filter((r) => r.offsetParent !== null).length + ' of ' + rows.length + ' clauses shown' }
  document.getElementById('filters').addEventListener('change', count)
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') document.querySelectorAll('#grid details[open]').forEach((d) => d.removeAttribute('open')) })
  count()
})()
`

export function formatMatrixHtml(m: MatrixReport, analysis: Analysis = analyse(m)): string {
  const kernels = m.kernels
  const results = new Map(kernels.map((k) => [k.label, new Map((k.report?.results ?? []).map((r) => [r.id, r]))]))
  const differing = new Set(analysis.behaviour.map((d) => d.id))
  const areaOf = new Map<string, string>()
  const statementOf = new Map<string, { statement: string; source: string }>()
  for (const k of kernels) {
    for (const r of k.report?.results ?? []) {
      if (!areaOf.has(r.id)) areaOf.set(r.id, r.area)
      if (!statementOf.has(r.id) && r.statement) statementOf.set(r.id, { statement: r.statement, source: text(r.source) })
    }
  }
  const areas = [...new Set(m.clauses.map((id) => areaOf.get(id) ?? id.split('.')[0]!))]
  const title = m.tool.command === 'check' ? `memseal: Linux ${m.kernels[0]?.release ?? ''}` : `memseal kernel matrix: ${kernels.length} kernels`

  const rows = m.clauses.map((id) => {
    const area = areaOf.get(id) ?? id.split('.')[0]!
    const statuses = new Set(kernels.map((k) => results.get(k.label)!.get(id)?.status).filter((s): s is ClauseStatus => s !== undefined))
    const classes = ['row', `a-${token(area)}`, ...[...statuses].map((s) => `s-${s}`), ...(differing.has(id) ? ['differs'] : [])]
    const st = statementOf.get(id)
    const head = st
      ? `<details><summary><code>${esc(id)}</code></summary><div class="detail">${dl([
          ['statement', esc(st.statement)],
          ['source', esc(st.source)],
        ])}</div></details>`
      : `<code>${esc(id)}</code>`
    return `<tr class="${classes.join(' ')}" data-id="${esc(id)}" data-area="${esc(area)}"><th scope="row" class="clause">${head}</th>${kernels
      .map((k) => cellHtml(results.get(k.label)!.get(id), k))
      .join('')}</tr>`
  })

  const summary: string[] = []
  if (analysis.behaviour.length > 0) {
    summary.push(
      `<h2>Behaviour differences (${analysis.behaviour.length})</h2><p>Clauses whose outcome differs between kernels that both ran them.</p><ul class="compact">${analysis.behaviour
        .map(
          (d) => `<li><code>${esc(d.id)}</code>: ${d.outcomes.map((o) => `<strong>${esc(o.status)}</strong> on ${esc(andList(o.kernels))}`).join('; ')}</li>`,
        )
        .join('')}</ul>`,
    )
  } else if (kernels.length > 1) {
    summary.push('<h2>Behaviour differences</h2><p>None: every clause that two kernels both ran has the same outcome on both.</p>')
  }
  if (analysis.absence.length > 0) {
    summary.push(
      `<h2>Features absent from older kernels</h2><ul class="compact">${analysis.absence.map((g) => `<li>${esc(absenceLine(g))}</li>`).join('')}</ul>`,
    )
  }
  if (analysis.environment.length > 0) {
    summary.push(
      `<h2>Skipped for the environment</h2><ul class="compact">${analysis.environment
        .map((g) => `<li>${g.clauses.length} on ${esc(andList(g.kernels))}: ${esc(g.reason)}</li>`)
        .join('')}</ul>`,
    )
  }

  const meta =
    m.tool.command === 'merge'
      ? `Merged from ${m.sources?.length ?? 0} reports`
      : m.tool.command === 'check'
        ? `Machine ${esc(m.host.machine)}`
        : `Host ${esc(m.host.release)} (${esc(m.host.machine)}); guests under ${esc(m.accel.used.toUpperCase())} (${esc(m.accel.reason)}); ${seconds(m.durationMs)}`

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${CSS}
${filterCss(areas)}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p>${meta}; ${esc(m.createdAt)}.</p>
<p class="verdict ${analysis.verdict.passed ? 'pass' : 'fail'}" id="verdict">${esc(analysis.verdict.text)}</p>
</header>
<section>
<h2>Kernels</h2>
<table id="kernels"><thead><tr><th>kernel</th><th>release</th><th>status</th><th>pass</th><th>diverges</th><th>known</th><th>skip</th><th>broken</th><th>accel</th><th>boot</th><th>run</th><th>environment</th></tr></thead>
<tbody>${kernels.map(kernelRow).join('\n')}</tbody></table>
${summary.join('\n')}
</section>
<section>
<h2>Clauses × kernels</h2>
<form id="filters">
<fieldset><legend>Area</legend>${radios('area', areas, (a) => a)}</fieldset>
<fieldset><legend>Status</legend>${radios('status', [...STATUSES], (s) => s)}</fieldset>
<fieldset><legend>Differences</legend><label><input type="checkbox" id="differs" name="differs"> only clauses that differ between kernels (${differing.size})</label></fieldset>
<output id="shown">${m.clauses.length} clauses</output>
</form>
<table id="grid"><thead><tr><th>clause</th>${kernels.map((k) => `<th scope="col" data-kernel="${esc(k.label)}">${esc(k.label)}${k.release && k.release !== k.label ? `<br><small>${esc(k.release)}</small>` : ''}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
</section>
<script>${SCRIPT}</script>
</body>
</html>
`
}

/** `memseal check --html`: the same page for one report. */
export function formatHtml(report: CheckLikeReport, label?: string): string {
  return formatMatrixHtml(matrixFromCheck(report as GuestReport, label ?? report.kernel.release))
}
