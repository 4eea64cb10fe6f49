// A kernel that lies must not get a clean report. Each fault below runs the whole suite
// (`memseal check --json`) under a seccomp filter (test/fixtures/seccomp-fault.c) that makes chosen
// system calls fail with a chosen errno, or return 0 and do nothing. Against a run without the fault,
// every clause whose status changes must say so truthfully: `diverges` or `broken` (the run then exits
// non-zero), or a `skip` whose reason names seccomp. No clause may move to `pass` or `known`, and at
// least one must change: the fault is noticed.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Report } from '../lib/conformance/report'
import type { ClauseResult } from '../lib/conformance/types'
import { ROOT } from './helpers'
import { buildFixture, type BuiltFixture } from './helpers/c-fixture'

const CLI = join(ROOT, 'dist', 'cli.js')

interface Run {
  status: number | null
  signal: NodeJS.Signals | null
  report: Report | null
  stderr: string
}

/** Runs `memseal check --json` (optionally under a launcher) without blocking the test's event loop. */
function check(prefix: string[] = [], args: string[] = ['check', '--json']): Promise<Run> {
  const [cmd, ...rest] = [...prefix, process.execPath, CLI, ...args]
  return new Promise((resolve) => {
    const child = spawn(cmd!, rest, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c))
    child.on('close', (status, signal) => {
      let report: Report | null = null
      try {
        report = JSON.parse(out) as Report
      } catch {
        report = null
      }
      resolve({ status, signal, report, stderr: err })
    })
  })
}

/** Faults of our own design: what each makes the kernel seem to do. */
const FAULTS: Array<{ rules: string[]; what: string }> = [
  { rules: ['ftruncate/0'], what: 'ftruncate returns 0 and changes no size' },
  { rules: ['fallocate/0'], what: 'fallocate returns 0 and allocates nothing' },
  { rules: ['pwrite64/0'], what: 'pwrite writes nothing and says so (0 bytes)' },
  { rules: ['fchmod/0'], what: 'fchmod returns 0 and changes no mode' },
  { rules: ['fcntl/arg1=1033/0'], what: 'F_ADD_SEALS returns 0 and adds no seal' },
  { rules: ['fcntl/arg1=1033/EPERM'], what: 'F_ADD_SEALS is always refused' },
  { rules: ['fcntl/arg1=1034/EINVAL'], what: 'F_GET_SEALS fails as on a file without seals' },
  { rules: ['mseal/EINVAL'], what: 'mseal answers "not supported" (EINVAL) on a kernel that has it' },
  { rules: ['mseal/0'], what: 'mseal returns 0 and seals nothing' },
  { rules: ['mseal/ENOSYS'], what: 'mseal refused as a container profile does' },
  { rules: ['madvise/arg2=102/0'], what: 'MADV_GUARD_INSTALL returns 0 and installs no guard' },
  { rules: ['madvise/arg2=4/0'], what: 'MADV_DONTNEED returns 0 and discards nothing' },
  { rules: ['madvise/arg2=10/0'], what: 'MADV_DONTFORK returns 0 and changes nothing' },
  { rules: ['madvise/arg2=18/0'], what: 'MADV_WIPEONFORK returns 0 and changes nothing' },
  { rules: ['madvise/arg2=102/EINVAL'], what: 'MADV_GUARD_INSTALL unknown on a kernel that has it' },
  { rules: ['memfd_create/arg1&4=4/EINVAL'], what: 'MFD_HUGETLB refused' },
  { rules: ['memfd_create/arg1&16=16/EINVAL'], what: 'MFD_EXEC refused while MFD_NOEXEC_SEAL works' },
  { rules: ['memfd_create/arg1&8=8/EINVAL'], what: 'MFD_NOEXEC_SEAL refused' },
  { rules: ['mremap/ENOSYS'], what: 'mremap refused' },
  { rules: ['pkey_mprotect/ENOSYS'], what: 'pkey_mprotect refused' },
  { rules: ['execveat/ENOSYS'], what: 'execveat refused' },
  { rules: ['mmap/arg2=1/arg3=1/EPERM'], what: 'read-only shared mappings refused' },
  { rules: ['mprotect/arg2=1/0'], what: 'mprotect to PROT_READ returns 0 and changes nothing' },
  { rules: ['clone3/ENOSYS', 'clone/arg0&256=0/EAGAIN'], what: 'fork fails (EAGAIN), as under a pids limit' },
]

const changedOf = (base: Report, run: Report): Array<[ClauseResult, ClauseResult]> => {
  const before = new Map(base.results.map((r) => [r.id, r]))
  return run.results.filter((r) => before.get(r.id)?.status !== r.status).map((r) => [before.get(r.id)!, r])
}

const truthful = (r: ClauseResult): boolean => r.status === 'diverges' || r.status === 'broken' || (r.status === 'skip' && /seccomp/.test(r.reason ?? ''))

let fault: BuiltFixture
let baseline: Run
beforeAll(async () => {
  fault = buildFixture('seccomp-fault')
  if (!fault.path) throw new Error(`cannot build the seccomp fault launcher: ${fault.reason}`)
  baseline = await check()
  if (!baseline.report) throw new Error(`the run without a fault printed no report: ${baseline.stderr}`)
}, 120_000)
afterAll(() => fault?.remove())

