/**
 * `memseal run` and the boot machinery it shares with the matrix: arguments, the job (the current
 * directory, hoisted dependencies and a writable scratch directory shared where the guest's own /tmp
 * would hide them), qemu's own words when KVM cannot run a guest (a qemu stand-in that says what a
 * nested KVM says, and one that stays silent), and exit statuses.
 *
 * With MEMSEAL_MATRIX_TEST=1 (scripts/matrix-ci.sh sets it; needs qemu, busybox-static and Debian's
 * archive) real kernels boot: a command with its output, status and scratch file on two kernels,
 * --accel kvm on this host, and memseal installed from its packed tarball into an application under
 * the system's temporary directory, booting a kernel from there.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { kvmAdvice } from '../lib/matrix/accel'
import { bootFailure } from '../lib/matrix/collect'
import { qemuComplaint } from '../lib/matrix/machine'
import { boot } from '../lib/matrix/qemu'
import { UsageError } from '../lib/cli/usage'
import { parseRunArgs, runExitStatus, runJob, type RunResult } from '../lib/matrix/run-main'
import { dependencyDirs, sharesFor, visibleThroughRoot } from '../lib/matrix/shares'
import { ROOT } from './helpers'

const CLI = join(ROOT, 'dist', 'cli.js')
let work: string
beforeAll(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'memseal-matrix-run-')))
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

function write(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, data)
}

describe('memseal run arguments', () => {
  test('kernels, options, and the command after --', () => {
    const a = parseRunArgs(['--kernel', '6.1', '--kernel=6.12', '--env', 'A=b=c', '--scratch', 'out', '--', 'sh', '-c', 'echo --kernel'])
    expect(a).toMatchObject({ kernels: ['6.1', '6.12'], env: { A: 'b=c' }, scratch: 'out', command: ['sh', '-c', 'echo --kernel'] })
    // As with vng --run, the command may follow the options without --.
    expect(parseRunArgs(['--kernel', '6.1', 'uname', '-r']).command).toEqual(['uname', '-r'])
  })

  test.each`
    argv                                            | message
    ${['--', 'true']}                               | ${/at least one --kernel/}
    ${['--kernel', '6.1']}                          | ${/name the command/}
    ${['--kernel', '6.1', '--env', 'X', '--', 'a']} | ${/NAME=VALUE/}
    ${['--kernel', 'arm64:6.1', '--', 'true']}      | ${/this machine's architecture only/}
    ${['--kernel', '6.1', '--frob', '--', 'true']}  | ${/unknown option/}
  `('$argv is refused', ({ argv, message }) => {
    expect(() => parseRunArgs(argv)).toThrow(UsageError)
    expect(() => parseRunArgs(argv)).toThrow(message)
  })

  // One kernel: the command's own status; several: 0 or 1; a kernel that did not run it: 125.
  test('exit status', () => {
    const res = (exitStatus: number | null, status: RunResult['status'] = 'ok'): RunResult => ({ status, exitStatus }) as RunResult
    expect(runExitStatus([res(3)])).toBe(3)
    expect(runExitStatus([res(0), res(0)])).toBe(0)
    expect(runExitStatus([res(0), res(7)])).toBe(1)
    expect(runExitStatus([res(0), res(null, 'boot-failed')])).toBe(125)
  })
})

describe('what the guest is given', () => {
  test('only paths its own /tmp, /run or /var/tmp would hide are shared', () => {
    expect(visibleThroughRoot('/usr/lib/node_modules/memseal')).toBe(true)
    expect(visibleThroughRoot('/tmp/app')).toBe(false)
    expect(visibleThroughRoot('/tmpfoo')).toBe(true)
    expect(sharesFor(['/usr/lib/x', '/home/me/app'])).toEqual([])
    // Packages of one node_modules folder share it; a directory inside another share is left out.
    expect(sharesFor(['/tmp/app/node_modules/memseal', '/tmp/app/node_modules/node-gyp-build', '/tmp/app/node_modules/memseal/dist', '/run/x'])).toEqual([
      { hostPath: '/run/x', guestPath: '/run/x', readonly: true },
      { hostPath: '/tmp/app/node_modules', guestPath: '/tmp/app/node_modules', readonly: true },
    ])
  })

  // npm hoists a dependency's dependencies into the application's node_modules; Node's lookup finds them there.
  test('runtime dependencies, hoisted or nested', () => {
    const app = join(work, 'app')
    write(
      join(app, 'node_modules/memseal/package.json'),
      JSON.stringify({ name: 'memseal', dependencies: { a: '1', missing: '1' }, devDependencies: { jest: '1' } }),
    )
    write(join(app, 'node_modules/a/package.json'), JSON.stringify({ name: 'a', dependencies: { b: '1' } }))
    write(join(app, 'node_modules/a/node_modules/b/package.json'), JSON.stringify({ name: 'b' }))
    expect(dependencyDirs(join(app, 'node_modules/memseal')).sort()).toEqual([join(app, 'node_modules/a'), join(app, 'node_modules/a/node_modules/b')])
  })

  // The current directory (under /tmp here) read-only, the kernel's scratch directory writable, last.
  test('the job of memseal run', () => {
    const args = parseRunArgs(['--kernel', '6.1', '--env', 'X=1', '--', './repro'])
    const job = runJob(args, join(work, 'src'), join(work, 'scratch', '6.1'))
    expect(job).toEqual({
      command: ['./repro'],
      cwd: join(work, 'src'),
      env: { X: '1', MEMSEAL_SCRATCH: join(work, 'scratch', '6.1') },
      shares: [
        { hostPath: join(work, 'src'), guestPath: join(work, 'src'), readonly: true },
        { hostPath: join(work, 'scratch', '6.1'), guestPath: join(work, 'scratch', '6.1'), readonly: false },
      ],
    })
  })
})

describe('a KVM that cannot run the guest', () => {
  /** A stand-in for qemu: a script that behaves as `body` says, whatever its arguments. */
  function fakeQemu(name: string, body: string): string {
    const path = join(work, name)
    writeFileSync(path, `#!/bin/sh\n${body}\n`)
    chmodSync(path, 0o755)
    return path
  }
  const job = { command: ['true'], cwd: '/', shares: [] }
  const base = { image: '/nonexistent/vmlinux', initrd: '/nonexistent/initrd', accel: 'kvm' as const, job, initTimeoutMs: 60_000, timeoutMs: 60_000 }

  // qemu reports the KVM error and then waits on its monitor: the boot ends at once, with qemu's words.
  test('a KVM internal error ends the boot at once and is quoted', async () => {
    const qemu = fakeQemu('qemu-kvm-error', 'echo "KVM internal error. Suberror: 1" >&2; echo "emulation failure" >&2; exec sleep 60')
    const t0 = Date.now()
    const r = await boot({ ...base, qemu, workDir: work })
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(r.end).toBe('accel-failed')
    expect(qemuComplaint(r.qemuStderr)).toBe('KVM internal error. Suberror: 1 emulation failure')
    const failure = bootFailure({ accel: 'kvm', accelError: kvmAdvice(qemuComplaint(r.qemuStderr)!), timeoutMs: 60_000 }, r)
    expect(failure).toEqual({
      status: 'boot-failed',
      error:
        'KVM cannot run the guest here (qemu: KVM internal error. Suberror: 1 emulation failure); use --accel tcg (or --accel auto, which falls back to TCG by itself)',
    })
  })

  // A stock kernel that spins under a nested KVM prints nothing: the first-output deadline ends it.
  test('a silent guest ends at the first-output deadline, not the init deadline', async () => {
    const qemu = fakeQemu('qemu-silent', 'exec sleep 60')
    const t0 = Date.now()
    const r = await boot({ ...base, qemu, workDir: work, firstOutputTimeoutMs: 500 })
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(r.end).toBe('silent')
  })

  // qemu that dies at once with an assertion (this host's nested KVM and -cpu host) is quoted, not a console line.
  test('qemu that exits at once is quoted', async () => {
    const qemu = fakeQemu('qemu-msr', 'echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 134')
    const r = await boot({ ...base, qemu, workDir: work })
    expect(r.initMs).toBeNull()
    expect(qemuComplaint(r.qemuStderr)).toBe('qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69')
    expect(bootFailure({ accel: 'kvm', timeoutMs: 1 }, r)?.error).toMatch(/failed to set MSR 0x10a/)
    // With the advice the machine made of it, the failure is the advice, however qemu ended.
    const advice = kvmAdvice(qemuComplaint(r.qemuStderr)!)
    expect(bootFailure({ accel: 'kvm', accelError: advice, timeoutMs: 1 }, r)).toEqual({ status: 'boot-failed', error: advice })
  })
})

