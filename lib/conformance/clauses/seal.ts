/**
 * `seal.`: fcntl(F_ADD_SEALS / F_GET_SEALS) and what F_SEAL_SEAL, SHRINK, GROW, WRITE and FUTURE_WRITE do
 * to write, truncate, open(O_TRUNC) and fallocate, on shmem and on hugetlbfs memfds (catalog §4, §5.1–5.4,
 * §6, §8). How seals meet mmap and mprotect is in mmap.ts; F_SEAL_EXEC and exec in noexec.ts.
 */
import type { Clause } from '../types'
import { addClauses } from './seal-add'
import { hugetlbClauses } from './seal-hugetlb'
import { shareClauses } from './seal-share'
import { sizeClauses } from './seal-size'
import { writeClauses } from './seal-write'

export const clauses: Clause[] = [...addClauses, ...shareClauses, ...sizeClauses, ...writeClauses, ...hugetlbClauses]
