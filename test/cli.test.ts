// The memseal command, run as users run it (node dist/cli.js, after npm run build): output formats,
// selection, usage errors and exit status, and the same suite under a seccomp filter that refuses mseal.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Report } from '../lib/conformance/report'
import { ROOT } from './helpers'
import { buildFixture, type BuiltFixture } from './helpers/c-fixture'

const CLI = join(ROOT, 'dist', 'cli.js')

function memseal(args: string[], prefix: string[] = []): SpawnSyncReturns<string> {
  const [cmd, ...rest] = [...prefix, process.execPath, CLI, ...args]
  return spawnSync(cmd!, rest, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 << 20 })
}

/** Exit status DESIGN.md asks for. */
const expectedStatus = (report: Report, strict = false): number =>
  report.results.some((r) => r.status === 'diverges' || r.status === 'broken' || (strict && r.status === 'known')) ? 1 : 0

/** Checks that every tag opened is closed in order: enough to catch broken XML from the reporter. */
function assertBalancedXml(xml: string): void {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true)
  const stack: string[] = []
  for (const m of xml.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w.-]+="[^"<]*")*)\s*(\/?)>|([<>])/g)) {
    if (m[5]) throw new Error(`stray '${m[5]}' at ${m.index}`)
    if (m[4]) continue
    if (m[1]) expect(stack.pop()).toBe(m[2])
    else stack.push(m[2]!)
  }
  expect(stack).toEqual([])
}

let full: Report
let fullRun: SpawnSyncReturns<string>
beforeAll(() => {
  fullRun = memseal(['check', '--json'])
  full = JSON.parse(fullRun.stdout) as Report
}, 60_000)

test('--json follows the report contract and the exit status', () => {
  expect(full.tool).toEqual({ name: 'memseal', version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version })
  expect(Object.keys(full.kernel).sort()).toEqual(['machine', 'release', 'version'])
  expect(full.environment).toEqual(
    expect.objectContaining({
      seccomp: expect.any(Number),
      root: expect.any(Boolean),
      pageSize: expect.any(Number),
      pidNamespace: expect.any(Object),
      hugetlbPools: expect.any(Array),
    }),
  )
  expect(full.environment).toHaveProperty('container')
  expect(full.environment).toHaveProperty('memfdNoexec')
  expect(full.results.length).toBeGreaterThanOrEqual(150)
  for (const r of full.results) {
    expect(Object.keys(r)).toEqual(expect.arrayContaining(['id', 'area', 'status', 'statement', 'source', 'expected', 'observed', 'reason', 'durationMs']))
    if (r.status === 'skip') expect(r.reason).toMatch(/\S/)
    if (r.status === 'diverges') expect([r.expected, r.observed]).toEqual([expect.any(String), expect.any(String)])
  }
  const s = full.summary
  expect(s.pass + s.diverges + s.known + s.skip + s.broken).toBe(s.total)
  expect(s.broken).toBe(0)
  expect(Array.isArray(full.divergences)).toBe(true)
  expect(fullRun.status).toBe(expectedStatus(full))
})