describe('faults injected with seccomp are noticed', () => {
  const runs = new Map<string, Promise<Run>>()
  // Two at a time: each run is a whole suite with its workers.
  let active = 0
  const pending: Array<() => void> = []
  const slot = async (): Promise<void> => {
    if (active < 2) {
      active++
      return
    }
    await new Promise<void>((resolve) => pending.push(resolve))
    active++
  }
  const release = (): void => {
    active--
    pending.shift()?.()
  }
  const runOf = (key: string, rules: string[]): Promise<Run> => {
    let p = runs.get(key)
    if (!p) {
      p = slot().then(() => check([fault.path!, ...rules, '--']).finally(release))
      runs.set(key, p)
    }
    return p
  }
  beforeAll(() => {
    for (const f of FAULTS) void runOf(f.rules.join(' '), f.rules)
  })

  test.each(FAULTS)(
    '$what ($rules)',
    async ({ rules }) => {
      const run = await runOf(rules.join(' '), rules)
      expect(run.signal).toBeNull()
      if (!run.report) throw new Error(`no report (status ${run.status}): ${run.stderr.slice(0, 400)}`)
      expect(run.report.environment.seccomp).toBe(2)
      const changed = changedOf(baseline.report!, run.report)
      expect(changed.length).toBeGreaterThan(0)
      const lies = changed.filter(([, now]) => !truthful(now)).map(([was, now]) => `${now.id}: ${was.status} → ${now.status} (${now.observed ?? ''})`)
      expect(lies).toEqual([])
      const failing = run.report.results.some((r) => r.status === 'diverges' || r.status === 'broken')
      expect(run.status).toBe(failing ? 1 : 0)
      // noticed: a failing run, or skips that say a filter answered
      expect(failing || changed.some(([, now]) => now.status === 'skip')).toBe(true)
    },
    300_000,
  )
})

describe('never silent', () => {
  // A real pids limit (cgroup v1 pids controller, or v2): the CLI starts, every fork fails with EAGAIN.
  const pidsRoot = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => {
    try {
      return (
        readFileSync(join(d, 'cgroup.procs'), 'utf8') !== undefined &&
        (d.endsWith('pids') || readFileSync(join(d, 'cgroup.controllers'), 'utf8').includes('pids'))
      )
    } catch {
      return false
    }
  })
  const cgroupTest = pidsRoot && process.getuid?.() === 0 ? test : test.skip
  cgroupTest(
    `a pids limit that leaves no room for workers: every clause broken with the cause, a report, exit 1${pidsRoot ? '' : ' (skipped: no writable pids cgroup here)'}`,
    () => {
      const dir = join(pidsRoot!, `memseal-test-${process.pid}`)
      mkdirSync(dir)
      try {
        writeFileSync(join(dir, 'pids.max'), '100')
        // How many tasks an idle node needs here; one more lets the CLI start and no child start.
        const idle = spawnSync(
          'sh',
          [
            '-c',
            `echo $$ > ${join(dir, 'cgroup.procs')}; exec ${process.execPath} -e "process.stdout.write(require('fs').readFileSync('${join(dir, 'pids.current')}','utf8'))"`,
          ],
          { encoding: 'utf8' },
        )
        const tasks = Number(idle.stdout.trim())
        expect(tasks).toBeGreaterThan(0)
        writeFileSync(join(dir, 'pids.max'), String(tasks + 1))
        const r = spawnSync('sh', ['-c', `echo $$ > ${join(dir, 'cgroup.procs')}; exec ${process.execPath} ${CLI} check --json`], {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        })
        expect(r.status).toBe(1)
        const report = JSON.parse(r.stdout) as Report
        expect(report.summary.pass).toBe(0)
        expect(report.summary.broken).toBeGreaterThan(0)
        for (const x of report.results.filter((x) => x.status === 'broken')) expect(x.reason).toMatch(/worker/)
      } finally {
        rmdirSync(dir)
      }
    },
    120_000,
  )
})

describe('vm.memfd_noexec 1 and 2 in a private pid namespace', () => {
  const atLevel = (level: number): Promise<Run> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'check-at-level.js'), String(level), 'check', '--json'], { cwd: ROOT })
      let out = ''
      let err = ''
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c))
      child.on('close', (status, signal) => {
        let report: Report | null = null
        try {
          report = JSON.parse(out) as Report
        } catch {
          report = null
        }
        resolve({ status, signal, report, stderr: err })
      })
    })
  const nsTest = process.getuid?.() === 0 ? test : test.skip
  nsTest.each([1, 2])(
    'at level %i: nothing broken, every divergence a documented one',
    async (level) => {
      const run = await atLevel(level)
      if (!run.report) throw new Error(`no report: ${run.stderr.slice(0, 400)}`)
      expect(run.report.environment.memfdNoexec).toBe(level)
      expect(run.report.results.filter((r) => r.status === 'broken').map((r) => `${r.id}: ${r.reason}`)).toEqual([])
      expect(run.report.results.filter((r) => r.status === 'diverges' && !r.divergence).map((r) => `${r.id}: ${r.expected} ≠ ${r.observed}`)).toEqual([])
    },
    120_000,
  )
})
