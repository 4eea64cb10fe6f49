/**
 * The matrix cache: a kernel package reduced to what a guest needs (the vmlinux and the modules the
 * guest loads, found in one pass and a second one for a dependency elsewhere), the tar reader that
 * does it, `memseal cache` listing and pruning, and specs Debian cannot have refused before anything
 * is downloaded. The packages here are built with dpkg-deb from made-up trees.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { listCache, pruneCandidates } from '../lib/matrix/cache-main'
import { readEntry, unpackKernel } from '../lib/matrix/kernel-store'
import { parseSpec, SpecError } from '../lib/matrix/specs'
import { readDebMembers, TarParser } from '../lib/matrix/tar'
import { ROOT } from './helpers'

const CLI = join(ROOT, 'dist', 'cli.js')
const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
let work: string
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'memseal-matrix-cache-'))
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

function write(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, data)
}

/** A minimal whole 64-bit ELF file of `size` bytes (one section header at the very end). */
function fakeElf(size: number): Buffer {
  const b = Buffer.alloc(size, 0x5a)
  b.fill(0, 0, 64)
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(b)
  b.writeBigUInt64LE(BigInt(size - 64), 0x28)
  b.writeUInt16LE(64, 0x3a)
  b.writeUInt16LE(1, 0x3c)
  return b
}

/** A bzImage-like file: a setup header naming the release, then the vmlinux compressed with xz. */
function fakeBzImage(release: string, elf: Buffer): Buffer {
  const setup = Buffer.alloc(0x400)
  setup.write('HdrS', 0x202, 'latin1')
  setup.writeUInt16LE(0x100, 0x20e)
  setup.write(`${release} (test@example) #1 SMP`, 0x300, 'latin1')
  const xz = spawnSync('xz', ['-c', '--check=crc32'], { input: elf }).stdout
  return Buffer.concat([setup, xz, Buffer.alloc(64, 0xee)])
}

const moduleBytes = (depends: string): Buffer => Buffer.concat([Buffer.from(`\0license=GPL\0depends=${depends}\0name=x\0`), Buffer.alloc(2000, 1)])

/** A Debian-like kernel package: image, modules.builtin, the 9p modules, one dependency outside their directories. */
function buildDeb(release: string): { deb: string; elf: Buffer } {
  const tree = join(work, `tree-${release}`)
  const mod = (rel: string, depends: string): void => write(join(tree, 'lib/modules', release, 'kernel', rel), moduleBytes(depends))
  const elf = fakeElf(256 * 1024)
  write(
    join(tree, 'DEBIAN/control'),
    `Package: linux-image-${release}-unsigned\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@example>\nDescription: test\n`,
  )
  write(join(tree, 'boot', `vmlinuz-${release}`), fakeBzImage(release, elf))
  write(
    join(tree, 'lib/modules', release, 'modules.builtin'),
    'kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio_pci.ko\n',
  )
  mod('net/9p/9pnet.ko', '')
  mod('net/9p/9pnet_virtio.ko', '9pnet,virtio_ring')
  mod('fs/netfs/netfs.ko', 'crc-thing')
  mod('lib/crc-thing.ko', '')
  mod('drivers/gpu/big.ko', '')
  // 9p compressed, as 6.12 and 7.x ship it.
  const nine = join(tree, 'lib/modules', release, 'kernel/fs/9p/9p.ko')
  write(nine, moduleBytes('9pnet,netfs'))
  spawnSync('xz', [nine])
  // A name longer than ustar's 100 characters (GNU long name).
  write(join(tree, 'usr/share/doc', 'x'.repeat(120), 'changelog'), 'long')
  const deb = join(work, `linux-image-${release}.deb`)
  const r = spawnSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', tree, deb], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return { deb, elf }
}

const haveTools = have('dpkg-deb') && have('xz')
const withTools = haveTools ? test : test.skip

