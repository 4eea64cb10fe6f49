/**
 * Turns an observation into a status: pass when it matches what the documentation says, known when it
 * matches a recorded behaviour for this kernel version, diverges otherwise.
 */
import type { Clause, ClauseResult, KernelFacts, KnownBehaviour, Observation, Status } from './types'
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

export function expectationFor(clause: Clause, facts: KernelFacts): Observation {
  return typeof clause.expect === 'function' ? clause.expect(facts) : clause.expect
}

export interface Verdict {
  status: Extract<Status, 'pass' | 'known' | 'diverges'>
  expected: Observation
  known?: KnownBehaviour
}

export function judge(clause: Clause, observed: Observation, facts: KernelFacts): Verdict {
  const expected = expectationFor(clause, facts)
  if (canonical(observed) === canonical(expected)) return { status: 'pass', expected }
  const seen = canonical(observed)
  const known = (clause.history ?? []).find((h) => inRange(facts.version, h.range) && canonical(h.observed) === seen)
  return known ? { status: 'known', expected, known } : { status: 'diverges', expected }
}

export function sourceText(clause: Clause): string {
  return [clause.source.doc, clause.source.section].filter(Boolean).join(', ')
}

/** A result record with the common fields filled in. */
export function resultOf(clause: Clause, status: Status, fields: Partial<ClauseResult>): ClauseResult {
  return {
    id: clause.id,
    area: clause.area,
    status,
    statement: clause.statement,
    source: sourceText(clause),
    expected: null,
    observed: null,
    reason: null,
    ...(clause.divergence ? { divergence: clause.divergence } : {}),
    durationMs: 0,
    ...fields,
  }
}
