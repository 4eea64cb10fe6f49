/**
 * The kernel ABI's numbers (flags, seals, protections, advice …) for clause declarations, read from the
 * C headers the addon was built against. Numbers only: clauses reach the kernel through their Ctx.
 */
import { constants } from '../native'

export const C = constants
