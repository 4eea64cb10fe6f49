/**
 * The kernel matrix without booting anything: spec parsing, Debian package and version rules, the
 * initramfs archive, module ordering, vmlinux extraction, outcome classification and the rendered
 * table. One test boots a real Debian kernel under qemu when MEMSEAL_MATRIX_TEST=1.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AccelChooser } from '../lib/matrix/accel'
import { parseArgs, UsageError } from '../lib/matrix/args'
import { defaultCacheDir } from '../lib/matrix/cache'
import { errnoOf, parseReport, runFromBoot, type RunContext, versionOfRelease } from '../lib/matrix/collect'
import { readCpio, writeCpio } from '../lib/matrix/cpio'
import { compareDebianVersions } from '../lib/matrix/debversion'
import { JOB_FILE, jobScript, MARK_EXIT, MARK_INIT, MARK_RUN, shellQuote } from '../lib/matrix/guest-init'
import { matrixJob, matrixMain, matrixPassed, runMatrix, uniqueLabels } from '../lib/matrix/index'
import { type Prepared } from '../lib/matrix/prepare'
import { buildInitramfs, isStaticElf } from '../lib/matrix/initramfs'
import { moduleDepends, resolveModules } from '../lib/matrix/modules'
import { type BootResult, qemuArgs } from '../lib/matrix/qemu'
import { abiInSeries, imagePackageAbi, parseSpec, SpecError, specArch, specLabel } from '../lib/matrix/specs'
import { guestCommand, stageGuestPackage } from '../lib/matrix/guest-package'
import { finishRoot, GUEST_PACKAGE_DIR } from '../lib/matrix/userland'
import { buildCells, cellText, renderJson, renderMarkdown } from '../lib/matrix/table'
import { type GuestReport, type GuestResult, type KernelRun, type MatrixReport } from '../lib/matrix/types'
import { bannerRelease, extractArm64Image, extractVmlinux, isArm64Image, isCompleteElf } from '../lib/matrix/vmlinux'

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

let scratch: string
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'memseal-matrix-test-'))
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------------
// Specs and Debian packages

describe('kernel specs', () => {
  // A known series is looked up in the suite where it is the stable kernel.
  test.each`
    text              | series    | suites
    ${'5.10'}         | ${'5.10'} | ${['bullseye', 'bullseye-security']}
    ${'6.1'}          | ${'6.1'}  | ${['bookworm', 'bookworm-security']}
    ${'6.12'}         | ${'6.12'} | ${['trixie', 'trixie-security']}
    ${'newest'}       | ${null}   | ${['sid']}
    ${'sid'}          | ${null}   | ${['sid']}
    ${'experimental'} | ${null}   | ${['experimental']}
    ${'7.3'}          | ${'7.3'}  | ${['sid', 'experimental']}
  `('$text → series $series in $suites', ({ text, series, suites }) => {
    expect(parseSpec(text)).toEqual({ kind: 'debian', spec: text, series, suites })
  })

  // A path is a local kernel, with or without its modules directory.
  test.each`
    text                           | image           | modules
    ${'./vmlinuz'}                 | ${'./vmlinuz'}  | ${null}
    ${'/k/bzImage:/k/modules/6.9'} | ${'/k/bzImage'} | ${'/k/modules/6.9'}
  `('$text → local image $image, modules $modules', ({ text, image, modules }) => {
    expect(parseSpec(text)).toEqual({ kind: 'local', spec: text, image, modules })
  })

  // Anything else is refused with the spec named.
  test.each(['', 'bookworm', '6', 'v6.1', '/k/img:'])('"%s" is refused', (text) => {
    expect(() => parseSpec(text)).toThrow(SpecError)
  })

  // Local kernels are named by their file in the table.
  test('labels', () => {
    expect(specLabel(parseSpec('6.1'))).toBe('6.1')
    expect(specLabel(parseSpec('/boot/vmlinuz-6.9.0:/lib/modules/6.9.0'))).toBe('vmlinuz-6.9.0')
    expect(uniqueLabels(['6.1', 'vmlinuz', 'vmlinuz', 'host'])).toEqual(['6.1', 'vmlinuz', 'vmlinuz#3', 'host#4'])
  })
})

describe('Debian kernel packages', () => {
  // Only the plain flavour's unsigned image counts; rt and cloud flavours are other packages.
  test.each`
    name                                                | abi                   | split
    ${'linux-image-6.1.0-56-amd64-unsigned'}            | ${'6.1.0-56'}         | ${false}
    ${'linux-image-5.10.0-46-amd64-unsigned'}           | ${'5.10.0-46'}        | ${false}
    ${'linux-image-6.12.117+deb13-amd64-unsigned'}      | ${'6.12.117+deb13'}   | ${false}
    ${'linux-image-6.12.115+deb13.1-amd64-unsigned'}    | ${'6.12.115+deb13.1'} | ${false}
    ${'linux-binary-unsigned-7.2.13+deb14-amd64'}       | ${'7.2.13+deb14'}     | ${true}
    ${'linux-binary-unsigned-7.3-amd64'}                | ${'7.3'}              | ${true}
    ${'linux-image-6.1.0-56-rt-amd64-unsigned'}         | ${null}               | ${null}
    ${'linux-image-6.1.0-56-cloud-amd64-unsigned'}      | ${null}               | ${null}
    ${'linux-image-6.1.0-56-amd64'}                     | ${null}               | ${null}
    ${'linux-binary-unsigned-7.2.13+deb14-cloud-amd64'} | ${null}               | ${null}
  `('$name → $abi', ({ name, abi, split }) => {
    expect(imagePackageAbi(name, 'amd64')).toEqual(abi === null ? null : { abi, split })
  })

  // 6.1 is not a prefix match for 6.12.
  test.each`
    abi                 | series    | inSeries
    ${'6.1.0-56'}       | ${'6.1'}  | ${true}
    ${'6.12.117+deb13'} | ${'6.1'}  | ${false}
    ${'6.12.117+deb13'} | ${'6.12'} | ${true}
    ${'7.3'}            | ${'7.3'}  | ${true}
    ${'7.30.1'}         | ${'7.3'}  | ${false}
    ${'5.10.0-46'}      | ${null}   | ${true}
  `('$abi in $series: $inSeries', ({ abi, series, inSeries }) => {
    expect(abiInSeries(abi, series)).toBe(inSeries)
  })

  // deb-version(7): epochs, ~ before everything, numeric runs compared as numbers.
  test.each`
    a                   | b                       | sign
    ${'6.1.192-2'}      | ${'6.1.192-10'}         | ${-1}
    ${'6.12.117-1'}     | ${'6.12.117-1~deb12u1'} | ${1}
    ${'1.0~rc1'}        | ${'1.0'}                | ${-1}
    ${'1:0.1'}          | ${'2.0'}                | ${1}
    ${'5.10.262-1'}     | ${'5.10.262-1'}         | ${0}
    ${'1.0a'}           | ${'1.0'}                | ${1}
    ${'1.0'}            | ${'1.0+b1'}             | ${-1}
    ${'7.3~rc7-1~exp1'} | ${'7.2.13-1'}           | ${1}
  `('compare($a, $b) = $sign', ({ a, b, sign }) => {
    expect(Math.sign(compareDebianVersions(a, b))).toBe(sign)
    expect(Math.sign(compareDebianVersions(b, a))).toBe(sign === 0 ? 0 : -sign)
  })

  // The same answers as dpkg itself, where dpkg is installed.
  ;(have('dpkg') ? test : test.skip)('agrees with dpkg --compare-versions (skipped without dpkg)', () => {
    const pairs = [
      ['6.1.192-2', '6.1.192-10'],
      ['1.0~~', '1.0~'],
      ['2.0-1', '2.0-1.1'],
      ['0:1.2', '1.2'],
      ['1.2.3a', '1.2.3-1'],
    ]
    for (const [a, b] of pairs as Array<[string, string]>) {
      const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0
      const eq = spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0
      expect(Math.sign(compareDebianVersions(a, b))).toBe(eq ? 0 : lt ? -1 : 1)
    }
  })

  // The cache honours MEMSEAL_CACHE, then XDG_CACHE_HOME.
  test('cache directory', () => {
    expect(defaultCacheDir({ MEMSEAL_CACHE: '/c' })).toBe('/c')
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/memseal')
    expect(defaultCacheDir({})).toMatch(/\.cache\/memseal$/)
  })
})

// ---------------------------------------------------------------------------------------------------
// Command line

describe('matrix arguments', () => {
  // Without --kernel the known series and the newest run.
  test('defaults', () => {
    const a = parseArgs([])
    expect(a).toMatchObject({ kernels: ['5.10', '6.1', '6.12', 'newest'], accel: 'auto', host: true, timeoutMs: 300_000, json: null })
  })

  // --kernel repeats (duplicates dropped); --opt=value works too.
  test('repeated kernels and inline values', () => {
    const a = parseArgs(['--kernel', '6.1', '--kernel=6.12', '-k', '6.1', '--accel=tcg', '--no-host', '--timeout', '90', '--json', '-'])
    expect(a).toMatchObject({ kernels: ['6.1', '6.12'], accel: 'tcg', host: false, timeoutMs: 90_000, json: '-' })
  })

  test.each([['--accel', 'xen'], ['--timeout', '0'], ['--kernel'], ['--frobnicate']])('%s %s is a usage error', (...argv) => {
    expect(() => parseArgs(argv.filter((a): a is string => a !== undefined))).toThrow(UsageError)
  })

  // Usage errors exit 2 before anything is fetched.
  test('matrixMain returns 2 on usage errors', async () => {
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      expect(await matrixMain(['--accel', 'xen'])).toBe(2)
      expect(await matrixMain(['--kernel', 'bookworm'])).toBe(2)
    } finally {
      write.mockRestore()
    }
  })
})

// ---------------------------------------------------------------------------------------------------
// Acceleration

describe('acceleration choice', () => {
  // With auto, KVM is tried first and on failure the same kernel is retried under TCG, then TCG stays.
  test('auto falls back to TCG when KVM never reaches init, quoting qemu', () => {
    const c = new AccelChooser('auto', true)
    expect(c.plan()).toEqual(['kvm', 'tcg'])
    expect(c.initTimeoutFor('kvm', 120_000)).toBe(10_000)
    expect(c.firstOutputTimeoutFor('kvm', 120_000)).toBe(4_000)
    expect(c.firstOutputTimeoutFor('tcg', 120_000)).toBe(120_000)
    c.observe('kvm', { reachedInit: false, detail: 'KVM internal error. Suberror: 1' })
    c.observe('tcg', { reachedInit: true, detail: '' })
    expect(c.plan()).toEqual(['tcg'])
    expect(c.used()).toBe('tcg')
    expect(c.reason).toContain('KVM internal error. Suberror: 1')
    expect(c.kvmFailure).toBe('KVM internal error. Suberror: 1')
  })

  // A kernel that boots under neither leaves the question open.
  test('a broken kernel does not condemn KVM', () => {
    const c = new AccelChooser('auto', true)
    c.observe('kvm', { reachedInit: false, detail: 'x' })
    c.observe('tcg', { reachedInit: false, detail: '' })
    expect(c.plan()).toEqual(['kvm', 'tcg'])
    c.observe('kvm', { reachedInit: true, detail: '' })
    expect(c.plan()).toEqual(['kvm'])
    expect(c.used()).toBe('kvm')
  })

  test('no usable /dev/kvm, or tcg requested: TCG only', () => {
    expect(new AccelChooser('auto', false).plan()).toEqual(['tcg'])
    expect(new AccelChooser('tcg', true).plan()).toEqual(['tcg'])
    expect(new AccelChooser('kvm', false).plan()).toEqual(['kvm'])
  })
})

// ---------------------------------------------------------------------------------------------------
// initramfs

describe('cpio newc', () => {
  // Every header starts on a 4-byte boundary with the newc magic; device numbers and modes survive.
  test('round trip', () => {
    const archive = writeCpio([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: '/bin/hello', data: 'abc', mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    ])
    expect(archive.length % 4).toBe(0)
    expect(archive.toString('latin1', 0, 6)).toBe('070701')
    expect(archive.toString('latin1').endsWith('TRAILER!!!\0\0\0\0')).toBe(true)
    const members = readCpio(archive)
    expect(members.map((m) => [m.path, m.mode.toString(8)])).toEqual([
      ['bin', '40755'],
      ['bin/hello', '100755'],
      ['bin/sh', '120777'],
      ['dev/console', '20600'],
    ])
    expect(members[1]!.data.toString()).toBe('abc')
    expect(members[2]!.data.toString()).toBe('busybox')
    expect(members[3]!.rdev).toEqual([5, 1])
  })

  // Names and data of every length pad correctly (the kernel rejects a misaligned header).
  test.each([0, 1, 2, 3, 4, 5])('data of %i bytes', (n) => {
    const archive = writeCpio([{ type: 'file', path: 'x'.repeat(n + 1), data: Buffer.alloc(n, 7) }])
    const [m] = readCpio(archive) as [ReturnType<typeof readCpio>[number]]
    expect(m.data).toEqual(Buffer.alloc(n, 7))
  })
})

/** A minimal 64-bit ELF header; `interp` adds a PT_INTERP program header (a dynamic executable). */
function fakeElf(size: number, interp = false): Buffer {
  const b = Buffer.alloc(size)
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(b)
  b.writeBigUInt64LE(64n, 0x20) // e_phoff
  b.writeBigUInt64LE(BigInt(size - 64), 0x28) // e_shoff: one section header at the very end
  b.writeUInt16LE(56, 0x36) // e_phentsize
  b.writeUInt16LE(1, 0x38) // e_phnum
  b.writeUInt16LE(64, 0x3a) // e_shentsize
  b.writeUInt16LE(1, 0x3c) // e_shnum
  b.writeUInt32LE(interp ? 3 : 1, 64) // p_type: PT_INTERP or PT_LOAD
  return b
}