// ---------------------------------------------------------------------------------------------------
// Real kernels

const real = process.env.MEMSEAL_MATRIX_TEST === '1'
const bootTest = real ? test : test.skip
const skipNote = real ? '' : ' (skipped: set MEMSEAL_MATRIX_TEST=1; needs qemu, busybox-static and Debian’s archive)'

function memseal(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 600_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 }
}

bootTest(
  `memseal run on 6.1 and 6.12: output, status and a scratch file per kernel, from a directory under /tmp${skipNote}`,
  () => {
    const src = join(work, 'src')
    write(join(src, 'repro.sh'), 'uname -r\necho "to stderr" >&2\necho "written in the guest" > "$MEMSEAL_SCRATCH/out.txt"\nexit 3\n')
    const scratch = join(work, 'scratch')
    const r = memseal(
      ['run', '--kernel', '6.1', '--kernel', '6.12', '--accel', 'tcg', '--scratch', scratch, '--json', join(work, 'run.json'), '--', 'sh', 'repro.sh'],
      src,
    )
    expect({ status: r.status, stderr: r.stderr.split('\n').slice(-3) }).toMatchObject({ status: 1 })
    const json = JSON.parse(readFileSync(join(work, 'run.json'), 'utf8')) as { results: RunResult[] }
    expect(json.results.map((x) => [x.label, x.status, x.exitStatus, x.stderr])).toEqual([
      ['6.1', 'ok', 3, 'to stderr\n'],
      ['6.12', 'ok', 3, 'to stderr\n'],
    ])
    expect(json.results[0]!.stdout).toMatch(/^6\.1\.0-\d+-amd64\n$/)
    expect(json.results[1]!.stdout).toMatch(/^6\.12\.\d+\+deb13-amd64\n$/)
    for (const x of json.results) expect(readFileSync(join(x.scratch, 'out.txt'), 'utf8')).toBe('written in the guest\n')
    // The terminal: a header per kernel with the exit status, the output under it.
    expect(r.stdout).toMatch(
      /^=== 6\.1 \(6\.1\.0-\d+-amd64\): exit status 3 \(boot [\d.]+ s, command [\d.]+ s, TCG\)\n6\.1\.0-\d+-amd64\n--- stderr ---\nto stderr\n/,
    )
  },
  600_000,
)

