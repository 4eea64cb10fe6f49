// `memseal list` shows each clause's documentation: the quoted text and where it is from, for clauses
// declared with `quote` (the deprecated `statement`/`source` fields are gone from the catalog).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './helpers'

const CLI = join(ROOT, 'dist', 'cli.js')

function list(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, 'list', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
  expect(r.status).toBe(0)
  return r.stdout
}

// (A clause with basis 'code' and no quote has its note as statement and no document: an empty source.)
test('every clause in `list --json` has its statement and its source as text', () => {
  const rows = JSON.parse(list(['--json'])) as Array<{ id: string; statement: unknown; source: unknown }>
  expect(rows.length).toBeGreaterThan(0)
  const missing = rows.filter((r) => typeof r.statement !== 'string' || r.statement === '' || typeof r.source !== 'string')
  expect(missing.map((r) => r.id)).toEqual([])
})

test('the text listing quotes the document, never "undefined"', () => {
  const out = list(['--only', 'seal.add.zero-noop'])
  expect(out).toMatch(/^seal\.add\.zero-noop +F_ADD_SEALS Add the seals given in the bit-mask argument arg/m)
  expect(list([])).not.toMatch(/ undefined$/m)
})
