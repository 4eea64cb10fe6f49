/**
 * `mmap.`: how file seals meet mmap(2) and mprotect(2) on shmem and hugetlbfs memfds (catalog §5.3, §5.4,
 * §6), and the lengths and offsets of hugetlbfs mappings.
 */
import type { Clause } from '../types'
import { hugeLengthClauses } from './mmap-hugetlb-lengths'
import { sealMappingClauses } from './mmap-seals'

export const clauses: Clause[] = [...sealMappingClauses, ...hugeLengthClauses]
