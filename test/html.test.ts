/**
 * The HTML report in a real headless Chromium (Debian's chromium package): the page loads nothing
 * from anywhere, every cell of the grid says what the JSON report says, clicking a filter hides
 * exactly the rows it should, a cell opens its details, the grid and its filters work with
 * JavaScript disabled, and a screenshot is kept (under .ci-out/ when CI runs, as an artifact).
 *
 * The reports are real: `memseal check --json --html` on this machine, and `memseal report merge` of
 * that report with a second column made from it in which one clause has another outcome, a feature is
 * absent and a kernel failed to boot (what a matrix shows), so that the differences filter has
 * something to find. MEMSEAL_REAL_MATRIX=FILE.json adds a real matrix report (scripts/matrix-ci.sh).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Chromium, type Page } from './helpers/chromium'
import { ROOT } from './helpers'

interface JsonResult {
  id: string
  area: string
  status: string
  statement?: string
  expected?: string | null
  observed?: string | null
}
interface JsonMatrix {
  kernels: Array<{ label: string; status: string; report: { results: JsonResult[] } | null }>
  clauses: string[]
  analysis: { behaviour: Array<{ id: string }>; verdict: { passed: boolean; text: string } }
}

const CLI = join(ROOT, 'dist', 'cli.js')
const haveChromium = Chromium.available()
const describeChromium = haveChromium ? describe : describe.skip
/** Where the screenshots go: .ci-out/ under CI (kept as artifacts), else a temporary directory. */
const artifacts = process.env.CI ? join(ROOT, '.ci-out', 'html') : mkdtempSync(join(tmpdir(), 'memseal-html-shots-'))

let work: string
let browser: Chromium

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'memseal-html-'))
  mkdirSync(artifacts, { recursive: true })
  if (haveChromium) browser = Chromium.launch()
}, 60_000)

afterAll(async () => {
  if (browser) await browser.close()
  rmSync(work, { recursive: true, force: true })
})

function memseal(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: work, encoding: 'utf8', maxBuffer: 64 << 20 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A second column made from a real report: another outcome for one clause, an absent feature. */
function variant(report: { kernel: { release: string }; results: JsonResult[] }): object {
  const results = report.results.map((r) => ({ ...r }))
  const passing = results.filter((r) => r.status === 'pass')
  const changed = passing[0]!
  changed.status = 'known'
  changed.observed = 'errno=EINVAL'
  Object.assign(changed, { known: { behaviour: 'an older kernel answers EINVAL', ref: 'test fixture' } })
  const absent = results.filter((r) => r.area === 'mseal')
  for (const r of absent)
    Object.assign(r, { status: 'skip', observed: null, reason: 'mseal: not supported by this kernel (probe: ENOSYS); it arrived in Linux 6.10' })
  return { ...report, kernel: { ...report.kernel, release: '6.1.0-99-amd64', version: [6, 1, 0] }, results }
}

/** Each grid row's clause and, per kernel column, the status the cell shows. */
async function gridOf(page: Page): Promise<Array<{ id: string; cells: Record<string, string> }>> {
  return page.evaluate(`[...document.querySelectorAll('#grid tbody tr')].map((tr) => ({
    id: tr.dataset.id,
    cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.kernel, (td.querySelector('summary') || td).textContent.trim() === '–' ? 'absent' : td.dataset.status + '|' + (td.querySelector('summary') || td).textContent.trim()]))
  }))`)
}

async function visibleIds(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll('#grid tbody tr')].filter((tr) => tr.offsetParent !== null).map((tr) => tr.dataset.id)`)
}

/** Opens the page with every request recorded; returns the URLs requested. */
async function open(page: Page, file: string): Promise<string[]> {
  const requested: string[] = []
  browser.on('Network.requestWillBeSent', (p, sid) => {
    if (sid === page.sessionId) requested.push(String((p.request as { url: string }).url))
  })
  await page.send('Network.enable')
  await page.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 900, deviceScaleFactor: 1, mobile: false })
  await page.navigate(`file://${file}`)
  return requested
}

