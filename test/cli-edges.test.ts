// The memseal command at its edges, run as users run it (node dist/cli.js): a reader that closes the pipe
// early, output files that cannot be written (checked before the run, or failing after it), standard
// output on a full device, and the exit statuses that tell these apart from a kernel that diverges.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT, SIGPIPE_STATUS } from '../lib/cli/status'
import { ROOT } from './helpers'

const CLI = join(ROOT, 'dist', 'cli.js')
const ENV = { ...process.env, NO_COLOR: '1' }
/** A few clauses: enough for a real run, quick enough to repeat. */
const FEW = ['--only', 'memfd.flags.*']

function memseal(args: string[], options: { prefix?: string[]; stdout?: number } = {}): SpawnSyncReturns<string> {
  const [cmd, ...rest] = [...(options.prefix ?? []), process.execPath, CLI, ...args]
  return spawnSync(cmd!, rest, {
    cwd: ROOT,
    encoding: 'utf8',
    env: ENV,
    maxBuffer: 64 << 20,
    stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
  })
}

/** Runs the CLI with its standard output a pipe whose reading end is closed before the CLI writes. */
function withClosedPipe(args: string[]): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy() // node is not even running yet: every write it makes meets a closed pipe
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (status, signal) => resolve({ status, signal, stderr }))
  })
}

let work: string
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'memseal-cli-edges-'))
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('a closed pipe ends memseal quietly, killed by SIGPIPE as other tools are', () => {
  test.each([
    [['list']],
    [['list', '--json']],
    [['check', ...FEW]],
    [['check', '--json', ...FEW]],
    [['check', '--tap', ...FEW]],
    [['check', '--markdown', ...FEW]],
    [['check', '--list']],
    [['info']],
    [['info', '--json']],
    [['--help']],
    [['--version']],
    [['check', '--help']],
  ])('memseal %j', async (args) => {
    expect(await withClosedPipe(args)).toEqual({ status: null, signal: 'SIGPIPE', stderr: '' })
  })

  // The issue's own pipelines, through a shell: status 141 under pipefail, the first line, nothing on stderr.
  test.each`
    pipeline                                | first
    ${'memseal list | head -1'}             | ${/^memfd\.\S+ +\S.*\n$/}
    ${'memseal check --json | head -c 10'}  | ${/^\{\n {2}"tool"$/}
    ${'memseal check --markdown | head -1'} | ${/^## memseal conformance: Linux \S+ \(\S+\)\n$/}
    ${'memseal list --json | head -1'}      | ${/^\[\n$/}
  `('$pipeline', ({ pipeline, first }: { pipeline: string; first: RegExp }) => {
    const script = `set -o pipefail; ${pipeline.replace('memseal', `"${process.execPath}" "${CLI}"`)}`
    const r = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', env: ENV })
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(first)
    // 141 needs output that does not fit in the pipe, or head would have read it all: each of these is larger
    expect(r.status).toBe(SIGPIPE_STATUS)
  })
})

