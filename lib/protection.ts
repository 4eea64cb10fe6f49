/** Protection and advice names used by the API, and their kernel values. */
import { constants } from './native'
import { validateOneOf } from './validate'

export type Protection = 'none' | 'r' | 'rw' | 'rx' | 'rwx'
export const PROTECTIONS: readonly Protection[] = ['none', 'r', 'rw', 'rx', 'rwx']

export function protBits(protection: Protection): number {
  const { PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC } = constants
  switch (protection) {
    case 'none':
      return PROT_NONE
    case 'r':
      return PROT_READ
    case 'rw':
      return PROT_READ | PROT_WRITE
    case 'rx':
      return PROT_READ | PROT_EXEC
    case 'rwx':
      return PROT_READ | PROT_WRITE | PROT_EXEC
  }
}

export function validateProtection(value: unknown, name = 'protection'): Protection {
  return validateOneOf(value, name, PROTECTIONS)
}

export type Advice =
  | 'normal'
  | 'random'
  | 'sequential'
  | 'willneed'
  | 'dontneed'
  | 'free'
  | 'remove'
  | 'dontfork'
  | 'dofork'
  | 'mergeable'
  | 'unmergeable'
  | 'hugepage'
  | 'nohugepage'
  | 'dontdump'
  | 'dodump'
  | 'wipeonfork'
  | 'keeponfork'
  | 'cold'
  | 'pageout'
  | 'populate-read'
  | 'populate-write'
  | 'dontneed-locked'
  | 'collapse'
  | 'guard-install'
  | 'guard-remove'

const ADVICE: Readonly<Record<Advice, number>> = {
  normal: constants.MADV_NORMAL,
  random: constants.MADV_RANDOM,
  sequential: constants.MADV_SEQUENTIAL,
  willneed: constants.MADV_WILLNEED,
  dontneed: constants.MADV_DONTNEED,
  free: constants.MADV_FREE,
  remove: constants.MADV_REMOVE,
  dontfork: constants.MADV_DONTFORK,
  dofork: constants.MADV_DOFORK,
  mergeable: constants.MADV_MERGEABLE,
  unmergeable: constants.MADV_UNMERGEABLE,
  hugepage: constants.MADV_HUGEPAGE,
  nohugepage: constants.MADV_NOHUGEPAGE,
  dontdump: constants.MADV_DONTDUMP,
  dodump: constants.MADV_DODUMP,
  wipeonfork: constants.MADV_WIPEONFORK,
  keeponfork: constants.MADV_KEEPONFORK,
  cold: constants.MADV_COLD,
  pageout: constants.MADV_PAGEOUT,
  'populate-read': constants.MADV_POPULATE_READ,
  'populate-write': constants.MADV_POPULATE_WRITE,
  'dontneed-locked': constants.MADV_DONTNEED_LOCKED,
  collapse: constants.MADV_COLLAPSE,
  'guard-install': constants.MADV_GUARD_INSTALL,
  'guard-remove': constants.MADV_GUARD_REMOVE,
}
export const ADVICE_NAMES = Object.keys(ADVICE) as Advice[]

export function adviceValue(value: unknown): number {
  return ADVICE[validateOneOf(value, 'advice', ADVICE_NAMES)]
}