/** The grid against the JSON: one row per clause, one cell per kernel, each with the JSON's status. */
function expectGridMatches(grid: Array<{ id: string; cells: Record<string, string> }>, json: JsonMatrix): void {
  expect(grid.map((r) => r.id)).toEqual(json.clauses)
  const byKernel = new Map(json.kernels.map((k) => [k.label, new Map((k.report?.results ?? []).map((r) => [r.id, r.status]))]))
  let checked = 0
  for (const row of grid) {
    expect(Object.keys(row.cells)).toEqual(json.kernels.map((k) => k.label))
    for (const k of json.kernels) {
      const status = byKernel.get(k.label)!.get(row.id)
      expect([row.id, k.label, row.cells[k.label]]).toEqual([row.id, k.label, status === undefined ? 'absent' : `${status}|${status}`])
      checked++
    }
  }
  expect(checked).toBe(json.clauses.length * json.kernels.length)
}

describeChromium('the HTML report in headless Chromium', () => {
  let checkJson: string
  let checkHtml: string
  let mergedJson: string
  let mergedHtml: string

  beforeAll(() => {
    checkJson = join(work, 'host.json')
    checkHtml = join(work, 'host.html')
    const check = memseal(['check', '--json', '--html', checkHtml])
    expect(check.status === 0 || check.status === 1).toBe(true)
    writeFileSync(checkJson, check.stdout)
    const report = JSON.parse(check.stdout) as { kernel: { release: string }; results: JsonResult[] }
    writeFileSync(join(work, 'older.json'), JSON.stringify(variant(report)))
    writeFileSync(
      join(work, 'failed.json'),
      JSON.stringify({
        tool: { name: 'memseal', command: 'matrix' },
        createdAt: new Date().toISOString(),
        host: { release: report.kernel.release, machine: 'x86_64' },
        accel: { requested: 'tcg', used: 'tcg', reason: 'TCG requested' },
        durationMs: 1000,
        kernels: [
          {
            spec: '5.10',
            label: '5.10',
            status: 'boot-failed',
            release: null,
            version: null,
            accel: 'tcg',
            packages: [],
            timing: { fetchMs: 0, prepareMs: 0, bootMs: null, runMs: null, totalMs: 1000 },
            error: 'the guest never reached /init',
            consoleTail: 'Kernel panic - not syncing: VFS: Unable to mount root fs',
            environment: null,
            report: null,
          },
        ],
        clauses: [],
      }),
    )
    mergedJson = join(work, 'merged.json')
    mergedHtml = join(work, 'merged.html')
    const merge = memseal(['report', 'merge', 'host=host.json', '6.1=older.json', 'failed.json', '--json', mergedJson, '--html', mergedHtml])
    expect(merge.status).toBe(1) // a kernel without a report fails the verdict
    expect(merge.stdout).toContain(`wrote ${mergedHtml} (HTML)`)
  }, 120_000)

  test('check --html: loads nothing, and each cell is the JSON report’s status', async () => {
    const page = await browser.newPage()
    const requested = await open(page, checkHtml)
    expect(requested).toEqual([`file://${checkHtml}`])
    const report = JSON.parse(readFileSync(checkJson, 'utf8')) as { kernel: { release: string }; results: JsonResult[] }
    const json: JsonMatrix = {
      kernels: [{ label: report.kernel.release, status: 'ok', report }],
      clauses: report.results.map((r) => r.id),
      analysis: { behaviour: [], verdict: { passed: true, text: '' } },
    }
    expectGridMatches(await gridOf(page), json)
    writeFileSync(join(artifacts, 'check-report.png'), await page.screenshot())
  }, 60_000)

  test('merged matrix: grid, a filter clicked, a cell opened, environment and a screenshot', async () => {
    const page = await browser.newPage()
    const requested = await open(page, mergedHtml)
    expect(requested).toEqual([`file://${mergedHtml}`])
    const json = JSON.parse(readFileSync(mergedJson, 'utf8')) as JsonMatrix
    expectGridMatches(await gridOf(page), json)

    // The verdict line is the JSON's.
    expect(await page.evaluate<string>(`document.getElementById('verdict').textContent`)).toBe(json.analysis.verdict.text)

    // "Only clauses that differ": exactly the JSON's behaviour differences stay.
    const differing = json.analysis.behaviour.map((d) => d.id)
    expect(differing.length).toBeGreaterThan(0)
    await page.click('#differs')
    expect(await visibleIds(page)).toEqual(differing)
    expect(await page.evaluate<string>(`document.getElementById('shown').textContent`)).toBe(`${differing.length} of ${json.clauses.length} clauses shown`)
    await page.click('#differs')

    // An area: only its clauses; a status: only rows with a cell of that status.
    await page.click('#area-mseal')
    const mseal = json.clauses.filter((id) => id.startsWith('mseal.'))
    expect(await visibleIds(page)).toEqual(mseal)
    await page.click('#area-all')
    await page.click('#status-known')
    const withKnown = json.clauses.filter((id) => json.kernels.some((k) => k.report?.results.find((r) => r.id === id)?.status === 'known'))
    expect(await visibleIds(page)).toEqual(withKnown)
    await page.click('#status-all')
    expect((await visibleIds(page)).length).toBe(json.clauses.length)

    // A cell opens its statement, expected and observed.
    const id = differing[0]!
    const older = json.kernels.find((k) => k.label === '6.1')!.report!.results.find((r) => r.id === id)!
    await page.click(`#grid tr[data-id="${id}"] td[data-kernel="6.1"] summary`)
    const detail = await page.evaluate<{ open: boolean; text: string }>(
      `(() => { const d = document.querySelector('#grid tr[data-id="${id}"] td[data-kernel="6.1"] details'); return { open: d.open, text: d.querySelector('.detail').innerText } })()`,
    )
    expect(detail.open).toBe(true)
    expect(detail.text).toContain(older.statement!)
    expect(detail.text).toContain(`observed\n${older.observed}`)
    expect(detail.text).toContain('recorded history')
    writeFileSync(join(artifacts, 'matrix-report.png'), await page.screenshot())

    // Each kernel's environment and the failed kernel's console are on the page.
    const kernelsText = await page.evaluate<string>(`document.getElementById('kernels').textContent`)
    expect(kernelsText).toContain('seccomp')
    expect(kernelsText).toContain('Kernel panic - not syncing')
  }, 60_000)

  test('without JavaScript the grid, the cells and the filters still work', async () => {
    const page = await browser.newPage()
    await page.send('Emulation.setScriptExecutionDisabled', { value: true })
    await open(page, mergedHtml)
    const json = JSON.parse(readFileSync(mergedJson, 'utf8')) as JsonMatrix
    expectGridMatches(await gridOf(page), json)
    await page.click('#differs')
    expect(await visibleIds(page)).toEqual(json.analysis.behaviour.map((d) => d.id))
    // The count is the script's: without it the page keeps its static text.
    expect(await page.evaluate<string>(`document.getElementById('shown').textContent`)).toBe(`${json.clauses.length} clauses`)
  }, 60_000)

  // A real matrix report when one is named (scripts/matrix-ci.sh): its HTML against its JSON.
  const realMatrix = process.env.MEMSEAL_REAL_MATRIX
  ;(realMatrix ? test : test.skip)(
    `a real matrix report${realMatrix ? '' : ' (skipped: MEMSEAL_REAL_MATRIX names none)'}`,
    async () => {
      const jsonFile = resolve(realMatrix!)
      const htmlFile = join(work, 'real.html')
      const r = memseal(['report', 'merge', jsonFile, '--html', htmlFile, '--json', join(work, 'real.json')])
      expect(r.stderr).toBe('')
      const page = await browser.newPage()
      expect(await open(page, htmlFile)).toEqual([`file://${htmlFile}`])
      const json = JSON.parse(readFileSync(join(work, 'real.json'), 'utf8')) as JsonMatrix
      expectGridMatches(await gridOf(page), json)
      await page.click('#differs')
      expect(await visibleIds(page)).toEqual(json.analysis.behaviour.map((d) => d.id))
      await page.click('#differs')
      writeFileSync(join(artifacts, 'real-matrix.png'), await page.screenshot())
    },
    60_000,
  )
})

// Without chromium the suite says so rather than passing silently (scripts/ci-deps.sh installs it).
;(haveChromium ? test.skip : test)('chromium is installed (scripts/ci-deps.sh installs it)', () => {
  expect(execFileSync('sh', ['-c', 'command -v chromium || true'], { encoding: 'utf8' }).trim()).not.toBe('')
})
