/**
 * The container side: the Dockerfile's shape, the shipped seccomp profile, and lib/kernel/container.ts
 * against this machine's real /proc (the CI workflow's own test is test/workflow.test.ts).
 * The image itself is built and run by scripts/test-docker.sh (npm run test:docker), not by jest.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ts from 'typescript'
import { detectContainer, INITIAL_PID_NAMESPACE_INODE, parseSeccompStatus, seccompAdvice, seccompStatus, type ContainerEngine } from '../lib/kernel/container'

const ROOT = join(__dirname, '..')
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')

// ---------------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  op: string
  args: string
  stage: number
}

/** Instructions with continuation lines joined and comments dropped; stage counts FROM lines. */
function dockerfile(): Instruction[] {
  const joined = read('Dockerfile')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
  let stage = -1
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
      if (op.toUpperCase() === 'FROM') stage++
      return { op: op.toUpperCase(), args, stage }
    })
}

describe('Dockerfile', () => {
  const all = dockerfile()
  const froms = all.filter((i) => i.op === 'FROM')
  const last = froms.length - 1

  // The base is a build argument declared before the first FROM; its default is an official Node image.
  test('ARG BASE defaults to an official Debian-based Node image', () => {
    const arg = all.find((i) => i.op === 'ARG' && i.args.startsWith('BASE='))
    expect(arg?.stage).toBe(-1)
    expect(arg?.args).toMatch(/^BASE=node:(\d+|lts)(-(bookworm|trixie|bullseye)(-slim)?)?$/)
  })

  // Multi-stage: every stage starts from the same base; the last one is the runtime.
  test('a build stage and a runtime stage, both FROM ${BASE}', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2)
    for (const f of froms) expect(f.args).toMatch(/^\$\{BASE\}\s+AS\s+\S+$/i)
    expect(froms[0]?.args).toMatch(/AS\s+build$/i)
  })

  // The build stage compiles both halves; the runtime stage copies the result and has no compiler.
  test('the build stage compiles the addon and the TypeScript; the runtime copies them', () => {
    const runs = (stage: number) =>
      all
        .filter((i) => i.stage === stage && i.op === 'RUN')
        .map((i) => i.args)
        .join('\n')
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
    const invoked = [...runs(0).matchAll(/npm run ([\w:-]+)/g)].map((m) => scripts[m[1] ?? ''] ?? '')
    expect(invoked.some((s) => /node-gyp (re)?build/.test(s))).toBe(true)
    expect(invoked.some((s) => /\btsc\b/.test(s))).toBe(true)
    expect(runs(0)).toMatch(/g\+\+/)
    expect(runs(last)).not.toMatch(/apt-get install|g\+\+|node-gyp/)
    expect(all.some((i) => i.stage === last && i.op === 'COPY' && /^--from=build\s/.test(i.args))).toBe(true)
  })

  // The scripts the Dockerfile runs exist in package.json, and every file it copies exists in the tree.
  test('what the build uses exists', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
    for (const [, name = ''] of read('Dockerfile').matchAll(/npm run ([\w:-]+)/g)) expect([name, name in scripts]).toEqual([name, true])
    for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const parts = copy.args.split(/\s+/)
      for (const source of parts.slice(0, -1)) expect([source, existsSync(join(ROOT, source))]).toEqual([source, true])
    }
  })

  // Non-root by default; the default command is the check.
  test('runs as a non-root user and its default command is memseal check', () => {
    const users = all.filter((i) => i.op === 'USER' && i.stage === last)
    expect(users.length).toBeGreaterThan(0)
    expect(users[users.length - 1]?.args).not.toMatch(/^(root|0)(:|$)/)
    const cmd = all.filter((i) => i.op === 'CMD' && i.stage === last).pop()
    expect(JSON.parse(cmd?.args ?? 'null')).toEqual(['memseal', 'check'])
  })

  // Host build outputs and dependencies never enter the build context.
  test('.dockerignore keeps node_modules and build outputs out', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
    for (const entry of ['node_modules', 'build', 'dist', 'prebuilds', '.git']) expect(ignored).toContain(entry)
  })
})

// ---------------------------------------------------------------------------------------------------
// The seccomp profile

interface SeccompRule {
  names: string[]
  action: string
  args?: unknown[] | null
  includes?: Record<string, unknown>
  excludes?: Record<string, unknown>
}

