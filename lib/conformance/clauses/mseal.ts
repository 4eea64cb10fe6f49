/**
 * mseal(2) clauses (catalog §7, §8 and the mseal_test.c checks of §9.3/9.4), in catalog order. Every clause
 * seals address space, so the runner executes them in worker child processes only.
 */
import type { Clause } from '../types'
import { argClauses } from './mseal-args'
import { madviseClauses } from './mseal-madvise'
import { mapRemapClauses } from './mseal-map-remap'
import { unblockedClauses } from './mseal-unblocked'
import { unmapProtectClauses } from './mseal-unmap-protect'

export const clauses: Clause[] = [...argClauses, ...unmapProtectClauses, ...mapRemapClauses, ...madviseClauses, ...unblockedClauses]
