/**
 * Up-front argument validation with Node's error codes. Every public entry point checks its arguments
 * here before anything reaches the addon, so misuse is a TypeError/RangeError and never a crash.
 */
import { invalidArgType, invalidArgValue, outOfRange } from './errors'

export function validateInteger(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value)
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value)
  return value
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value)
  return value
}

export function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value)
  return value
}

export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw invalidArgType(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value)
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalidArgValue(name, value, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`)
  }
  return value as T
}

/** Closest allowed key by edit distance, for "did you mean" on a misspelled option. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      bestDistance = d
      best = candidate
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

/**
 * Checks that `options` is undefined or a plain object whose keys are all known: a typo in an option
 * name is an error, not silently ignored.
 */
export function validateOptions<T extends object>(options: unknown, name: string, allowed: readonly (keyof T & string)[]): Partial<T> {
  if (options === undefined) return {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgType(name, 'of type object', options)
  }
  for (const key of Object.keys(options)) {
    if (!(allowed as readonly string[]).includes(key)) {
      const hint = closest(key, allowed)
      throw invalidArgValue(name, options, `has an unknown option "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; known options: ${allowed.join(', ')}`)
    }
  }
  return options
}
