/**
 * mseal(2) clauses (catalog §7, §8 and the mseal_test.c / LTP mseal01–02 cases, docs/parity/mseal.md), in
 * catalog order. Every clause seals address space or runs a forked child that does, so the runner executes
 * them in worker processes only; what a clause seals is fenced off from the next (ctx/fences.ts).
 */
import type { Clause } from '../types'
import { argClauses } from './mseal-args'
import { madviseClauses } from './mseal-madvise'
import { mapRemapClauses } from './mseal-map-remap'
import { processClauses } from './mseal-process'
import { protectClauses } from './mseal-protect'
import { unblockedClauses } from './mseal-unblocked'
import { unmapClauses } from './mseal-unmap'

export const clauses: Clause[] = [
  ...argClauses,
  ...unmapClauses,
  ...protectClauses,
  ...mapRemapClauses,
  ...madviseClauses,
  ...processClauses,
  ...unblockedClauses,
]
