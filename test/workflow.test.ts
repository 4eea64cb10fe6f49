/**
 * .github/workflows/memseal.yml cannot run here, so it is read (actionlint checks every workflow in
 * test/workflows.test.ts): the YAML itself; every run script through bash -n and shellcheck; and what
 * the jobs must do: the image on
 * several runners under each seccomp setup, one job per kernel (a GitHub Actions matrix) each keeping
 * its JSON report, and a merge job that runs after all of them, even when one failed, merges every
 * report into one artifact and writes the step summary.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseDocument } from 'yaml'
import { ROOT } from './helpers'

interface Step {
  name?: string
  uses?: string
  run?: string
  if?: string
  with?: Record<string, unknown>
  env?: Record<string, string>
  [key: string]: unknown
}
interface Job {
  name?: string
  'runs-on': string
  'timeout-minutes'?: number
  needs?: string | string[]
  if?: string
  env?: Record<string, string>
  strategy?: { matrix?: Record<string, unknown[]>; 'fail-fast'?: boolean }
  steps: Step[]
  [key: string]: unknown
}

const FILE = '.github/workflows/memseal.yml'
const source = readFileSync(join(ROOT, FILE), 'utf8')
const doc = parseDocument(source, { uniqueKeys: true, prettyErrors: true })
const wf = doc.toJS() as { name: string; on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, Job> }
const jobs = Object.entries(wf.jobs ?? {})
const scriptOf = (job: Job | undefined): string => job?.steps.map((s) => s.run ?? '').join('\n') ?? ''

describe(FILE, () => {
  // The YAML parses without errors or warnings (duplicate keys, bad indentation, tabs).
  test('is valid YAML', () => {
    expect(doc.errors.map(String)).toEqual([])
    expect(doc.warnings.map(String)).toEqual([])
  })

  // Triggers, least privilege, and a known shape for every job and step.
  test('has triggers, read-only permissions, and well-formed jobs', () => {
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(['push', 'pull_request', 'workflow_dispatch']))
    expect(wf.permissions).toEqual({ contents: 'read' })
    const stepKeys = new Set(['name', 'id', 'uses', 'run', 'if', 'with', 'env', 'shell', 'continue-on-error', 'timeout-minutes', 'working-directory'])
    for (const [, job] of jobs) {
      expect(typeof job['runs-on']).toBe('string')
      expect(job['timeout-minutes']).toEqual(expect.any(Number))
      for (const step of job.steps) {
        for (const key of Object.keys(step)) expect([key, stepKeys.has(key)]).toEqual([key, true])
        expect(Number(step.uses !== undefined) + Number(step.run !== undefined)).toBe(1)
        if (step.uses) expect(step.uses).toMatch(/^actions\/(checkout|setup-node|upload-artifact|download-artifact|cache)@v\d+$/)
      }
    }
  })

  // Every run script is valid bash and passes shellcheck once expressions are replaced by placeholders
  // (the runner's default shell is bash -e -o pipefail).
  test('run scripts pass bash -n and shellcheck', () => {
    const shellcheck = spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0
    for (const [id, job] of jobs) {
      for (const step of job.steps.filter((s) => s.run)) {
        const script = (step.run ?? '').replace(/\$\{\{.*?\}\}/g, 'EXPR')
        const r = spawnSync('bash', ['-n', '-e', '-o', 'pipefail', '-c', script], { encoding: 'utf8' })
        expect({ job: id, step: step.name, stderr: r.stderr, status: r.status }).toEqual({ job: id, step: step.name, stderr: '', status: 0 })
        if (!shellcheck) continue
        const sc = spawnSync('shellcheck', ['--shell=bash', '--severity=warning', '-'], { input: `set -eo pipefail\n${script}`, encoding: 'utf8' })
        expect({ job: id, step: step.name, shellcheck: sc.stdout }).toEqual({ job: id, step: step.name, shellcheck: '' })
      }
    }
  })

  // The image runs on several hosted runner images (x86-64 and arm64), under each seccomp setup,
  // and keeps its reports even when a run fails.
  test('runs the image on several runners, under default, shipped-profile and unconfined seccomp', () => {
    const container = wf.jobs.container
    expect(container).toBeDefined()
    const runners = container!.strategy?.matrix?.runner as string[]
    expect(runners.length).toBeGreaterThanOrEqual(3)
    expect(runners.some((r) => /arm/.test(r))).toBe(true)
    expect(container!.strategy?.['fail-fast']).toBe(false)
    const scripts = scriptOf(container)
    expect(scripts).toMatch(/docker build/)
    expect(scripts).toMatch(/--security-opt seccomp=unconfined/)
    expect(scripts).toMatch(/--security-opt seccomp="\$GITHUB_WORKSPACE\/docker\/seccomp-mseal\.json"/)
    expect(container!.steps.filter((s) => /docker run[^]*memseal check --json/.test(s.run ?? '')).length).toBeGreaterThanOrEqual(3)
    const upload = container!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))
    expect(upload?.if).toMatch(/!cancelled\(\)|always\(\)/)
    expect(String(upload?.with?.name)).toContain('${{ matrix.runner }}')
  })

  // Fan-out: one job per kernel, each `memseal matrix --kernel <its kernel> --json` into its own artifact.
  test('runs one job per kernel', () => {
    const kernel = wf.jobs.kernel
    expect(kernel).toBeDefined()
    const kernels = kernel!.strategy?.matrix?.kernel as string[]
    expect(kernels).toEqual(expect.arrayContaining(['5.10', '6.1', '6.12']))
    expect(kernel!.strategy?.['fail-fast']).toBe(false)
    expect(kernel!.env?.KERNEL).toBe('${{ matrix.kernel }}')
    const script = scriptOf(kernel)
    expect(script).toMatch(/npx --no memseal matrix --kernel "\$KERNEL" --no-host[^]*--json "reports\/kernel-\$KERNEL\.json"/)
    const upload = kernel!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))
    expect(upload?.if).toMatch(/!cancelled\(\)/)
    expect(upload?.with).toMatchObject({ name: 'memseal-kernel-${{ matrix.kernel }}', path: 'reports/' })
    // The kernel cache is kept between runs, per kernel.
    const cache = kernel!.steps.find((s) => s.uses?.startsWith('actions/cache@'))
    expect(String(cache?.with?.key)).toContain('${{ matrix.kernel }}')
  })

  // The merge job waits for every other job, runs even when one failed, merges all the JSON reports
  // into one artifact (JSON, Markdown, HTML, KTAP) and writes the step summary.
  test('merges every report in a last job', () => {
    const merge = wf.jobs.merge
    expect(merge).toBeDefined()
    expect([merge!.needs].flat().sort()).toEqual(['container', 'kernel'])
    expect(merge!.if).toMatch(/!cancelled\(\)/)
    const download = merge!.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))
    expect(download?.with).toMatchObject({ pattern: 'memseal-*', path: 'inputs' })
    const script = scriptOf(merge)
    expect(script).toContain('inputs/memseal-kernel-*/kernel-*.json')
    expect(script).toContain('inputs/memseal-container-*/*.json')
    expect(script).toMatch(
      /npx --no memseal report merge "\$\{inputs\[@\]\}"[^]*--json merged\/matrix\.json[^]*--markdown merged\/matrix\.md[^]*--html merged\/matrix\.html[^]*--ktap merged\/matrix\.ktap/,
    )
    expect(script).toContain('cat merged/matrix.md >> "$GITHUB_STEP_SUMMARY"')
    const upload = merge!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))
    expect(upload?.if).toMatch(/!cancelled\(\)/)
    expect(upload?.with).toMatchObject({ name: 'memseal-matrix', path: 'merged/' })
    // The artifact names the merge downloads are the ones the other jobs upload.
    const uploaded = jobs.flatMap(([, j]) => j.steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@')).map((s) => String(s.with?.name)))
    expect(uploaded.filter((n) => n !== 'memseal-matrix').every((n) => /^memseal-(kernel|container)-\$\{\{ matrix\.(kernel|runner) \}\}$/.test(n))).toBe(true)
  })
})
