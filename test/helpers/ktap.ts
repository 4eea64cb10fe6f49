/**
 * A strict parser of KTAP version 1 (Documentation/dev-tools/ktap.rst), to hold memseal's KTAP output
 * to the format: every line is a version, plan, result or diagnostic line at exactly its nesting's
 * indentation (two spaces a level); each (sub)test starts with `KTAP version 1` and a plan `1..N`
 * (diagnostic lines may stand between them, as KUnit's `# Subtest:` does); results are numbered
 * 1..N without gaps and match the plan; a description holds no `#`; a directive is one of SKIP,
 * TODO, XFAIL, TIMEOUT, ERROR, and TIMEOUT and ERROR go with `not ok`; a test with subtests fails
 * when one of them fails. Unknown lines, which KTAP tolerates in kernel logs, are errors here:
 * memseal writes none.
 */

export const DIRECTIVES = ['SKIP', 'TODO', 'XFAIL', 'TIMEOUT', 'ERROR'] as const
export type Directive = (typeof DIRECTIVES)[number]

export interface KtapTest {
  ok: boolean
  number: number
  description: string
  directive: Directive | null
  /** Text after the directive (or after `#` when there is none). */
  diagnostic: string
  /** Diagnostic lines just before the result line, without `# `. */
  diagnostics: string[]
  subtests: KtapDocument | null
}

export interface KtapDocument {
  plan: number
  /** Diagnostic lines between the version and the plan (`Subtest: …`). */
  header: string[]
  tests: KtapTest[]
  /** Diagnostic lines after the last result at this level. */
  trailer: string[]
}

export class KtapError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`KTAP line ${line}: ${message}`)
  }
}

const RESULT_RE = /^(ok|not ok) ([1-9]\d*)(?: ([^#]*?))?(?: # ?(.*))?$/

export function parseKtap(text: string): KtapDocument {
  if (!text.endsWith('\n')) throw new KtapError(0, 'output does not end with a newline')
  const lines = text.slice(0, -1).split('\n')
  let at = 0

  const lineAt = (level: number): { body: string; indent: number } | null => {
    const raw = lines[at]
    if (raw === undefined) return null
    if (/\t/.test(raw)) throw new KtapError(at + 1, 'tab in indentation')
    const indent = raw.length - raw.trimStart().length
    if (indent % 2 !== 0) throw new KtapError(at + 1, `odd indentation (${indent} spaces)`)
    void level
    return { body: raw.slice(indent), indent: indent / 2 }
  }

  const parseLevel = (level: number): KtapDocument => {
    const first = lineAt(level)
    if (!first || first.indent !== level || first.body !== 'KTAP version 1') {
      throw new KtapError(at + 1, `expected "KTAP version 1" at nesting level ${level}, got ${JSON.stringify(lines[at])}`)
    }
    at++
    const header: string[] = []
    let plan: number | null = null
    for (;;) {
      const l = lineAt(level)
      if (!l || l.indent !== level) throw new KtapError(at + 1, 'a version line must be followed by a plan at the same level')
      if (l.body.startsWith('#')) {
        header.push(l.body.replace(/^# ?/, ''))
        at++
        continue
      }
      const m = /^1\.\.(\d+)$/.exec(l.body)
      if (!m) throw new KtapError(at + 1, `expected a plan "1..N", got ${JSON.stringify(l.body)}`)
      plan = Number(m[1])
      at++
      break
    }
    const tests: KtapTest[] = []
    let diagnostics: string[] = []
    let pendingSubtests: KtapDocument | null = null
    for (;;) {
      const l = lineAt(level)
      if (!l || l.indent < level) break
      if (l.indent > level) {
        if (l.indent !== level + 1 || l.body !== 'KTAP version 1')
          throw new KtapError(at + 1, `unexpected line at nesting level ${l.indent}: ${JSON.stringify(l.body)}`)
        if (pendingSubtests) throw new KtapError(at + 1, 'two subtest blocks before one result line')
        pendingSubtests = parseLevel(level + 1)
        continue
      }
      if (l.body.startsWith('#')) {
        diagnostics.push(l.body.replace(/^# ?/, ''))
        at++
        continue
      }
      const m = RESULT_RE.exec(l.body)
      if (!m) throw new KtapError(at + 1, `not a KTAP line: ${JSON.stringify(l.body)}`)
      const number = Number(m[2])
      if (number !== tests.length + 1) throw new KtapError(at + 1, `test number ${number}, expected ${tests.length + 1}`)
      const rest = m[4] ?? null
      let directive: Directive | null = null
      let diagnostic = ''
      if (rest !== null) {
        const word = /^(\S+)(?:\s+(.*))?$/.exec(rest)
        if (word && (DIRECTIVES as readonly string[]).includes(word[1]!)) {
          directive = word[1] as Directive
          diagnostic = word[2] ?? ''
        } else {
          diagnostic = rest
        }
      }
      const ok = m[1] === 'ok'
      if ((directive === 'TIMEOUT' || directive === 'ERROR') && ok) throw new KtapError(at + 1, `${directive} must go with "not ok"`)
      if (pendingSubtests) {
        const childFailed = pendingSubtests.tests.some((t) => !t.ok && t.directive !== 'SKIP' && t.directive !== 'TODO')
        if (childFailed && ok) throw new KtapError(at + 1, `test ${number} is ok although a subtest failed`)
      }
      tests.push({ ok, number, description: (m[3] ?? '').trim(), directive, diagnostic, diagnostics, subtests: pendingSubtests })
      diagnostics = []
      pendingSubtests = null
      at++
    }
    if (pendingSubtests) throw new KtapError(at + 1, 'subtests without the result line of their parent')
    if (tests.length !== plan) throw new KtapError(at + 1, `plan 1..${plan} but ${tests.length} results`)
    return { plan, header, tests, trailer: diagnostics }
  }

  const doc = parseLevel(0)
  if (at !== lines.length) throw new KtapError(at + 1, `trailing line ${JSON.stringify(lines[at])}`)
  return doc
}

/** Every leaf test with its path of descriptions. */
export function leaves(doc: KtapDocument, path: string[] = []): Array<{ path: string[]; test: KtapTest }> {
  return doc.tests.flatMap((t) => (t.subtests ? leaves(t.subtests, [...path, t.description]) : [{ path: [...path, t.description], test: t }]))
}
