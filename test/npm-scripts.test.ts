// Every `npm run NAME` the project tells people (or its own scripts) to run names a script that exists,
// and the lifecycle scripts do what the README says: `build` builds both halves, `prepack` makes the
// prebuilds, and nothing is named `prebuild` (npm would run it before every `npm run build`).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers'

const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts

test('every `npm run NAME` in the project names a script of package.json', () => {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => /(\.(md|ts|js|mjs|cjs|sh|yml|yaml|json)|Dockerfile|^\.ci\/run)$/.test(f) && f !== 'package-lock.json')
  expect(files.length).toBeGreaterThan(50)
  const missing: string[] = []
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(join(ROOT, file), 'utf8')
    } catch {
      continue // listed by git but deleted in the working tree
    }
    for (const m of text.matchAll(/npm run (?:--silent |-s )?([a-z][\w:-]*[\w-])/g)) if (!(m[1]! in scripts)) missing.push(`${file}: npm run ${m[1]}`)
  }
  expect(missing).toEqual([])
})

test('build builds the addon and the TypeScript; prepack makes the prebuilds; no script is a pre-hook of build', () => {
  expect(scripts.build).toMatch(/build:native/)
  expect(scripts.build).toMatch(/compile/)
  expect(scripts['build:native']).toMatch(/node-gyp (re)?build/)
  expect(scripts.compile).toMatch(/^rm -rf dist && tsc /) // no output of a deleted source survives
  expect(scripts.prepack).toMatch(/scripts\/prebuild\.sh/)
  expect(scripts.prepublishOnly).toMatch(/scripts\/prebuild\.sh$/) // strict: every architecture
  expect(Object.keys(scripts).filter((name) => /^pre(build|compile|test|lint)$/.test(name))).toEqual([])
})
