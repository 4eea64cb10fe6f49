/** The whole catalog, in report order: the presence of each feature, then one file per area. */
import type { Clause } from '../types'
import { clauses as presence } from './presence'
import { clauses as memfd } from './memfd'
import { clauses as seal } from './seal'
import { clauses as mmap } from './mmap'
import { clauses as noexec } from './noexec'
import { clauses as mseal } from './mseal'

export const catalog: readonly Clause[] = [...presence, ...memfd, ...seal, ...mmap, ...noexec, ...mseal]
