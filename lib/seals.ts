/**
 * File seals (fcntl(2) F_ADD_SEALS / F_GET_SEALS): names outside, bitmasks inside.
 * @see https://man7.org/linux/man-pages/man2/F_ADD_SEALS.2const.html
 */
import { check } from './errors'
import { constants, native } from './native'
import { invalidArgType, invalidArgValue } from './errors'

export type SealName = 'seal' | 'shrink' | 'grow' | 'write' | 'future-write' | 'exec'

export const SEAL_NAMES: readonly SealName[] = ['seal', 'shrink', 'grow', 'write', 'future-write', 'exec']

export const SEAL_BITS: Readonly<Record<SealName, number>> = {
  seal: constants.F_SEAL_SEAL,
  shrink: constants.F_SEAL_SHRINK,
  grow: constants.F_SEAL_GROW,
  write: constants.F_SEAL_WRITE,
  'future-write': constants.F_SEAL_FUTURE_WRITE,
  exec: constants.F_SEAL_EXEC,
}

/** Every seal bit memseal knows; a mask with other bits is passed to the kernel only as a raw number. */
export const ALL_SEAL_BITS = SEAL_NAMES.reduce((mask, name) => mask | SEAL_BITS[name], 0)

export function sealsFromBits(bits: number): Set<SealName> {
  return new Set(SEAL_NAMES.filter((name) => (bits & SEAL_BITS[name]) !== 0))
}

/** A seal list (['shrink', 'grow']) or a raw bitmask, as a bitmask. */
export function sealBitsOf(seals: unknown, argName = 'seals'): number {
  if (typeof seals === 'number') {
    if (!Number.isInteger(seals) || seals < 0 || seals > 0xffffffff) {
      throw invalidArgValue(argName, seals, 'must be a 32-bit unsigned bitmask')
    }
    return seals
  }
  if (!Array.isArray(seals) && !(seals instanceof Set)) {
    throw invalidArgType(argName, 'an array of seal names or a number', seals)
  }
  let bits = 0
  for (const name of seals) {
    if (typeof name !== 'string' || !(SEAL_NAMES as readonly string[]).includes(name)) {
      throw invalidArgValue(argName, name, `must contain only ${SEAL_NAMES.map((n) => `'${n}'`).join(', ')}`)
    }
    bits |= SEAL_BITS[name as SealName]
  }
  return bits
}

// Read off the addon's exports once: that object is in dictionary mode (about a hundred properties set one
// by one), so `native.getSeals` on every call would be a hash lookup on the hottest path (~4 ns of ~290).
const getSeals = native.getSeals

/** F_GET_SEALS: the raw seal bitmask of fd. */
export function getSealBits(fd: number): number {
  const bits = getSeals(fd)
  return bits < 0 ? check(bits, 'fcntl', 'F_GET_SEALS') : bits
}

/** F_ADD_SEALS: adds seals to fd's inode. */
export function addSealBits(fd: number, bits: number): void {
  check(native.fcntl(fd, constants.F_ADD_SEALS, bits), 'fcntl', 'F_ADD_SEALS')
}
