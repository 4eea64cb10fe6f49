// The rules every clause of the catalog follows, checked on the declarations themselves (nothing runs):
// one way to declare a clause (a verbatim quote with its document version, or basis 'code' with a note),
// ids that agree with their expectation, history ranges that parse, and clause files that reach the
// kernel only through their Ctx.
import { readdirSync, readFileSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { join } from 'node:path'
import { catalog } from '../lib/conformance/clauses'
import { canonical, expectationFor, quotesOf } from '../lib/conformance/evaluate'
import { kernelFacts } from '../lib/conformance/facts'
import { validateRange } from '../lib/conformance/versions'
import { AREAS, type Clause } from '../lib/conformance/types'
import { ROOT } from './helpers'

const CLAUSES_DIR = join(ROOT, 'lib', 'conformance', 'clauses')
const facts = kernelFacts()
const byArea = (area: string): Clause[] => catalog.filter((c) => c.area === area)

// Modules a clause file may import: the Ctx (types), the ABI numbers, the clause types, pure version
// helpers, the child-process script types, and sibling clause modules.
const ALLOWED_IMPORT = /^(\.\.\/ctx|\.\.\/abi|\.\.\/types|\.\.\/\.\.\/kernel\/version|\.\.\/child\/api|\.\/[\w-]+)$/
// The Ctx surface that bypasses the record and the effect checks (kept only while files moved over).
const LEGACY = /\bctx\.(native|raw)\b|\bctx\.(memfd|memfdCall|mmap|anon|mmapCall|size|open|reopen|adopt|mapOutcome)\(|\battempt\(/

test('ids are unique and start with their area', () => {
  const seen = new Set<string>()
  for (const c of catalog) {
    expect(AREAS).toContain(c.area)
    expect(c.id.startsWith(`${c.area}.`)).toBe(true)
    expect(seen.has(c.id)).toBe(false)
    seen.add(c.id)
  }
})

describe.each(AREAS)('%s clauses', (area) => {
  test('each is declared with a verbatim quote and its document version, or as basis code with a note', () => {
    const wrong = byArea(area).flatMap((c) => {
      const problems: string[] = []
      const quotes = quotesOf(c)
      if ((c.basis ?? 'doc') === 'doc' && quotes.length === 0) problems.push('basis doc without a quote')
      if (c.basis === 'code' && !c.note) problems.push('basis code without a note saying so')
      for (const q of quotes)
        if (!q.doc || !q.version || !q.text.trim()) problems.push(`a quote without doc, version or text: ${JSON.stringify(q).slice(0, 80)}`)
      return problems.map((p) => `${c.id}: ${p}`)
    })
    expect(wrong).toEqual([])
  })

  // An id that ends in an errno names what it expects; an id that ends in -ok expects success.
  test('ids agree with their expectation on this kernel', () => {
    const wrong = byArea(area).flatMap((c) => {
      // 'x-einval-before-name-efault' (which check comes first) expects the first errno it names
      const named = (c.id.includes('-before-') ? /-(e[a-z0-9]+)-before-/ : /-(e[a-z0-9]+)$/).exec(c.id)?.[1]?.toUpperCase()
      const errno = named && named in osConstants.errno ? named : undefined
      const expected = expectationFor(c, facts)
      const text = expected.map((e) => canonical(e)).join(' | ')
      if (errno && !text.includes(`"${errno}"`)) return [`${c.id}: expects ${text}`]
      if (c.id.endsWith('-ok') && expected.every((e) => typeof e.errno === 'string')) return [`${c.id}: expects ${text}`]
      return []
    })
    expect(wrong).toEqual([])
  })

  test('history ranges parse, and every history entry names its reference', () => {
    for (const c of byArea(area)) {
      for (const h of c.history ?? []) {
        expect(() => validateRange(h.range)).not.toThrow()
        expect(h.ref.trim()).not.toBe('')
        expect(h.behaviour.trim()).not.toBe('')
      }
    }
  })
})

// The one door: a clause file takes the kernel only from its Ctx (which records and verifies), and facts
// only from ctx.facts or the expect() argument.
test.each(readdirSync(CLAUSES_DIR).filter((f) => f.endsWith('.ts')))('%s reaches the kernel only through ctx', (file) => {
  const source = readFileSync(join(CLAUSES_DIR, file), 'utf8')
  const imports = [...source.matchAll(/^import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!)
  expect(imports.filter((i) => !ALLOWED_IMPORT.test(i))).toEqual([])
  expect(source.split('\n').filter((line) => LEGACY.test(line))).toEqual([])
})
