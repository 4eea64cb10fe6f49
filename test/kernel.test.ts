// kernel: release, version, probed features and the environment, checked against /proc and uname.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { release } from 'node:os'
import { kernel, parseVersion } from '../lib'
import { ROOT } from './helpers'

const status = readFileSync('/proc/self/status', 'utf8')
const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim()

test('release and version come from uname', () => {
  expect(kernel.release).toBe(release())
  expect(kernel.release).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim())
  expect(kernel.version).toEqual(parseVersion(kernel.release))
  expect(kernel.machine).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim())
})

test.each`
  text                      | version
  ${'6.18.44-fc-v657'}      | ${[6, 18, 44]}
  ${'5.10.0-35-amd64'}      | ${[5, 10, 0]}
  ${'6.1.0-37-cloud-arm64'} | ${[6, 1, 0]}
  ${'7.3.0-rc2'}            | ${[7, 3, 0]}
  ${'6.12'}                 | ${[6, 12, 0]}
`('parseVersion($text) = $version', ({ text, version }: { text: string; version: number[] }) => {
  expect(parseVersion(text)).toEqual(version)
})

// Every feature is a probe result: a missing one says why, and a seccomp block is never "absent".
test('features: each probe is ok or carries a reason', () => {
  const f = kernel.features()
  for (const [name, probe] of Object.entries(f.probes)) {
    expect(typeof probe.ok).toBe('boolean')
    expect(f[name as keyof typeof f]).toBe(probe.ok)
    if (!probe.ok) expect(probe.reason).toMatch(/.{10,}/)
    if (probe.blockedBy) expect(probe.reason).toMatch(/seccomp/)
  }
  // memfd_create exists on every kernel this package supports, and this process has no seccomp filter
  // unless /proc says so.
  expect(f.memfd).toBe(true)
  if (field('Seccomp') === '0') expect(Object.values(f.probes).some((p) => p.blockedBy)).toBe(false)
})

test('environment matches /proc', () => {
  const env = kernel.environment()
  expect(env.seccomp).toBe(Number(field('Seccomp')))
  expect(env.root).toBe(process.getuid!() === 0)
  expect(env.pageSize).toBe(Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' })))
  expect(env.memfdNoexec).toBe(Number(readFileSync('/proc/sys/vm/memfd_noexec', 'utf8')))
  expect(env.pidNamespace.depth).toBe((field('NSpid') ?? '').split(/\s+/).length - 1)
  for (const pool of env.hugetlbPools) {
    const dir = `/sys/kernel/mm/hugepages/hugepages-${pool.pageSize / 1024}kB`
    expect(pool.total).toBe(Number(readFileSync(`${dir}/nr_hugepages`, 'utf8')))
  }
})

// The probes leave nothing behind: measured in a fresh process, where the first call really probes.
test('features() releases every fd and mapping it makes', () => {
  const script = `
    const fs = require('node:fs')
    // fds, and VMAs of at most two pages (the probes' own kind; V8's heap regions are far larger)
    const small = (l) => { const [a, b] = l.split(' ')[0].split('-').map((h) => parseInt(h, 16)); return b - a <= 2 * require(process.argv[1] + '/dist/native').constants.PAGE_SIZE }
    const count = () => [fs.readdirSync('/proc/self/fd').length, fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter(Boolean).filter(small).length]
    const { kernel } = require(process.argv[1] + '/dist')
    const before = count(); kernel.features(); const after = count()
    console.log(JSON.stringify({ before, after }))`
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script, ROOT], { encoding: 'utf8' })) as { before: number[]; after: number[] }
  expect(out.after).toEqual(out.before)
})