describe('docker/seccomp-mseal.json', () => {
  const profile = JSON.parse(read('docker/seccomp-mseal.json')) as { defaultAction: string; syscalls: SeccompRule[] }
  const empty = (o: unknown) => o === undefined || o === null || (typeof o === 'object' && Object.keys(o).length === 0)

  // It is a default-deny profile like the engines' own, not an allow-all in disguise.
  test('denies by default', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO')
  })

  // mseal is allowed once, unconditionally (no argument filter, no capability or arch condition).
  test('allows mseal unconditionally, exactly once', () => {
    const rules = profile.syscalls.filter((r) => r.names.includes('mseal'))
    expect(rules).toHaveLength(1)
    expect(rules[0]?.action).toBe('SCMP_ACT_ALLOW')
    expect([rules[0]?.args, rules[0]?.includes, rules[0]?.excludes].every(empty)).toBe(true)
  })

  // The rest is the engine default: the calls the suite needs are allowed, and what the default
  // denies stays denied (no CAP_SYS_ADMIN-only call became unconditional).
  test('keeps the default profile around it', () => {
    const unconditional = new Set(profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && empty(r.includes) && empty(r.args)).flatMap((r) => r.names))
    for (const name of ['memfd_create', 'fcntl', 'mmap', 'mprotect', 'madvise', 'munmap', 'mremap']) expect(unconditional.has(name)).toBe(true)
    for (const name of ['unshare', 'mount', 'setns', 'bpf']) expect(unconditional.has(name)).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------------
// lib/kernel/container.ts against this machine

/** What /proc and the file system say, read here independently of the module under test. */
function liveEvidence(): string[] {
  const found: string[] = []
  const text = (p: string) => {
    try {
      return readFileSync(p, 'utf8')
    } catch {
      return ''
    }
  }
  const cgroups = text('/proc/1/cgroup') + text('/proc/self/cgroup')
  if (/\/(docker|kubepods|libpod|lxc|containerd|actions_job)[-/.]|cri-containerd|machine\.slice/.test(cgroups)) found.push('cgroup')
  if (/container=/.test(text('/proc/1/environ'))) found.push('pid 1 container=')
  if (text('/run/host/container-manager').trim() || text('/run/systemd/container').trim()) found.push('container-manager file')
  if (process.env.KUBERNETES_SERVICE_HOST) found.push('KUBERNETES_SERVICE_HOST')
  for (const line of text('/proc/self/mountinfo').split('\n')) {
    const f = line.split(' ')
    if (['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'].includes(f[4] ?? '') && /containers\/|kubelet\/pods|sandboxes\//.test(f[3] ?? '')) {
      found.push(`bind mount ${f[4]}`)
    }
  }
  return found
}

/** The file system type of /, from this process's mountinfo. */
function rootFsType(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left = '', right = ''] = line.split(' - ')
    if (left.split(' ')[4] === '/') return right.split(' ')[0] ?? ''
  }
  return ''
}

function initialPidNamespace(): boolean {
  return readlinkSync('/proc/self/ns/pid') === `pid:[${INITIAL_PID_NAMESPACE_INODE}]`
}

describe('detectContainer on this machine', () => {
  const info = detectContainer()
  const markers = ['/.dockerenv', '/run/.containerenv'].filter((p) => existsSync(p))
  const overlayRoot = rootFsType() === 'overlay'
  const live = liveEvidence()
  const expected = live.length > 0 || ((markers.length > 0 || overlayRoot) && !initialPidNamespace())

  // The answer follows from the evidence: live evidence, or marker files outside the initial pid namespace.
  test(`container is ${expected} (live: [${live.join(', ')}], markers: [${markers.join(', ')}], initial pid ns: ${initialPidNamespace()})`, () => {
    expect(info.container).toBe(expected)
    if (!expected) expect(info.engine).toBeNull()
    else expect(info.engine).not.toBeNull()
  })

  // Each marker file that exists is named in the evidence, and so is the pid namespace.
  test('the evidence names what it looked at', () => {
    for (const m of markers) expect(info.evidence.some((e) => e.startsWith(m))).toBe(true)
    expect(info.evidence.some((e) => /pid namespace/.test(e))).toBe(true)
    expect(info.evidence.some((e) => /^\/ is \S+ /.test(e))).toBe(true)
  })

  // A marker file in the initial pid namespace (a VM image made from a container image) is not a container.
  test('marker files alone do not count in the initial pid namespace', () => {
    if (markers.length > 0 && live.length === 0 && initialPidNamespace()) {
      expect(info.container).toBe(false)
      expect(info.evidence.some((e) => /left over/.test(e))).toBe(true)
    } else {
      expect(info.evidence.some((e) => /left over/.test(e))).toBe(false)
    }
  })
})

/** container.ts compiled to plain JavaScript, for child processes that jest's transform does not reach. */
function compiledModule(dir: string): string {
  const out = ts.transpileModule(read('lib/kernel/container.ts'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  })
  const file = join(dir, 'container.js')
  writeFileSync(file, out.outputText)
  return file
}

const isRoot = process.getuid?.() === 0
const unshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0

