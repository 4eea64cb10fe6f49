/**
 * Turns an observation into a status: pass when it matches what the documentation says, known when it
 * matches a recorded behaviour for this kernel version, diverges otherwise.
 */
import type { Clause, ClauseResult, KernelFacts, KnownBehaviour, Observation, Quote, Status } from './types'
import { inRange } from './versions'

/** Canonical JSON (sorted keys) so that observations compare and print the same way everywhere. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined'
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
  return `{${entries.join(',')}}`
}

/** Compact, readable form for reports: {"errno":"EPERM"} → errno=EPERM; {"ret":0,"seals":32} → ret=0 seals=32. */
export function show(observation: Observation | null | undefined): string | null {
  if (observation === null || observation === undefined) return null
  return Object.keys(observation)
    .sort()
    .map((k) => {
      const v = observation[k]
      return `${k}=${typeof v === 'string' ? v : canonical(v)}`
    })
    .join(' ')
}

/** The outcomes the documentation allows here: one, or several where it allows several. */
export function expectationFor(clause: Clause, facts: KernelFacts): Observation[] {
  const e = typeof clause.expect === 'function' ? clause.expect(facts) : clause.expect
  return Array.isArray(e) ? e : [e]
}

/** Several allowed outcomes print as "a | b". */
export function showExpected(expected: readonly Observation[]): string | null {
  return expected.length === 0 ? null : expected.map((e) => show(e)).join(' | ')
}

export interface Verdict {
  status: Extract<Status, 'pass' | 'known' | 'diverges'>
  expected: Observation[]
  known?: KnownBehaviour
}

export function judge(clause: Clause, observed: Observation, facts: KernelFacts): Verdict {
  const expected = expectationFor(clause, facts)
  const seen = canonical(observed)
  if (expected.some((e) => canonical(e) === seen)) return { status: 'pass', expected }
  const known = (clause.history ?? []).find((h) => inRange(facts.version, h.range) && canonical(h.observed) === seen)
  return known ? { status: 'known', expected, known } : { status: 'diverges', expected }
}

export function quotesOf(clause: Clause): Quote[] {
  return clause.quote === undefined ? [] : Array.isArray(clause.quote) ? clause.quote : [clause.quote]
}

/** "mseal.rst (Linux 6.12), Blocked mm syscall; mprotect(2) (man-pages 6.14), ERRORS" */
export function sourceText(clause: Clause): string {
  const quotes = quotesOf(clause)
  if (quotes.length === 0) return "the kernel's code (no document states it)"
  const seen = new Set<string>()
  return quotes
    .map((q) => [`${q.doc} (${q.version})`, q.section].filter(Boolean).join(', '))
    .filter((t) => !seen.has(t) && seen.add(t))
    .join('; ')
}

/** The quoted documentation, verbatim; for basis 'code' with no quote, memseal's reading of the code. */
export function statementText(clause: Clause): string {
  const quotes = quotesOf(clause)
  if (quotes.length > 0) {
    const docs = new Set(quotes.map((q) => q.doc))
    return quotes.map((q) => (docs.size > 1 ? `${q.doc}: "${q.text}"` : q.text)).join(docs.size > 1 ? ' ' : ' … ')
  }
  return clause.note ?? ''
}

/** A result record with the common fields filled in. */
export function resultOf(clause: Clause, status: Status, fields: Partial<ClauseResult>): ClauseResult {
  return {
    id: clause.id,
    area: clause.area,
    status,
    statement: statementText(clause),
    source: sourceText(clause),
    ...(clause.quote !== undefined && clause.note ? { note: clause.note } : {}),
    basis: clause.basis ?? 'doc',
    since: clause.since,
    ...(clause.mirrors?.length ? { mirrors: clause.mirrors } : {}),
    ...(clause.history?.length ? { history: clause.history.map(({ range, behaviour, ref }) => ({ range, behaviour, ref })) } : {}),
    expected: null,
    observed: null,
    reason: null,
    ...(clause.divergence ? { divergence: clause.divergence } : {}),
    durationMs: 0,
    ...fields,
  }
}