bootTest(
  `one kernel: the command's own output streams and its status is memseal's${skipNote}`,
  () => {
    const r = memseal(['run', '--kernel', '6.1', '--accel', 'tcg', '--', 'sh', '-c', 'echo out; echo err >&2; exit 42'], work)
    expect([r.status, r.stdout, r.stderr.includes('err\n')]).toEqual([42, 'out\n', true])
  },
  300_000,
)

// This host's /dev/kvm is a nested KVM that cannot run stock kernels. Where KVM works the command
// runs; where it does not, memseal says so within seconds, quoting qemu, and suggests TCG.
bootTest(
  `--accel kvm fails fast with qemu's own words where KVM cannot run the guest${skipNote}`,
  () => {
    const r = memseal(['run', '--kernel', '6.1', '--accel', 'kvm', '--', 'uname', '-r'], work)
    if (r.status === 0) {
      expect(r.stdout).toMatch(/^6\.1\./)
      return
    }
    expect(r.status).toBe(125)
    expect(r.ms).toBeLessThan(30_000)
    expect(r.stdout).toMatch(/boot-failed: KVM cannot run the guest here \(qemu: .+\); use --accel tcg/)
    // auto falls back to TCG on the same kernel, in seconds, and says what qemu said.
    const auto = memseal(['run', '--kernel', '6.1', '--accel', 'auto', '--', 'uname', '-r'], work)
    expect(auto.status).toBe(0)
    expect(auto.stdout).toMatch(/^6\.1\./)
    const fallback = /KVM failed after ([\d.]+) s \(qemu: (.+)\); booting again under TCG/.exec(auto.stderr)
    expect(fallback).not.toBeNull()
    expect(Number(fallback![1])).toBeLessThan(10)
  },
  300_000,
)

// memseal as a dependency of an application under the system's temporary directory: npm hoists
// node-gyp-build into the application's node_modules, which the guest's own /tmp would hide.
bootTest(
  `installed from its packed tarball into an application under ${tmpdir()}, the matrix boots a kernel${skipNote}`,
  () => {
    const prebuild = join(ROOT, 'prebuilds', `linux-${process.arch}`, 'memseal.node')
    if (
      !existsSync(prebuild) ||
      statSync(prebuild).mtimeMs < Math.max(...readdirSync(join(ROOT, 'native')).map((f) => statSync(join(ROOT, 'native', f)).mtimeMs))
    ) {
      execFileSync('bash', [join(ROOT, 'scripts', 'prebuild.sh'), '--host-only'], { cwd: ROOT, stdio: 'ignore' })
    }
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as Array<{
      filename: string
    }>
    const app = join(work, 'application')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'application', version: '1.0.0', private: true }))
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', join(work, packed[0]!.filename)], { cwd: app, stdio: 'ignore' })
    expect(existsSync(join(app, 'node_modules', 'node-gyp-build', 'package.json'))).toBe(true) // hoisted
    expect(existsSync(join(app, 'node_modules', 'memseal', 'node_modules'))).toBe(false)
    const r = spawnSync(join(app, 'node_modules', '.bin', 'memseal'), ['matrix', '--kernel', '6.1', '--no-host', '--accel', 'tcg', '--json', 'matrix.json'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 600_000,
    })
    const json = JSON.parse(readFileSync(join(app, 'matrix.json'), 'utf8')) as {
      kernels: Array<{ status: string; error: string | null; release: string; report: { results: unknown[] } | null }>
    }
    const k = json.kernels[0]!
    expect({ status: k.status, error: k.error }).toEqual({ status: 'ok', error: null })
    expect(k.release).toMatch(/^6\.1\./)
    expect(k.report!.results.length).toBeGreaterThan(100)
    expect(r.stdout).toContain('wrote matrix.json (JSON)')
  },
  600_000,
)
