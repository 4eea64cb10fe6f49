// The npm package: `npm pack` on a copy of the sources without prebuilds makes them (package.json
// "prepack") and packs dist/ with its declarations, the prebuild, the native sources and binding.gyp,
// README and LICENSE, and nothing else. Installed into an empty project on a PATH without any compiler it
// loads the prebuild, also when the install script is not allowed to run, and works from CommonJS, ESM
// and TypeScript.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ROOT } from './helpers'

const arch = process.arch
let work: string
let tarball: string
let files: string[]
let packLog: string

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'memseal-pack-'))
  // The project as a fresh clone has it: the files git knows (and new ones it does not ignore), no dist/,
  // no build/, no prebuilds/. The development dependencies are this checkout's.
  const project = join(work, 'project')
  const sources = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(ROOT, f)))
  for (const f of sources) {
    mkdirSync(join(project, dirname(f)), { recursive: true })
    cpSync(join(ROOT, f), join(project, f))
  }
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'))
  // Only this machine's architecture: the tarball is installed here (a release makes both, prepublishOnly).
  const env = { ...process.env, MEMSEAL_PREBUILD_ARCHS: arch }
  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: project, encoding: 'utf8', env })
  packLog = pack.stderr
  if (pack.status !== 0) throw new Error(`npm pack failed (${pack.status}):\n${pack.stderr}`)
  const info = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  tarball = join(work, info[0]!.filename)
  files = info[0]!.files.map((f) => f.path).sort()
}, 300_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

test('npm pack makes the prebuild itself (prepack)', () => {
  // The copy had no prebuilds/ (git ignores it): this one was built by the pack, not left over from a build.
  expect(packLog).toContain(`prebuild: linux-${arch}\n`)
  expect(files).toContain(`prebuilds/linux-${arch}/memseal.node`)
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

/**
 * An empty project and a PATH with node, npm and a shell (npm runs install scripts through sh) and nothing
 * else: no cc, g++, make or python, so node-gyp could not build anything.
 */
function consumer(name: string): { project: string; env: NodeJS.ProcessEnv; npm: string; node: string } {
  const project = join(work, name)
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }))
  const bin = join(work, 'bin')
  const node = join(bin, 'node')
  const npm = join(bin, 'npm')
  if (!existsSync(bin)) {
    mkdirSync(bin)
    symlinkSync(process.execPath, node)
    symlinkSync('/bin/sh', join(bin, 'sh'))
    const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()) // npm's own npm-cli.js
    writeFileSync(npm, `#!/bin/sh\nexec "${node}" "${npmCli}" "$@"\n`, { mode: 0o755 })
  }
  const env = { ...process.env, PATH: bin, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
  for (const tool of ['cc', 'gcc', 'g++', 'make', 'python3']) expect(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status).not.toBe(0)
  return { project, env, npm, node }
}

/** The addon file a require('memseal') loaded, relative to the installed package. */
function loadedAddon(project: string, node: string, env: NodeJS.ProcessEnv): string {
  const script = `require('memseal'); const m = require.resolve('memseal/package.json').replace(/package\\.json$/, '')
    console.log(Object.keys(require.cache).filter((k) => k.endsWith('.node')).map((k) => k.slice(m.length)).join(','))`
  return execFileSync(node, ['-e', script], { cwd: project, env, encoding: 'utf8' }).trim()
}

test('installs without a compiler, loads the prebuild, and works from CommonJS, ESM and TypeScript', () => {
  const { project, env, npm, node } = consumer('consumer')
  const install = spawnSync(npm, ['install', '--no-package-lock', tarball], { cwd: project, env, encoding: 'utf8' })
  expect({ status: install.status, log: install.status === 0 ? '' : install.stderr }).toEqual({ status: 0, log: '' })
  expect(existsSync(join(project, 'node_modules', 'memseal', 'build'))).toBe(false) // nothing was compiled
  expect(loadedAddon(project, node, env)).toBe(`prebuilds/linux-${arch}/memseal.node`)

  const cjs = `const { Memfd, kernel } = require('memseal')
    const m = Memfd.create('cjs', { size: 4096 }); m.write('cjs'); m.addSeals(['shrink', 'grow', 'write'])
    const v = m.map(); console.log(Buffer.from(v.buffer, 0, 3).toString(), [...m.seals].sort().join(','), kernel.release.length > 0); v.unmap(); m.close()`
  expect(execFileSync(node, ['-e', cjs], { cwd: project, env, encoding: 'utf8' }).trim()).toMatch(/^cjs (exec,)?grow,shrink,write true$/)

  const esm = `import { Memfd, Mapping } from 'memseal'
    import memseal from 'memseal'
    const a = Mapping.anonymous(4096); a.unmap()
    const m = Memfd.create('esm'); console.log(typeof memseal.check, a.length, m.sealBits); m.close()`
  expect(execFileSync(node, ['--input-type=module', '-e', esm], { cwd: project, env, encoding: 'utf8' }).trim()).toBe('function 0 0')

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
}, 300_000)

// npm 12 runs a dependency's install script only where the project's "allowScripts" allows it, and
// --ignore-scripts runs none: memseal's (node-gyp-build, which builds only where no prebuild fits) is
// not needed where a prebuild fits, as node-gyp-build finds it at require time.
test('with its install script not run (--ignore-scripts, or not in allowScripts) the prebuild still loads', () => {
  const { project, env, npm, node } = consumer('no-scripts')
  const install = spawnSync(npm, ['install', '--no-package-lock', '--ignore-scripts', tarball], { cwd: project, env, encoding: 'utf8' })
  expect({ status: install.status, log: install.status === 0 ? '' : install.stderr }).toEqual({ status: 0, log: '' })
  expect(loadedAddon(project, node, env)).toBe(`prebuilds/linux-${arch}/memseal.node`)
  const use = `const { Memfd } = require('memseal'); const m = Memfd.create('x', { size: 4096 }); m.addSeals(['grow']); console.log([...m.seals].join(',')); m.close()`
  expect(execFileSync(node, ['-e', use], { cwd: project, env, encoding: 'utf8' }).trim()).toMatch(/\bgrow\b/)
}, 300_000)
