// The README's quick start runs as written (in a child process: it may mseal), and prints what its
// comments say it prints.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
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