describe('initramfs', () => {
  const modules = [
    { name: 'virtio_pci', data: Buffer.from('A') },
    { name: '9p', data: Buffer.from('B') },
  ]

  // busybox must be static: a dynamic one cannot run before the root is mounted.
  test('static ELF detection', () => {
    expect(isStaticElf(fakeElf(256))).toBe(true)
    expect(isStaticElf(fakeElf(256, true))).toBe(false)
    expect(() => buildInitramfs({ busybox: fakeElf(256, true), modules })).toThrow(/statically linked/)
  })

  // The archive holds init, busybox, a console node and the modules, and init loads them in order.
  test('archive structure', () => {
    const busybox = fakeElf(512)
    const archive = buildInitramfs({ busybox, modules })
    const byPath = new Map(readCpio(archive).map((m) => [m.path, m]))
    expect([...byPath.keys()].sort()).toEqual([
      'bin',
      'bin/busybox',
      'bin/sh',
      'dev',
      'dev/console',
      'init',
      'modules',
      'modules/9p.ko',
      'modules/virtio_pci.ko',
      'newroot',
      'proc',
      'sys',
    ])
    expect(byPath.get('init')!.mode).toBe(0o100755)
    expect(byPath.get('dev/console')!.rdev).toEqual([5, 1])
    expect(byPath.get('bin/busybox')!.data).toEqual(busybox)
    const init = byPath.get('init')!.data.toString()
    expect(init.startsWith('#!/bin/busybox sh\n')).toBe(true)
    expect(init).toContain('for m in virtio_pci 9p; do')
    // The initramfs holds no command: the job comes over the control share.
    expect(init).toContain('mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /ctl')
    expect(init).toContain(`. /ctl/${JOB_FILE}`)
    expect(init).toContain(MARK_INIT)
  })

  // The root is mounted read-only; /tmp, /dev/shm and friends are the guest's own tmpfs; the shares
  // follow in order, read-only or writable, and the command runs from its directory.
  test('job script', () => {
    const job = jobScript({
      command: ['node', 'dist/cli.js', 'check', '--json'],
      cwd: '/srv/my project',
      env: { MEMSEAL_SCRATCH: '/tmp/s' },
      shares: [
        { hostPath: '/tmp/app/node_modules', guestPath: '/tmp/app/node_modules', readonly: true },
        { hostPath: '/tmp/s', guestPath: '/tmp/s', readonly: false },
      ],
    })
    expect(job).toMatch(/mount -t 9p -o \S*,ro,\S* hostroot \$R/)
    expect(job).toContain('mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/dev/shm')
    expect(job).toContain('for d in /tmp /run /var/tmp; do')
    expect(job).toContain('mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R$d"')
    expect(job).toContain('mount -t devtmpfs devtmpfs $R/dev')
    expect(job).toContain('mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose share0 $R/tmp/app/node_modules')
    expect(job).toContain('mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share1 $R/tmp/s')
    expect(job.indexOf('share0')).toBeLessThan(job.indexOf('share1'))
    expect(job).toContain("/bin/sh -c 'cd '\\''/srv/my project'\\'' && exec node dist/cli.js check --json' </dev/null >/ctl/stdout 2>/ctl/stderr")
    expect(job).toContain('MEMSEAL_SCRATCH=/tmp/s')
    for (const mark of [MARK_RUN, MARK_EXIT]) expect(job).toContain(mark)
    // The script is valid sh.
    expect(spawnSync('sh', ['-n', '-c', job]).status).toBe(0)
  })

  test.each`
    word       | quoted
    ${'plain'} | ${'plain'}
    ${'a b'}   | ${"'a b'"}
    ${"it's"}  | ${"'it'\\''s'"}
    ${'$HOME'} | ${"'$HOME'"}
  `('shellQuote($word)', ({ word, quoted }) => {
    expect(shellQuote(word)).toBe(quoted)
    expect(spawnSync('sh', ['-c', `printf %s ${quoted}`]).stdout.toString()).toBe(word)
  })

  // The host's root, the project and the out share reach qemu; only the out share is writable.
  test('qemu arguments', () => {
    const job = { command: ['true'], cwd: '/', shares: [{ hostPath: '/tmp/p', guestPath: '/tmp/p', readonly: true }] }
    const args = qemuArgs({ image: '/k/vmlinux', initrd: '/k/i.cpio', accel: 'tcg', job, workDir: '/w', initTimeoutMs: 1, timeoutMs: 1 }, '/w/out')
    const fsdevs = args.filter((_, i) => args[i - 1] === '-fsdev')
    expect(fsdevs).toEqual([
      'local,id=hostroot,path=/,security_model=none,multidevs=remap,readonly=on',
      'local,id=out,path=/w/out,security_model=none,multidevs=remap',
      'local,id=share0,path=/tmp/p,security_model=none,multidevs=remap,readonly=on',
    ])
    expect(args.join(' ')).toContain('-accel tcg,thread=multi -cpu max')
    expect(args).toContain('-no-reboot')
  })
})