describe('output files are checked before the suite runs', () => {
  const oneLine = /^memseal check: cannot write --junit .+: .+\n$/

  test.each`
    name                               | path
    ${'a directory'}                   | ${() => work}
    ${'a missing directory'}           | ${() => join(work, 'missing', 'out.xml')}
    ${'a path through a regular file'} | ${() => join(work, 'plain-file', 'out.xml')}
  `('$name: one line, the I/O status, nothing run', ({ path }: { path: () => string }) => {
    writeFileSync(join(work, 'plain-file'), '')
    const r = memseal(['check', '--junit', path(), ...FEW])
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: EXIT.io, stdout: '' })
    expect(r.stderr).toMatch(oneLine)
    expect(r.stderr).toContain(path())
  })

  test('the messages say what is wrong', () => {
    expect(memseal(['check', '--junit', work]).stderr).toBe(`memseal check: cannot write --junit ${work}: it is a directory\n`)
    const missing = join(work, 'missing', 'out.xml')
    expect(memseal(['check', '--junit', missing]).stderr).toBe(
      `memseal check: cannot write --junit ${missing}: the directory ${join(work, 'missing')} does not exist\n`,
    )
  })

  test('a read-only directory: EACCES, and the same directory made writable takes the report (control)', () => {
    const dir = join(work, 'read-only')
    mkdirSync(dir, { mode: 0o555 })
    chmodSync(dir, 0o555)
    // root may write anywhere; without CAP_DAC_OVERRIDE it meets the mode bits as any user does
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--inh-caps=-dac_override,-dac_read_search'] : []
    const out = join(dir, 'out.xml')
    const refused = memseal(['check', '--junit', out, ...FEW], { prefix: asUser })
    expect({ status: refused.status, stdout: refused.stdout }).toEqual({ status: EXIT.io, stdout: '' })
    expect(refused.stderr).toBe(`memseal check: cannot write --junit ${out}: EACCES (permission denied) on the directory ${dir}\n`)
    chmodSync(dir, 0o755)
    const allowed = memseal(['check', '--junit', out, ...FEW], { prefix: asUser })
    expect(allowed.status).toBe(EXIT.ok)
    expect(readFileSync(out, 'utf8')).toMatch(/^<\?xml /)
  })

  test('a file that may not be written: EACCES before the run', () => {
    const file = join(work, 'read-only.xml')
    writeFileSync(file, 'old', { mode: 0o444 })
    chmodSync(file, 0o444)
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--inh-caps=-dac_override,-dac_read_search'] : []
    const r = memseal(['check', '--junit', file, ...FEW], { prefix: asUser })
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      status: EXIT.io,
      stdout: '',
      stderr: `memseal check: cannot write --junit ${file}: EACCES (permission denied)\n`,
    })
    expect(readFileSync(file, 'utf8')).toBe('old') // the check wrote nothing
  })

  test('an empty file name is a usage error, also as --junit=', () => {
    for (const args of [['--junit', ''], ['--junit=']]) {
      const r = memseal(['check', ...args, ...FEW])
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
        status: EXIT.usage,
        stdout: '',
        stderr: "memseal check: --junit needs a file name, not an empty string\nTry 'memseal check --help' for more information.\n",
      })
    }
  })

  test('a missing file in a writable directory is created (control)', () => {
    const out = join(work, 'new.xml')
    const r = memseal(['--junit', out, ...FEW]) // memseal without a command is check
    expect(r.status).toBe(EXIT.ok)
    expect(readFileSync(out, 'utf8')).toContain('<testsuites ')
  })
})

describe('a write that fails after the run', () => {
  test('--junit /dev/full: the text report is still printed, then one line, and the I/O status', () => {
    const r = memseal(['check', '--junit', '/dev/full', ...FEW])
    expect(r.stdout).toMatch(/^memseal .*\n[\s\S]*\n# Totals: pass:\d+ /)
    expect(r.stderr).toBe('memseal check: cannot write --junit /dev/full: ENOSPC (no space left on device)\n')
    expect(r.status).toBe(EXIT.io)
  })

  test('--junit /dev/full with --json: the JSON report is still printed whole', () => {
    const r = memseal(['check', '--json', '--junit', '/dev/full', ...FEW])
    expect(JSON.parse(r.stdout)).toHaveProperty('summary')
    expect(r.status).toBe(EXIT.io)
  })

  test.each([[['list']], [['check', ...FEW]], [['info', '--json']]])('standard output on /dev/full, memseal %j: one line, the I/O status', (args) => {
    const full = openSync('/dev/full', 'w')
    try {
      const r = memseal(args, { stdout: full })
      expect({ status: r.status, stderr: r.stderr }).toEqual({
        status: EXIT.io,
        stderr: 'memseal: cannot write to standard output: ENOSPC (no space left on device)\n',
      })
    } finally {
      closeSync(full)
    }
  })
})

test('every exit status is documented the same way in --help and in the README', () => {
  const help = memseal(['--help']).stdout
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const table = /### Exit status\n([\s\S]*?)\n#/.exec(readme)?.[1] ?? ''
  for (const status of Object.values(EXIT)) {
    expect(help).toMatch(new RegExp(`^ {2}${status} +\\S`, 'm'))
    expect(table).toMatch(new RegExp(`^\\| ${status} \\|`, 'm'))
  }
  expect(table).toMatch(/^\| 141 \|.*SIGPIPE/m)
  expect(help).toMatch(/SIGPIPE/)
})
