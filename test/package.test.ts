// The npm package: `npm pack` holds dist/ with its declarations, the prebuilds, the native sources and
// binding.gyp, README and LICENSE, and nothing else; installed into an empty project on a PATH without
// any compiler it uses the prebuild, and works from CommonJS, ESM and TypeScript.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './helpers'

const arch = process.arch
let work: string
let tarball: string
let files: string[]

beforeAll(() => {
  // The host's prebuild is made when missing, or older than a native source it was built from, so that a
  // prebuild left over from an earlier checkout is never what gets tested (npm run prebuild makes both).
  const prebuild = join(ROOT, 'prebuilds', `linux-${arch}`, 'memseal.node')
  const sources = [join(ROOT, 'binding.gyp'), ...readdirSync(join(ROOT, 'native')).map((f) => join(ROOT, 'native', f))]
  const newestSource = Math.max(...sources.map((f) => statSync(f).mtimeMs))
  if (!existsSync(prebuild) || statSync(prebuild).mtimeMs < newestSource) {
    execFileSync('bash', [join(ROOT, 'scripts', 'prebuild.sh'), '--host-only'], { cwd: ROOT, stdio: 'ignore' })
  }
  work = mkdtempSync(join(tmpdir(), 'memseal-pack-'))
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  const info = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>
  tarball = join(work, info[0]!.filename)
  files = info[0]!.files.map((f) => f.path).sort()
}, 300_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

test('the tarball holds dist, declarations, prebuilds, native sources, binding.gyp, README, LICENSE only', () => {
  const allowed =
    /^(dist\/.+\.(js|mjs|d\.ts|js\.map|d\.ts\.map)|dist\/matrix\/matrix-deps\.sh|prebuilds\/linux-(x64|arm64)\/[^/]+\.node|native\/[^/]+\.(cc|h)|binding\.gyp|README\.md|LICENSE|package\.json)$/
  expect(files.filter((f) => !allowed.test(f))).toEqual([])
  for (const needed of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/index.mjs',
    'dist/cli.js',
    'binding.gyp',
    'native/compat.h',
    `prebuilds/linux-${arch}/memseal.node`,
    'README.md',
    'LICENSE',
    'package.json',
  ]) {
    expect(files).toContain(needed)
  }
})

test('installs without a compiler, and works from CommonJS, ESM and TypeScript', () => {
  const project = join(work, 'consumer')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
  // A PATH with node, npm and a shell (npm runs install scripts through sh) and nothing else: no cc, g++,
  // make or python, so node-gyp could not build anything.
  const bin = join(work, 'bin')
  mkdirSync(bin)
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync('/bin/sh', join(bin, 'sh'))
  const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()) // npm's own npm-cli.js
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${join(bin, 'node')}" "${npmCli}" "$@"\n`, { mode: 0o755 })
  const env = { ...process.env, PATH: bin, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
  for (const tool of ['cc', 'gcc', 'g++', 'make', 'python3']) expect(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status).not.toBe(0)
  const install = spawnSync(join(bin, 'npm'), ['install', '--no-package-lock', tarball], { cwd: project, env, encoding: 'utf8' })
  expect({ status: install.status, log: install.status === 0 ? '' : install.stderr }).toEqual({ status: 0, log: '' })
  expect(existsSync(join(project, 'node_modules', 'memseal', 'build'))).toBe(false) // nothing was compiled

  const cjs = `const { Memfd, kernel } = require('memseal')
    const m = Memfd.create('cjs', { size: 4096 }); m.write('cjs'); m.addSeals(['shrink', 'grow', 'write'])
    const v = m.map(); console.log(Buffer.from(v.buffer, 0, 3).toString(), [...m.seals].sort().join(','), kernel.release.length > 0); v.unmap(); m.close()`
  expect(execFileSync(join(bin, 'node'), ['-e', cjs], { cwd: project, env, encoding: 'utf8' }).trim()).toMatch(/^cjs (exec,)?grow,shrink,write true$/)

  const esm = `import { Memfd, Mapping } from 'memseal'
    import memseal from 'memseal'
    const a = Mapping.anonymous(4096); a.unmap()
    const m = Memfd.create('esm'); console.log(typeof memseal.check, a.length, m.sealBits); m.close()`
  expect(execFileSync(join(bin, 'node'), ['--input-type=module', '-e', esm], { cwd: project, env, encoding: 'utf8' }).trim()).toBe('function 0 0')

  writeFileSync(
    join(project, 'use.ts'),
    `import { Memfd, Mapping, kernel, check, type SealName, type Report } from 'memseal'
const m: Memfd = Memfd.create('ts', { sealing: true, size: 4096 })
const seals: Set<SealName> = m.seals
const view: Mapping = m.map({ protection: 'r' })
const bytes: ArrayBuffer = view.buffer
const version: [number, number, number] = kernel.version
const later: Promise<Report> = check({ only: ['seal.*'] })
// @ts-expect-error: 'wx' is not a protection
m.map({ protection: 'wx' })
void seals; void bytes; void version; void later
`,
  )
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const types = spawnSync(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      join(ROOT, 'node_modules', '@types'),
      'use.ts',
    ],
    { cwd: project, encoding: 'utf8' },
  )
  expect(types.stdout + types.stderr).toBe('')
  expect(types.status).toBe(0)
  expect(readdirSync(join(project, 'node_modules', 'memseal', 'prebuilds'))).toContain(`linux-${arch}`)
}, 300_000)
