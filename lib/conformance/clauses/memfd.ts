/**
 * `memfd.`: memfd_create(2) — its flags and name, the fd it returns and the seals it starts with, and
 * hugetlbfs memfds (catalog §1 and §6). MFD_EXEC / MFD_NOEXEC_SEAL behaviour lives in noexec.ts, seals on
 * hugetlbfs memfds in seal-hugetlb.ts.
 */
import type { Clause } from '../types'
import { createClauses } from './memfd-create'
import { fdClauses } from './memfd-fd'
import { hugetlbClauses } from './memfd-hugetlb'

export const clauses: Clause[] = [...createClauses, ...fdClauses, ...hugetlbClauses]