describe('tar reader', () => {
  // GNU long names and pax paths, selected members' data, everything else skipped.
  ;(have('tar') ? test : test.skip)('ustar, GNU long names and pax headers', () => {
    const src = join(work, 'tarsrc')
    const long = `${'d'.repeat(90)}/${'f'.repeat(60)}.txt`
    write(join(src, long), 'long name')
    write(join(src, 'short.txt'), 'short')
    for (const format of ['gnu', 'pax', 'ustar']) {
      const tar = spawnSync('tar', ['-C', src, `--format=${format}`, '-cf', '-', '.'], { maxBuffer: 1 << 24 })
      if (format === 'ustar' && tar.status !== 0) continue // ustar cannot hold a 150-character name
      const got = new Map<string, string>()
      const seen: string[] = []
      const parser = new TarParser(
        (m) => {
          seen.push(`${m.type}:${m.path}`)
          return m.path.endsWith('.txt')
        },
        (m, d) => got.set(m.path, d.toString()),
      )
      // Fed in odd-sized pieces, as a pipe delivers it.
      for (let at = 0; at < tar.stdout.length; at += 777) parser.push(tar.stdout.subarray(at, at + 777))
      expect([format, Object.fromEntries(got)]).toEqual([format, { [long]: 'long name', 'short.txt': 'short' }])
      expect(seen).toContain('dir:' + long.split('/')[0] + '/')
      expect(parser.ended).toBe(true)
    }
  })

  withTools('reads a .deb’s file system through dpkg-deb', async () => {
    const { deb } = buildDeb('9.9.1-1-amd64')
    const { members, data } = await readDebMembers(deb, (m) => m.path.endsWith('changelog'))
    expect(members.some((m) => m.path === `usr/share/doc/${'x'.repeat(120)}/changelog`)).toBe(true)
    expect([...data.values()].map((b) => b.toString())).toEqual(['long'])
  })
})

describe('a kernel in the cache', () => {
  // Only the vmlinux and the modules the guest loads, in load order; the dependency outside the 9p
  // directories (crc-thing) costs a second pass; the package itself is not kept.
  withTools('keeps the vmlinux and the needed modules only', async () => {
    const release = '9.9.9-1-amd64'
    const { deb, elf } = buildDeb(release)
    const dir = join(work, 'kernels', 'k')
    mkdirSync(dir, { recursive: true })
    const packages = [`linux-image-${release}-unsigned=1.0`]
    const entry = await unpackKernel([deb], dir, packages, 'amd64')
    expect(entry).toMatchObject({ release, image: 'vmlinux', imageNote: null, modules: ['9pnet', '9pnet_virtio', 'crc_thing', 'netfs', '9p'], packages })
    expect(readFileSync(join(dir, 'vmlinux'))).toEqual(elf)
    expect(readdirSync(dir).sort()).toEqual(['kernel.json', 'modules', 'vmlinux'])
    expect(readdirSync(join(dir, 'modules')).sort()).toEqual(['9p.ko', '9pnet.ko', '9pnet_virtio.ko', 'crc_thing.ko', 'netfs.ko'])
    // Decompressed for busybox insmod.
    expect(
      readFileSync(join(dir, 'modules', '9p.ko'))
        .subarray(0, 40)
        .toString(),
    ).toContain('depends=9pnet,netfs')
    expect(readEntry(dir, packages)).toEqual(entry)
    expect(readEntry(dir, ['linux-image-other=2.0'])).toBeNull()
    rmSync(join(dir, 'modules', 'netfs.ko'))
    expect(readEntry(dir, packages)).toBeNull()
  })

  // A kernel that lacks a module the guest needs says which and who needed it.
  withTools('a missing module is named', async () => {
    const release = '9.9.8-1-amd64'
    const { deb } = buildDeb(release)
    const tree = join(work, `tree-${release}`)
    rmSync(join(tree, 'lib/modules', release, 'kernel/net/9p/9pnet.ko'))
    spawnSync('dpkg-deb', ['--root-owner-group', '--build', tree, deb])
    await expect(unpackKernel([deb], join(work, 'kernels', 'broken'), ['p=1'], 'amd64')).rejects.toThrow(
      /module 9pnet \(needed by 9pnet_virtio\) is neither in p=1 nor built in/,
    )
  })
})

