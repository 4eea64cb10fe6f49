/**
 * `noexec.`: MFD_NOEXEC_SEAL, MFD_EXEC, F_SEAL_EXEC, exec of memfds, and the pid-namespaced vm.memfd_noexec
 * sysctl (catalog §1 noexec rows, §2, §3, §5.5 and the §8 rows about them). The sysctl is written only as
 * pid 1 of private pid namespaces (noexec-scripts.ts through ../child/), never in memseal's own.
 */
import type { Clause } from '../types'
import { flagClauses } from './noexec-flags'
import { nestedClauses } from './noexec-nested'
import { sealExecClauses } from './noexec-seal-exec'
import { sysctlLevelClauses } from './noexec-sysctl'

export const clauses: Clause[] = [...flagClauses, ...sealExecClauses, ...sysctlLevelClauses, ...nestedClauses]