test('the text report has the header, areas and kselftest totals', () => {
  const r = memseal(['check', '--only', 'memfd.*'])
  expect(r.stdout).toMatch(/^memseal .*\nTested kernel: \S+ \(\S+\)\nEnvironment: seccomp: /)
  expect(r.stdout).toMatch(/^memfd \(\d+\)$/m)
  expect(r.stdout).toMatch(/^# Totals: pass:\d+ diverges:\d+ known:\d+ skip:\d+ broken:\d+$/m)
  // eslint-disable-next-line no-control-regex -- ESC starts a colour sequence
  expect(r.stdout).not.toMatch(/\x1b\[/) // not a terminal: no colours
  expect(r.stderr).toBe('') // not a terminal: no progress line
})

test('--only selects by glob, comma lists and repeats', () => {
  const r = memseal(['check', '--json', '--only', 'seal.*,mmap.*', '--only=noexec'])
  const ids = (JSON.parse(r.stdout) as Report).results.map((x) => x.id)
  expect(ids.length).toBeGreaterThan(0)
  expect(ids.every((id) => /^(seal|mmap|noexec)\./.test(id))).toBe(true)
  expect(ids).toEqual(full.results.map((x) => x.id).filter((id) => /^(seal|mmap|noexec)\./.test(id)))
})

test('--list and list print ids and statements without running anything', () => {
  const a = memseal(['check', '--list'])
  const b = memseal(['list'])
  expect(a.status).toBe(0)
  expect(a.stdout).toBe(b.stdout)
  expect(a.stdout.trim().split('\n')).toHaveLength(full.results.length + 1)
  const json = JSON.parse(memseal(['list', '--json', '--only', 'mseal.*']).stdout) as Array<{ id: string; statement: string }>
  expect(json.map((c) => c.id)).toEqual(full.results.filter((x) => x.area === 'mseal').map((x) => x.id))
})

test('--tap prints TAP 14 with a plan and one point per clause', () => {
  const r = memseal(['check', '--tap'])
  const lines = r.stdout.split('\n')
  expect(lines[0]).toBe('TAP version 14')
  expect(r.stdout).toContain(`\n1..${full.results.length}\n`)
  const points = lines.filter((l) => /^(not )?ok \d+ - /.test(l))
  expect(points).toHaveLength(full.results.length)
  for (const [i, res] of full.results.entries()) {
    const p = points[i]!
    if (res.status === 'skip') expect(p).toMatch(new RegExp(`^ok ${i + 1} - ${res.id} # SKIP \\S`))
    if (res.status === 'pass') expect(p).toBe(`ok ${i + 1} - ${res.id}`)
    if (res.status === 'known') expect(p).toMatch(/^not ok \d+ - \S+ # TODO known: /)
    if (res.status === 'diverges' || res.status === 'broken') expect(p).toBe(`not ok ${i + 1} - ${res.id}`)
  }
})

test('--junit FILE writes well-formed JUnit XML with one testcase per clause', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-junit-'))
  try {
    const file = join(dir, 'report.xml')
    const r = memseal(['check', '--junit', file, '--only', 'seal.*,mseal.*'])
    const xml = readFileSync(file, 'utf8')
    assertBalancedXml(xml)
    const selected = full.results.filter((x) => /^m?seal\./.test(x.id))
    expect(xml.match(/<testcase /g)).toHaveLength(selected.length)
    expect(xml.match(/<skipped /g) ?? []).toHaveLength(selected.filter((x) => x.status === 'skip').length)
    expect(r.stdout).toMatch(/# Totals:/) // the text report still goes to stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('--markdown prints a table per area', () => {
  const r = memseal(['check', '--markdown', '--only', 'memfd,seal'])
  expect(r.stdout).toMatch(/^## memseal conformance: Linux /)
  expect(r.stdout).toMatch(/^### memfd\n\n\| status \| clause \|/m)
  expect(r.stdout).toMatch(/^### seal\n/m)
})

test.each`
  args                             | message
  ${['check', '--bogus']}          | ${/unknown option --bogus/}
  ${['check', '--only']}           | ${/--only needs a value/}
  ${['check', '--junit']}          | ${/--junit needs a value/}
  ${['frobnicate']}                | ${/unknown command 'frobnicate'/}
  ${['check', '--json', '--tap']}  | ${/choose one of/}
  ${['check', '--only', 'nope.*']} | ${/no clause matches/}
  ${['info', '--bogus']}           | ${/unknown option --bogus/}
`('usage error $args → exit 2', ({ args, message }: { args: string[]; message: RegExp }) => {
  const r = memseal(args)
  expect(r.status).toBe(2)
  expect(r.stderr).toMatch(message)
  expect(r.stdout).toBe('')
  // one line and a pointer to the help, not the help itself
  expect(r.stderr.split('\n')).toEqual([expect.stringMatching(/^memseal( \w+)?: /), expect.stringMatching(/^Try 'memseal( \w+)? --help'/), ''])
})

test('--help, --version and info', () => {
  expect(memseal(['--help'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Usage: memseal/) })
  expect(memseal(['--version']).stdout.trim()).toBe(full.tool.version)
  const info = JSON.parse(memseal(['info', '--json']).stdout)
  expect(info.kernel).toEqual(full.kernel)
  expect(Object.keys(info.features).sort()).toEqual(Object.keys(full.features).sort())
  expect(memseal(['info']).stdout).toMatch(/^Features:\n {2}memfd /m)
})

describe('under a seccomp filter that makes mseal fail with ENOSYS', () => {
  let deny: BuiltFixture
  beforeAll(() => {
    deny = buildFixture('seccomp-fault')
  })
  afterAll(() => deny.remove())

  // Told apart from absence: the mseal clauses are skips that name seccomp; nothing else changes.
  test('mseal clauses become skips naming seccomp; every other status is unchanged', () => {
    if (!deny.path) throw new Error(`cannot build the seccomp launcher: ${deny.reason}`)
    if (!full.features.mseal.ok) throw new Error(`this kernel has no mseal to block: ${full.features.mseal.reason}`)
    const r = memseal(['check', '--json'], [deny.path, 'mseal/ENOSYS', '--'])
    const filtered = JSON.parse(r.stdout) as Report
    expect(filtered.environment.seccomp).toBe(2)
    expect(filtered.features.mseal).toMatchObject({ ok: false, errno: 'ENOSYS', blockedBy: 'seccomp' })
    const needsMseal = new Set(
      JSON.parse(memseal(['list', '--json']).stdout)
        .filter((c: { needs: string[] }) => c.needs.includes('mseal'))
        .map((c: { id: string }) => c.id),
    )
    expect(needsMseal.size).toBeGreaterThan(0)
    const after = new Map(filtered.results.map((x) => [x.id, x]))
    for (const before of full.results) {
      const now = after.get(before.id)!
      // the clauses that need mseal, and the one that shows it is there (it calls mseal without needing it)
      if (needsMseal.has(before.id) || before.id === 'mseal.presence')
        expect([before.id, now.status, now.reason]).toEqual([before.id, 'skip', expect.stringMatching(/seccomp/)])
      else expect([before.id, now.status]).toEqual([before.id, before.status])
    }
    expect(r.status).toBe(expectedStatus(filtered))
  })
})

test('a run leaves no process behind', () => {
  // Workers inherit the environment: after the CLI has exited, no process may carry its marker.
  const marker = `MEMSEAL_TEST_RUN=${process.pid}-${Date.now()}`
  const r = spawnSync(process.execPath, [CLI, 'check', '--json', '--only', 'mseal.*,mmap.*'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, MEMSEAL_TEST_RUN: marker.split('=')[1] },
    maxBuffer: 64 << 20,
  })
  expect(r.status).not.toBeNull()
  const carriers = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker)
      } catch {
        return false // gone, or not ours to read
      }
    })
  expect(carriers).toEqual([])
})
