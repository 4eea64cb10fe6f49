/**
 * Errors shaped like Node's own: a failed syscall becomes a SystemError-like Error with `code`
 * ('EPERM'), a negative `errno`, `syscall` and a message naming the call; misuse of the API becomes a
 * TypeError or RangeError carrying Node's ERR_* code; memseal's own conditions are MemsealErrors.
 */
import { getSystemErrorMap } from 'node:util'

export interface SystemError extends Error {
  code: string
  errno: number
  syscall: string
  path?: string
}

let errorMap: Map<number, [string, string]> | undefined

/** The errno name ('EPERM') for a negative errno (-1), as libuv's table gives it. */
export function errnoName(errno: number): string {
  errorMap ??= getSystemErrorMap()
  return errorMap.get(errno)?.[0] ?? `E${-errno}`
}

/** A SystemError for -errno `ret` from `syscall`. */
export function systemError(ret: number, syscall: string, detail?: string): SystemError {
  errorMap ??= getSystemErrorMap()
  const [code, description] = errorMap.get(ret) ?? [`E${-ret}`, 'unknown error']
  const err = new Error(`${syscall} failed: ${code} (${description})${detail ? `, ${detail}` : ''}`) as SystemError
  err.code = code
  err.errno = ret
  err.syscall = syscall
  return err
}

/** Returns a non-negative syscall result; throws a SystemError for -errno. */
export function check<T>(ret: T, syscall: string, detail?: string): Exclude<T, number> | number {
  if (typeof ret === 'number' && ret < 0) {
    const err = systemError(ret, syscall, detail)
    Error.captureStackTrace(err, check)
    throw err
  }
  return ret as Exclude<T, number> | number
}

export type MemsealErrorCode =
  | 'ERR_MEMSEAL_CLOSED'
  | 'ERR_MEMSEAL_UNMAPPED'
  | 'ERR_MEMSEAL_BUFFER_TOO_LARGE'
  | 'ERR_MEMSEAL_BUSY'
  | 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS'
  | 'ERR_MEMSEAL_EXTERNAL_BUFFER'
  | 'ERR_MEMSEAL_NOT_MEMFD'
  | 'ERR_MEMSEAL_SEALS_MISSING'
  | 'ERR_MEMSEAL_TOO_LARGE'
  | 'ERR_MEMSEAL_PROBE'
  | 'ERR_MEMSEAL_NO_FD'
  | 'ERR_MEMSEAL_TOO_MANY_FDS'
  | 'ERR_MEMSEAL_EXECUTABLE'
  | 'ERR_MEMSEAL_EMPTY'
  | 'ERR_MEMSEAL_SIZE_MISMATCH'
  | 'ERR_MEMSEAL_BAD_MESSAGE'
  | 'ERR_MEMSEAL_MESSAGE_TOO_LARGE'
  | 'ERR_MEMSEAL_CHANNEL_CLOSED'
  | 'ERR_MEMSEAL_NOT_SOCKET'

/** memseal's own errors: the condition is not a failed syscall but a broken promise of the API. */
export class MemsealError extends Error {
  readonly code: MemsealErrorCode
  constructor(code: MemsealErrorCode, message: string) {
    super(message)
    this.name = 'MemsealError'
    this.code = code
    Error.captureStackTrace?.(this, new.target)
  }
}

/** An error the addon threw with one of memseal's codes, as the MemsealError it is; anything else unchanged. */
export function fromNative(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !code.startsWith('ERR_MEMSEAL_') || err instanceof MemsealError) return err
  return new MemsealError(code as MemsealErrorCode, (err as Error).message)
}

/**
 * An operation given up because its AbortSignal was aborted (or its timeout passed), shaped like Node's own
 * (`name` 'AbortError', `code` 'ABORT_ERR', `cause` the signal's reason), as fs, timers and events reject.
 */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR'
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'AbortError'
    Error.captureStackTrace?.(this, new.target)
  }
}

type NodeErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_VALUE'

function codedError<E extends Error>(err: E, code: NodeErrorCode): E & { code: NodeErrorCode } {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true })
  // Node prints its own coded errors as "TypeError [ERR_…]: …", in the stack and in toString(): do the same.
  const name = err.name
  err.stack = (err.stack ?? '').replace(`${name}:`, `${name} [${code}]:`)
  Object.defineProperty(err, 'toString', {
    value(this: Error) {
      return `${this.name} [${code}]: ${this.message}`
    },
    configurable: true,
    writable: true,
  })
  return err as E & { code: NodeErrorCode }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`
  if (typeof value === 'object') {
    const ctor = value.constructor?.name
    return ctor ? `an instance of ${ctor}` : 'an object'
  }
  // only primitives are left here: null, undefined, functions and objects returned above
  let shown = (value as string | number | bigint | boolean | symbol).toString()
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`
  if (typeof value === 'string') shown = `'${shown}'`
  if (typeof value === 'bigint') shown += 'n'
  return `type ${typeof value} (${shown})`
}

export function invalidArgType(name: string, expected: string, actual: unknown): TypeError {
  return codedError(new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`), 'ERR_INVALID_ARG_TYPE')
}

export function outOfRange(name: string, range: string, actual: unknown): RangeError {
  const shown = typeof actual === 'bigint' ? `${actual}n` : String(actual)
  return codedError(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE')
}

export function invalidArgValue(name: string, actual: unknown, reason: string): TypeError {
  let shown: string
  try {
    shown = typeof actual === 'string' ? `'${actual}'` : (JSON.stringify(actual) ?? String(actual))
  } catch {
    shown = String(actual)
  }
  return codedError(new TypeError(`The argument '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE')
}