describe('memseal cache', () => {
  function fakeCache(): string {
    const c = join(work, `cache-${Math.random().toString(36).slice(2)}`)
    write(join(c, 'apt/amd64/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4'), Buffer.alloc(50_000))
    write(join(c, 'apt/amd64/stamps/bookworm'), '')
    write(join(c, 'apt/amd64/resolved/bookworm+bookworm-security_6.1_amd64.json'), JSON.stringify({ abi: '6.1.0-57', packages: [{ version: '6.1.192-3' }] }))
    const kernel = (name: string, release: string): void => {
      write(join(c, 'kernels', name, 'vmlinux'), Buffer.alloc(30_000))
      write(
        join(c, 'kernels', name, 'kernel.json'),
        JSON.stringify({ format: 2, arch: 'amd64', packages: [`linux-image-${release}=1`], release, image: 'vmlinux', imageNote: null, modules: [] }),
      )
      write(join(c, 'kernels', name, 'used'), '')
    }
    kernel('6.1.0-57-amd64_6.1.192-3', '6.1.0-57-amd64')
    kernel('6.1.0-56-amd64_6.1.190-1', '6.1.0-56-amd64')
    write(join(c, 'kernels', 'interrupted', 'download', 'x.deb.partial.d', 'x'), 'x')
    write(join(c, 'local', 'vmlinuz-7-abc', 'used'), '')
    const old = new Date(Date.now() - 40 * 86_400_000)
    utimesSync(join(c, 'local', 'vmlinuz-7-abc', 'used'), old, old)
    write(join(c, 'runs', 'out-x', 'stdout'), Buffer.alloc(10_000))
    write(join(c, 'docker-base', 'rootfs.tar'), Buffer.alloc(10_000))
    return c
  }

  test('lists sizes, what each entry is, and which kernel is superseded', () => {
    const c = fakeCache()
    const entries = listCache(c)
    const by = new Map(entries.map((e) => [e.path, e]))
    expect(by.get('apt/amd64/lists')!.bytes).toBeGreaterThanOrEqual(50_000)
    expect(by.get('kernels/6.1.0-57-amd64_6.1.192-3')).toMatchObject({
      kind: 'kernel',
      superseded: false,
      what: '6.1.0-57-amd64 (amd64): linux-image-6.1.0-57-amd64=1',
    })
    expect(by.get('kernels/6.1.0-56-amd64_6.1.190-1')).toMatchObject({ superseded: true })
    expect(by.get('kernels/interrupted')!.what).toBe('incomplete (no kernel.json)')
    expect(by.get('docker-base')).toMatchObject({ kind: 'other' })
    expect(
      pruneCandidates(entries, 30 * 86_400_000)
        .map((e) => e.path)
        .sort(),
    ).toEqual(['kernels/6.1.0-56-amd64_6.1.190-1', 'kernels/interrupted', 'local/vmlinuz-7-abc', 'runs'])
  })

  test('--prune removes those and keeps the rest, through the command line', () => {
    const c = fakeCache()
    const r = spawnSync(process.execPath, [CLI, 'cache', '--cache', c, '--prune', '--json'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stderr).toContain('removed kernels/6.1.0-56-amd64_6.1.190-1')
    const listing = JSON.parse(r.stdout) as { entries: Array<{ path: string }>; totalBytes: number }
    expect(listing.entries.map((e) => e.path).sort()).toEqual(['apt/amd64', 'apt/amd64/lists', 'docker-base', 'kernels/6.1.0-57-amd64_6.1.192-3'])
    expect(existsSync(join(c, 'docker-base', 'rootfs.tar'))).toBe(true)
    const text = spawnSync(process.execPath, [CLI, 'cache', '--cache', c], { encoding: 'utf8' })
    expect(text.stdout).toMatch(/kernels\/6\.1\.0-57-amd64_6\.1\.192-3 {2}6\.1\.0-57-amd64 \(amd64\)/)
    expect(text.stdout).toMatch(/ in all\n$/)
    const all = spawnSync(process.execPath, [CLI, 'cache', '--cache', c, '--all'], { encoding: 'utf8' })
    expect(all.status).toBe(0)
    expect(readdirSync(c)).toEqual(['docker-base'])
  })
})

describe('specs Debian cannot have', () => {
  test.each`
    spec      | message
    ${'4.99'} | ${/there is no Linux 4\.99 in Debian's archive: the 4\.x series ended with 4\.20/}
    ${'6.20'} | ${/the 6\.x series ended with 6\.19/}
    ${'2.6'}  | ${/no kernels older than 3\.x/}
    ${'5.15'} | ${/Debian's archive has no 5\.15 kernel: its releases carry 5\.10 \(bullseye\), 6\.1 \(bookworm\), 6\.12 \(trixie\)/}
    ${'6.6'}  | ${/has no 6\.6 kernel/}
  `('$spec is refused', ({ spec, message }) => {
    expect(() => parseSpec(spec)).toThrow(SpecError)
    expect(() => parseSpec(spec)).toThrow(message)
  })

  test.each(['7.2', '6.13', '8.0'])('%s is looked up in sid and experimental', (spec) => {
    expect(parseSpec(spec)).toMatchObject({ series: spec, suites: ['sid', 'experimental'] })
  })

  // Before any download: the cache directory is not even made.
  test.each([
    ['matrix', '--kernel', '4.99'],
    ['run', '--kernel', '4.99', '--', 'true'],
  ])('memseal %s … 4.99 exits 2 and touches nothing', (...args) => {
    const cache = join(work, `untouched-${args[0]}`)
    const r = spawnSync(process.execPath, [CLI, ...args.slice(0, 3), '--cache', cache, ...args.slice(3)], {
      encoding: 'utf8',
      env: { ...process.env, MEMSEAL_CACHE: cache },
    })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('there is no Linux 4.99')
    expect(existsSync(cache)).toBe(false)
  })
})