// ---------------------------------------------------------------------------------------------------
// Modules and images

describe('modules', () => {
  // depends= comes from .modinfo, a run of NUL-separated key=value strings.
  test('depends field', () => {
    expect(moduleDepends(Buffer.from('\0license=GPL\0depends=netfs,9pnet\0name=9p\0'))).toEqual(['netfs', '9pnet'])
    expect(moduleDepends(Buffer.from('\0depends=\0name=x\0'))).toEqual([])
    expect(moduleDepends(Buffer.from('\0name=x\0'))).toEqual([])
  })

  function modulesTree(builtin: string[] | null): string {
    const dir = mkdtempSync(join(scratch, 'mods-'))
    const ko = (rel: string, depends: string): void => {
      mkdirSync(join(dir, 'kernel', rel, '..'), { recursive: true })
      writeFileSync(join(dir, 'kernel', rel), `\0depends=${depends}\0`)
    }
    ko('fs/9p/9p.ko', '9pnet,netfs')
    ko('net/9p/9pnet.ko', '')
    ko('net/9p/9pnet_virtio.ko', '9pnet,virtio_ring')
    ko('fs/netfs/netfs.ko', 'fscache')
    ko('fs/fscache/fscache.ko', '')
    if (builtin) writeFileSync(join(dir, 'modules.builtin'), builtin.map((m) => `kernel/drivers/virtio/${m}.ko\n`).join(''))
    return dir
  }

  // Dependencies load first; built-in ones are left out.
  test('load order', () => {
    const order = resolveModules(modulesTree(['virtio_pci', 'virtio_ring'])).map((m) => m.name)
    expect(order).toEqual(['9pnet', 'virtio_ring', '9pnet_virtio', 'fscache', 'netfs', '9p'].filter((m) => m !== 'virtio_ring'))
  })

  // A module that is neither present nor built in is an error naming who needed it.
  test('missing module', () => {
    expect(() => resolveModules(modulesTree(['virtio_pci']))).toThrow(/virtio_ring \(needed by 9pnet_virtio\)/)
  })

  // Compressed modules are decompressed for busybox insmod.
  ;(have('xz') ? test : test.skip)('.ko.xz (skipped without xz)', () => {
    const dir = modulesTree(['virtio_pci', 'virtio_ring'])
    const plain = join(dir, 'kernel/fs/9p/9p.ko')
    expect(spawnSync('xz', [plain]).status).toBe(0)
    const nine = resolveModules(dir).find((m) => m.name === '9p')!
    expect(nine.data.toString()).toBe('\0depends=9pnet,netfs\0')
  })
})

