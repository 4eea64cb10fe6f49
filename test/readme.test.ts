// The README's quick start runs as written (in a child process: it may mseal), and prints what its
// comments say it prints.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kernel } from '../lib'
import { ROOT } from './helpers'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const quickStart = /## Quick start\s+```js\n([\s\S]*?)```/.exec(readme)?.[1]

test('the README has a quick start', () => {
  expect(quickStart).toBeDefined()
})

test('the quick start runs as written and prints what it says', () => {
  // Run from the package root: require('memseal') resolves to this package (package self-reference).
  const out = execFileSync(process.execPath, ['-e', quickStart!], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n')
  const expected = [
    expect.stringMatching(/^\[ 'shrink', 'grow', 'write'/),
    'hello, sealed world',
    'EPERM write',
    'SIGSEGV',
    '0',
    ...(kernel.features().mseal ? ['EPERM'] : []),
  ]
  expect(out).toEqual(expected)
})

// The disposal examples: the JavaScript one runs as written on this Node (which cannot parse `using`), the
// TypeScript one compiles with the settings the README names.
const jsDispose = /there the same is `try`\/`finally`:\s+```js\n([\s\S]*?)```/.exec(readme)?.[1]
const tsDispose = /`using` closes them at the end of a block:\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1]

test('the try/finally example runs as written', () => {
  expect(jsDispose).toBeDefined()
  const script = `const { Memfd } = require('memseal')\n${jsDispose!}\nconsole.log(m.closed)`
  expect(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('true')
})

test('the `using` example compiles with the tsconfig lib the README names', () => {
  expect(tsDispose).toBeDefined()
  const dir = mkdtempSync(join(tmpdir(), 'memseal-readme-'))
  try {
    const file = join(dir, 'dispose.ts')
    writeFileSync(file, `import { Memfd } from ${JSON.stringify(join(ROOT, 'dist'))}\n${tsDispose!}\n`)
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc')
    const args = [
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      '--target',
      'ES2022',
      '--module',
      'commonjs',
      '--types',
      'node',
      '--lib',
      'ES2022,esnext.disposable',
      file,
    ]
    const r = spawnSync(tsc, args, { encoding: 'utf8' })
    expect({ status: r.status, out: r.stdout.trim() }).toEqual({ status: 0, out: '' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