describe('detectContainer in a private pid namespace', () => {
  // Outside the initial pid namespace, a marker file counts: the same evidence now means a container.
  // Needs root (or user namespaces) for unshare --pid --mount-proc; the skip says so.
  ;(isRoot && unshare ? test : test.skip)(
    `marker files count outside the initial pid namespace${isRoot && unshare ? '' : ' (skipped: needs root and unshare(1))'}`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'memseal-container-'))
      try {
        const mod = compiledModule(dir)
        const r = spawnSync(
          'unshare',
          [
            '--pid',
            '--fork',
            '--mount-proc',
            process.execPath,
            '-e',
            `process.stdout.write(JSON.stringify(require(${JSON.stringify(mod)}).detectContainer()))`,
          ],
          { encoding: 'utf8' },
        )
        expect(r.status).toBe(0)
        const child = JSON.parse(r.stdout) as { container: boolean; engine: ContainerEngine | null; evidence: string[] }
        expect(child.evidence.some((e) => /pid namespace is not the initial one/.test(e))).toBe(true)
        const markers = ['/.dockerenv', '/run/.containerenv'].filter((p) => existsSync(p))
        const live = liveEvidence().length > 0
        expect(child.container).toBe(markers.length > 0 || live || rootFsType() === 'overlay')
        if (!live && markers[0] === '/.dockerenv') expect(child.engine).toBe('docker')
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  )
})

// ---------------------------------------------------------------------------------------------------
// seccomp

describe('seccompStatus', () => {
  // The fields as /proc/self/status gives them to this process.
  test('matches /proc/self/status', () => {
    const status = readFileSync('/proc/self/status', 'utf8')
    const mode = Number(/^Seccomp:\s*(\d+)/m.exec(status)?.[1] ?? 0)
    const filters = Number(/^Seccomp_filters:\s*(\d+)/m.exec(status)?.[1] ?? 0)
    expect(seccompStatus()).toEqual({ mode, filters })
  })

  // A process in strict mode (SECCOMP_MODE_STRICT) reads its own status and sees mode 1. Perl enters
  // strict mode with prctl(PR_SET_SECCOMP = 22, 1) after opening the file; read and write stay allowed.
  const perl = spawnSync('perl', ['-e', '0']).status === 0
  ;(perl ? test : test.skip)(`parses a strict-mode process's status as mode 1${perl ? '' : ' (skipped: needs perl)'}`, () => {
    // Everything is allocated before prctl: strict mode kills the process on brk or mmap.
    const script =
      'open(my $f, "<", "/proc/self/status") or die; my $b = "\\0" x 65536; my $n = 0;' +
      ' syscall(157, 22, 1, 0, 0, 0) == 0 or die "prctl: $!"; $n = sysread($f, $b, 65536); syswrite(STDOUT, $b, $n); syscall(60, 0);'
    const r = spawnSync('perl', ['-e', process.arch === 'x64' ? script : script.replace('157', '167').replace('(60', '(93')], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^Seccomp:\s*1$/m)
    expect(parseSeccompStatus(r.stdout).mode).toBe(1)
  })

  // Kernels before 5.9 have no Seccomp_filters line; the count is then 0, the mode still read.
  test('reads the mode without a Seccomp_filters line', () => {
    expect(parseSeccompStatus('Name:\tx\nSeccomp:\t2\nSpeculation_Store_Bypass:\tthread vulnerable\n')).toEqual({ mode: 2, filters: 0 })
  })
})

describe('seccompAdvice', () => {
  // Every engine's advice names the syscall and a concrete way to lift the block.
  test.each`
    engine              | lift
    ${'docker'}         | ${/docker run --security-opt seccomp=unconfined.*docker\/seccomp-mseal\.json/}
    ${'podman'}         | ${/podman run --security-opt seccomp=unconfined/}
    ${null}             | ${/--security-opt seccomp=unconfined/}
    ${'kubernetes'}     | ${/seccompProfile.*Unconfined.*Localhost/}
    ${'containerd'}     | ${/seccomp=unconfined/}
    ${'systemd-nspawn'} | ${/--system-call-filter=mseal/}
    ${'lxc'}            | ${/lxc\.seccomp\.profile/}
  `('$engine: $lift', ({ engine, lift }: { engine: ContainerEngine | null; lift: RegExp }) => {
    const text = seccompAdvice('mseal', engine)
    expect(text).toMatch(/blocks mseal/)
    expect(text).toMatch(lift)
  })

  // For another syscall, the advice does not offer the mseal profile as the fix.
  test('names the syscall it is about', () => {
    expect(seccompAdvice('pkey_mprotect', 'docker')).toMatch(/a profile that also allows pkey_mprotect/)
    expect(seccompAdvice('pkey_mprotect', 'docker')).not.toMatch(/seccomp-mseal/)
  })
})