describe('vmlinux extraction', () => {
  // The ELF is found after the bzImage's setup code and decompressed; trailing bytes do not matter.
  ;(have('xz') ? test : test.skip)('from an xz payload, and not from a truncated one (skipped without xz)', () => {
    const elf = fakeElf(64 * 1024)
    elf.fill(0x5a, 200, elf.length - 64)
    const xz = spawnSync('xz', ['-c', '--check=crc32'], { input: elf }).stdout
    const image = join(scratch, 'bzImage')
    writeFileSync(image, Buffer.concat([Buffer.alloc(5000, 0x90), xz, Buffer.alloc(300, 0xee)]))
    const out = join(scratch, 'vmlinux')
    expect(extractVmlinux(image, out)).toBe('xz')
    expect(readFileSync(out)).toEqual(elf)
    expect(isCompleteElf(out)).toBe(true)

    const cut = join(scratch, 'bzImage-cut')
    writeFileSync(cut, Buffer.concat([Buffer.alloc(5000, 0x90), xz.subarray(0, xz.length >> 1)]))
    expect(extractVmlinux(cut, join(scratch, 'vmlinux-cut'))).toBeNull()
    expect(existsSync(join(scratch, 'vmlinux-cut'))).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------------
// Outcomes and the table

const result = (id: string, status: GuestResult['status'], observed: string | null, reason: string | null = null): GuestResult => ({
  id,
  area: id.split('.')[0]!,
  status,
  statement: id,
  expected: '',
  observed,
  reason,
})

function report(release: string, results: GuestResult[]): GuestReport {
  return { tool: { name: 'memseal', version: '0' }, kernel: { release, machine: 'x86_64' }, environment: { seccomp: 0, root: true }, results }
}

function column(label: string, r: GuestReport | null, extra: Partial<KernelRun> = {}): KernelRun {
  return {
    spec: label,
    label,
    status: r ? 'ok' : 'boot-failed',
    release: r?.kernel.release ?? null,
    version: null,
    accel: label === 'host' ? 'host' : 'tcg',
    packages: [],
    timing: { fetchMs: 1000, prepareMs: 200, bootMs: 2500, runMs: 30_000, totalMs: 34_000 },
    error: r ? null : 'the guest never reached /init',
    consoleTail: r ? null : 'Kernel panic - not syncing',
    environment: r?.environment ?? null,
    report: r,
    ...extra,
  }
}

function fixtureMatrix(): MatrixReport {
  const kernels = [
    column(
      'host',
      report('6.18.44', [
        result('memfd.flags.unknown-bit', 'pass', '-1/EINVAL'),
        result('seal.grow.pwrite-straddle', 'pass', 'short write 2'),
        result('mseal.basic', 'pass', '0'),
      ]),
    ),
    column(
      '6.1',
      report('6.1.0-56-amd64', [
        result('memfd.flags.unknown-bit', 'pass', '-1/EINVAL'),
        result('seal.grow.pwrite-straddle', 'known', '-1/EPERM'),
        result('mseal.basic', 'skip', 'ENOSYS', 'mseal(2) arrived in 6.10'),
      ]),
    ),
    column('5.10', null),
  ]
  return {
    tool: { name: 'memseal', command: 'matrix' },
    createdAt: '2026-01-01T00:00:00.000Z',
    host: { release: '6.18.44', machine: 'x86_64' },
    accel: { requested: 'auto', used: 'tcg', reason: 'KVM did not work' },
    durationMs: 100_000,
    kernels,
    clauses: ['memfd.flags.unknown-bit', 'seal.grow.pwrite-straddle', 'mseal.basic'],
  }
}

describe('table', () => {
  // An errno shows where it differs from the host's; a skip shows its status only.
  test('cells', () => {
    const m = fixtureMatrix()
    const cells = buildCells(m.kernels, m.clauses)
    expect(cellText(cells['memfd.flags.unknown-bit']!['6.1']!)).toBe('pass')
    expect(cellText(cells['seal.grow.pwrite-straddle']!['6.1']!)).toBe('known (EPERM)')
    expect(cellText(cells['seal.grow.pwrite-straddle']!.host!)).toBe('pass')
    expect(cellText(cells['mseal.basic']!['6.1']!)).toBe('skip')
    expect(cells['mseal.basic']!['6.1']!.reason).toBe('mseal(2) arrived in 6.10')
    expect(cellText(cells['mseal.basic']!['5.10']!)).toBe('–')
    // Nothing observed (a broken clause) is not an errno difference.
    m.kernels[1]!.report!.results[0] = result('memfd.flags.unknown-bit', 'broken', null, 'timed out')
    expect(cellText(buildCells(m.kernels, m.clauses)['memfd.flags.unknown-bit']!['6.1']!)).toBe('broken')
  })

  // Markdown: the verdict first, totals, the behaviour difference apart from the absent feature, the
  // failed kernel with its console, and the whole grid folded away.
  test('markdown', () => {
    const md = renderMarkdown(fixtureMatrix())
    expect(md).toContain('guests under **TCG** (KVM did not work); 100 s in all')
    expect(md).toContain('**Verdict: FAIL: 1 of 3 kernels without a report (5.10: boot-failed)**')
    expect(md).toContain('| 6.1 | 6.1.0-56-amd64 | ok | 1 | 0 | 1 | 1 | 0 | tcg | 2.5 s | 30 s | 34 s |')
    const differ = md.slice(md.indexOf('## Behaviour differences'), md.indexOf('## Features absent'))
    expect(differ).toContain('| `seal.grow.pwrite-straddle` | **pass** on host (short write 2); **known** on 6.1 (-1/EPERM) |')
    expect(differ).not.toContain('mseal.basic')
    expect(differ).not.toContain('memfd.flags.unknown-bit')
    expect(md).toContain('- mseal: 1 clause skipped on 6.1, arrived in 6.10')
    expect(md).toContain('| `seal.grow.pwrite-straddle` | pass | known (EPERM) | – |')
    expect(md).toMatch(/### 5\.10: boot-failed\n\nthe guest never reached \/init\n\n```text\nKernel panic - not syncing\n```/)
  })

  // The JSON carries every kernel's report and the cells, for CI.
  test('json', () => {
    const json = JSON.parse(renderJson(fixtureMatrix())) as MatrixReport & { cells: Record<string, Record<string, { status: string; errno: string | null }>> }
    expect(json.kernels.map((k) => [k.spec, k.status])).toEqual([
      ['host', 'ok'],
      ['6.1', 'ok'],
      ['5.10', 'boot-failed'],
    ])
    expect(json.cells['seal.grow.pwrite-straddle']!['6.1']!).toEqual({ status: 'known', errno: 'EPERM', reason: null })
    expect(json.kernels[2]!.consoleTail).toBe('Kernel panic - not syncing')
  })

  // The matrix passes only when every kernel reported and nothing diverges or is broken.
  test('verdict', () => {
    const m = fixtureMatrix()
    expect(matrixPassed(m)).toBe(false)
    m.kernels.pop()
    expect(matrixPassed(m)).toBe(true)
    m.kernels[1]!.report!.results[0]!.status = 'diverges'
    expect(matrixPassed(m)).toBe(false)
  })
})

describe('outcomes', () => {
  const ctx: RunContext = {
    spec: '6.1',
    label: '6.1',
    imageNote: null,
    release: '6.1.0-56-amd64',
    packages: [],
    accel: 'tcg',
    fetchMs: 0,
    prepareMs: 0,
    timeoutMs: 300_000,
  }
  const good = JSON.stringify(report('6.1.0-56-amd64', [result('memfd.x', 'pass', 'fd')]))
  const boot = (b: Partial<BootResult>): BootResult => ({
    end: 'exited',
    qemuStatus: 0,
    initMs: 2000,
    runMs: 1000,
    totalMs: 4000,
    guestStatus: 0,
    guestFailure: null,
    stdout: good,
    stderr: '',
    console: 'memseal-init: start\r\n',
    qemuStderr: '',
    outDir: null,
    ...b,
  })

  test.each`
    what                      | b                                                         | status           | error
    ${'a report'}             | ${{}}                                                     | ${'ok'}          | ${null}
    ${'exit 1 with a report'} | ${{ guestStatus: 1 }}                                     | ${'ok'}          | ${null}
    ${'no init marker'}       | ${{ initMs: null, guestStatus: null, stdout: '' }}        | ${'boot-failed'} | ${/never reached \/init \(qemu exited with status 0\)/}
    ${'init deadline'}        | ${{ end: 'init-timeout', initMs: null }}                  | ${'timeout'}     | ${/did not reach \/init/}
    ${'run deadline'}         | ${{ end: 'timeout', guestStatus: null }}                  | ${'timeout'}     | ${/did not finish within 300 s/}
    ${'init failure'}         | ${{ guestFailure: 'mount host root', guestStatus: null }} | ${'boot-failed'} | ${/init failed: mount host root/}
    ${'panic during the run'} | ${{ guestStatus: null, qemuStatus: 0 }}                   | ${'no-report'}   | ${/did not finish/}
    ${'usage error'}          | ${{ guestStatus: 2 }}                                     | ${'no-report'}   | ${/status 2/}
    ${'not JSON'}             | ${{ stdout: 'Segmentation fault' }}                       | ${'no-report'}   | ${/not JSON/}
  `('$what → $status', ({ b, status, error }) => {
    const run = runFromBoot(ctx, boot(b))
    expect(run.status).toBe(status)
    if (error === null) {
      expect(run.error).toBeNull()
      expect(run.report?.results).toHaveLength(1)
    } else {
      expect(run.error).toMatch(error)
      expect(run.consoleTail).toContain('memseal-init: start')
      expect(run.consoleTail).not.toContain('\r')
    }
  })

  test('report validation', () => {
    expect(() => parseReport('{"kernel":{}}')).toThrow(/kernel.release/)
    expect(() => parseReport('{"kernel":{"release":"6.1"},"results":[{"id":"x","status":"maybe"}]}')).toThrow(/unknown status/)
    expect(parseReport('{"kernel":{"release":"6.1"}}').results).toEqual([])
  })

  test.each`
    observed              | errno
    ${'-1/EPERM'}         | ${'EPERM'}
    ${'EINVAL'}           | ${'EINVAL'}
    ${{ code: 'EACCES' }} | ${'EACCES'}
    ${'fd 3, mode 0666'}  | ${null}
    ${null}               | ${null}
  `('errnoOf($observed) = $errno', ({ observed, errno }) => {
    expect(errnoOf(observed)).toBe(errno)
  })

  test('versionOfRelease', () => {
    expect(versionOfRelease('6.12.117+deb13-amd64')).toEqual([6, 12, 117])
    expect(versionOfRelease('7.3-amd64')).toEqual([7, 3, 0])
  })
})

// ---------------------------------------------------------------------------------------------------
// Other architectures (arm64 guests on an x86-64 host)

describe('arm64 guests', () => {
  // `ARCH:` before any spec names the guest's architecture; the rest parses as before.
  test.each`
    text                  | expected
    ${'arm64:6.1'}        | ${{ kind: 'debian', spec: 'arm64:6.1', series: '6.1', suites: ['bookworm', 'bookworm-security'], arch: 'arm64' }}
    ${'aarch64:newest'}   | ${{ kind: 'debian', spec: 'aarch64:newest', series: null, suites: ['sid'], arch: 'arm64' }}
    ${'amd64:6.12'}       | ${{ kind: 'debian', spec: 'amd64:6.12', series: '6.12', suites: ['trixie', 'trixie-security'], arch: 'amd64' }}
    ${'arm64:./Image:/m'} | ${{ kind: 'local', spec: 'arm64:./Image:/m', image: './Image', modules: '/m', arch: 'arm64' }}
  `('$text', ({ text, expected }) => {
    expect(parseSpec(text)).toEqual(expected)
  })

  test.each(['sparc:6.1', 'arm64:', 'arm64:bookworm'])('"%s" is refused', (text) => {
    expect(() => parseSpec(text)).toThrow(SpecError)
  })

  // The column says which architecture; a spec without one is the host's.
  test('labels and architecture', () => {
    expect(specLabel(parseSpec('arm64:6.1'))).toBe('6.1 arm64')
    expect(specLabel(parseSpec('arm64:./k/Image'))).toBe('Image arm64')
    expect(specArch(parseSpec('arm64:6.1'), 'x64')).toBe('arm64')
    expect(specArch(parseSpec('6.1'), 'x64')).toBe('amd64')
  })

  // Usage errors in the architecture exit 2 like any other.
  test('matrixMain refuses an unknown architecture', async () => {
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      expect(await matrixMain(['--kernel', 'mips:6.1'])).toBe(2)
    } finally {
      write.mockRestore()
    }
  })

  // The virt machine with a PL011 console; the shared root is the userland, not the host's /.
  test('qemu arguments', () => {
    const args = qemuArgs(
      {
        image: '/k/Image',
        initrd: '/k/i.cpio',
        accel: 'tcg',
        arch: 'arm64',
        rootDir: '/c/userland/root',
        job: { command: ['true'], cwd: GUEST_PACKAGE_DIR, shares: [{ hostPath: '/c/pkg', guestPath: GUEST_PACKAGE_DIR, readonly: true }] },
        workDir: '/w',
        initTimeoutMs: 1,
        timeoutMs: 1,
      },
      '/w/out',
    )
    const line = args.join(' ')
    expect(line).toContain('-accel tcg,thread=multi -cpu max,pauth-impdef=on -machine virt')
    expect(args[args.indexOf('-append') + 1]).toMatch(/^console=ttyAMA0 /)
    expect(args.filter((_, i) => args[i - 1] === '-fsdev')).toEqual([
      'local,id=hostroot,path=/c/userland/root,security_model=none,multidevs=remap,readonly=on',
      'local,id=out,path=/w/out,security_model=none,multidevs=remap',
      'local,id=share0,path=/c/pkg,security_model=none,multidevs=remap,readonly=on',
    ])
    expect(line).not.toContain('earlyprintk')
  })

  // Debian's arm64 vmlinuz is a gzip'ed Image; the Image is recognised by its magic at 0x38.
  test('Image extraction', () => {
    const image = Buffer.alloc(4096)
    image.write('ARM\x64', 0x38, 'latin1')
    image.write('Linux version 6.1.0-56-arm64 (debian-kernel@lists.debian.org) #1 SMP', 1024, 'latin1')
    expect(isArm64Image(image)).toBe(true)
    const vmlinuz = join(scratch, 'vmlinuz-arm64')
    writeFileSync(vmlinuz, gzipSync(image))
    const dest = join(scratch, 'Image')
    expect(extractArm64Image(vmlinuz, dest)).toBe('gzip')
    expect(readFileSync(dest)).toEqual(image)
    expect(bannerRelease(dest)).toBe('6.1.0-56-arm64')
    expect(extractArm64Image(dest, join(scratch, 'Image2'))).toBe('none')
    writeFileSync(join(scratch, 'not-image'), gzipSync(Buffer.alloc(4096)))
    expect(extractArm64Image(join(scratch, 'not-image'), join(scratch, 'Image3'))).toBeNull()
    expect(existsSync(join(scratch, 'Image3'))).toBe(false)
  })

  // The guest gets the package as npm would install it: its prebuild, never the tree's build/.
  test('staged package', () => {
    const project = join(scratch, 'project')
    for (const d of ['dist', 'build/Release', 'prebuilds/linux-arm64', 'prebuilds/linux-x64', 'node_modules/node-gyp-build'])
      mkdirSync(join(project, d), { recursive: true })
    writeFileSync(join(project, 'package.json'), '{"name":"memseal"}')
    writeFileSync(join(project, 'dist', 'cli.js'), '')
    writeFileSync(join(project, 'build', 'Release', 'memseal.node'), 'x64')
    writeFileSync(join(project, 'prebuilds', 'linux-x64', 'memseal.node'), 'x64')
    writeFileSync(join(project, 'node_modules', 'node-gyp-build', 'package.json'), '{"name":"node-gyp-build","main":"index.js"}')
    writeFileSync(join(project, 'node_modules', 'node-gyp-build', 'index.js'), '')
    const dest = join(scratch, 'staged')
    expect(() => stageGuestPackage(project, 'arm64', dest)).toThrow(/prebuilds\/linux-arm64.*npm run prebuilds/)
    writeFileSync(join(project, 'prebuilds', 'linux-arm64', 'memseal.node'), 'arm64')
    const staged = stageGuestPackage(project, 'arm64', dest)
    expect(staged).toBe(dest)
    expect(existsSync(join(staged, 'build'))).toBe(false)
    expect(existsSync(join(staged, 'prebuilds', 'linux-x64'))).toBe(false)
    expect(readFileSync(join(staged, 'prebuilds', 'linux-arm64', 'memseal.node'), 'utf8')).toBe('arm64')
    expect(existsSync(join(staged, 'node_modules', 'node-gyp-build', 'index.js'))).toBe(true)
    expect(existsSync(join(staged, 'dist', 'cli.js'))).toBe(true)
  })

  // The host's node means nothing in the userland root; its own node runs the command.
  test('guest command', () => {
    expect(guestCommand(['/opt/node20/bin/node', 'dist/cli.js', 'check', '--json'], '/opt/node20/bin/node')).toEqual([
      '/usr/bin/node',
      'dist/cli.js',
      'check',
      '--json',
    ])
    expect(guestCommand(['node', '-p', '1'], '/x/node')).toEqual(['/usr/bin/node', '-p', '1'])
    expect(guestCommand(['/bin/true'], '/x/node')).toEqual(['/bin/true'])
  })

  // The root is read-only in the guest: /bin/sh and every mount point must exist beforehand.
  test('userland root', () => {
    const root = join(scratch, 'userland')
    mkdirSync(join(root, 'bin'), { recursive: true })
    finishRoot(root)
    expect(readlinkSync(join(root, 'bin', 'sh'))).toBe('dash')
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'run', 'var/tmp', GUEST_PACKAGE_DIR.slice(1)]) expect(existsSync(join(root, d))).toBe(true)
    finishRoot(root)
  })

  // The slower emulated guest asks the suite for a longer per-clause limit, from the staged package.
  test('job environment', () => {
    const kernel = { arch: 'arm64', dir: scratch } as Prepared
    const project = join(scratch, 'project')
    const job = matrixJob(kernel, project, [process.execPath, 'dist/cli.js', 'check', '--json'])
    expect(job.cwd).toBe(GUEST_PACKAGE_DIR)
    expect(job.command).toEqual(['/usr/bin/node', 'dist/cli.js', 'check', '--json'])
    expect(job.shares).toEqual([{ hostPath: join(scratch, 'package'), guestPath: GUEST_PACKAGE_DIR, readonly: true }])
    const script = jobScript(job)
    expect(script).toContain('MEMSEAL_CLAUSE_TIMEOUT_MS=120000')
    expect(script).not.toContain('MEMSEAL_CLAUSE_TIMEOUT_MS=60000')
    expect(script).toContain('cd /opt/memseal && exec /usr/bin/node dist/cli.js')
  })
})

// ---------------------------------------------------------------------------------------------------
// A real boot

const bootTest = process.env.MEMSEAL_MATRIX_TEST === '1' ? test : test.skip

// Fetches Debian's 6.1 kernel (cached after the first run), boots it under qemu and reads back
// what a command printed inside it: the guest's own kernel release.
bootTest(
  `boots Debian's 6.1 kernel under qemu${process.env.MEMSEAL_MATRIX_TEST === '1' ? '' : " (skipped: set MEMSEAL_MATRIX_TEST=1; needs qemu, busybox-static and Debian's archive)"}`,
  async () => {
    const print = "const os=require('os');console.log(JSON.stringify({kernel:{release:os.release()},results:[]}))"
    const m = await runMatrix({ kernels: ['6.1'], host: false, accel: 'auto', command: [process.execPath, '-e', print], timeoutMs: 240_000 })
    const k = m.kernels[0]!
    expect({ status: k.status, error: k.error }).toEqual({ status: 'ok', error: null })
    expect(k.release).toMatch(/^6\.1\.0-\d+-amd64$/)
    expect(k.packages[0]).toMatch(/^linux-image-6\.1\.0-\d+-amd64-unsigned=6\.1\./)
    expect(k.timing.bootMs).toBeGreaterThan(0)
  },
  600_000,
)
