/**
 * A fingerprint of the catalog's data (ids, quotes, notes, needs, static expectations, history), not of
 * its code. The runner and its workers compute it from the modules each of them loaded: under ts-jest
 * the runner loads lib/ while the workers run the compiled dist/, and a dist/ older than the source
 * would otherwise run other clauses than the ones the runner judges.
 */
import { createHash } from 'node:crypto'
import { canonical } from './evaluate'
import type { Clause } from './types'

export function catalogHash(clauses: readonly Clause[]): string {
  const data = clauses.map((c) => ({
    id: c.id,
    area: c.area,
    quote: c.quote ?? null,
    note: c.note ?? null,
    basis: c.basis ?? 'doc',
    since: c.since,
    needs: c.needs ?? [],
    isolation: c.isolation ?? 'worker',
    expect: typeof c.expect === 'function' ? 'function' : c.expect,
    history: c.history ?? [],
  }))
  return createHash('sha256').update(canonical(data)).digest('hex').slice(0, 16)
}
