/**
 * Mapping: pages mapped with mmap(2), exposed as an external ArrayBuffer over those very pages.
 *
 * The ArrayBuffer can never dangle: unmap() munmaps and then detaches it, so every view over it reads
 * byteLength 0; a mapping dropped without unmap() is unmapped by the ArrayBuffer's finalizer. A sealed
 * mapping (mseal(2)) cannot be unmapped: unmap() throws EPERM and the buffer stays valid until exit.
 * @see https://man7.org/linux/man-pages/man2/mmap.2.html
 */
import { check, invalidArgValue, MemsealError, outOfRange } from './errors'
import { constants, native, ProbeAccess } from './native'
import { adviceValue, protBits, type Protection, validateProtection } from './protection'
import { validateBoolean, validateInteger, validateOneOf, validateOptions } from './validate'

export type ProbeResult = 'ok' | 'SIGSEGV' | 'SIGBUS'
export type ProbeKind = 'read' | 'write' | 'exec'

export interface AnonymousOptions {
  /** 'none' | 'r' | 'rw' (default) | 'rx' | 'rwx' */
  protection?: Protection
  /** MAP_SHARED (shared with children after fork) instead of MAP_PRIVATE (default). */
  shared?: boolean
}

export interface RemapOptions {
  /** Let the kernel move the pages (MREMAP_MAYMOVE, default true). */
  mayMove?: boolean
}

const PAGE_SIZE = constants.PAGE_SIZE
const MAX_LENGTH = Number.MAX_SAFE_INTEGER - PAGE_SIZE

/** @internal Creation token: Mapping instances come from Mapping.anonymous() and Memfd.map() only. */
export const fromBuffer = Symbol('memseal.mapping.fromBuffer')

export class Mapping {
  #buffer: ArrayBuffer
  #protection: Protection
  readonly shared: boolean
  #sealed = false
  #unmapped = false

  /** @internal */
  constructor(token: typeof fromBuffer, buffer: ArrayBuffer, protection: Protection, shared: boolean) {
    if (token !== fromBuffer) throw new TypeError('Illegal constructor: use Mapping.anonymous() or Memfd#map()')
    this.#buffer = buffer
    this.#protection = protection
    this.shared = shared
  }

  /** An anonymous mapping of `length` bytes (rounded up to whole pages by the kernel). */
  static anonymous(length: number, options?: AnonymousOptions): Mapping {
    validateInteger(length, 'length', 1, MAX_LENGTH)
    const o = validateOptions<AnonymousOptions>(options, 'options', ['protection', 'shared'])
    const protection = o.protection === undefined ? 'rw' : validateProtection(o.protection, 'options.protection')
    const shared = o.shared === undefined ? false : validateBoolean(o.shared, 'options.shared')
    const flags = constants.MAP_ANONYMOUS | (shared ? constants.MAP_SHARED : constants.MAP_PRIVATE)
    const buffer = check(native.mmap(length, protBits(protection), flags, -1, 0), 'mmap') as ArrayBuffer
    return new Mapping(fromBuffer, buffer, protection, shared)
  }

  /** The mapped pages, zero-copy. Detached (byteLength 0) once unmapped. */
  get buffer(): ArrayBuffer {
    return this.#buffer
  }

  /** Length in bytes; 0 once unmapped. */
  get length(): number {
    return this.#buffer.byteLength
  }

  /** The protection last set through this object for the whole mapping. */
  get protection(): Protection {
    return this.#protection
  }

  get sealed(): boolean {
    return this.#sealed
  }

  get mapped(): boolean {
    return !this.#unmapped
  }

  #live(syscall: string): ArrayBuffer {
    if (this.#unmapped) throw new MemsealError('ERR_MEMSEAL_UNMAPPED', `${syscall}: the mapping has been unmapped`)
    return this.#buffer
  }

  // [offset, offset + length) within the mapping, offset page-aligned (the kernel requires it).
  #range(offset: unknown, length: unknown): [number, number] {
    const size = this.#buffer.byteLength
    const off = offset === undefined ? 0 : validateInteger(offset, 'offset', 0, size)
    if (off % PAGE_SIZE !== 0) throw invalidArgValue('offset', off, `must be a multiple of the page size (${PAGE_SIZE})`)
    const len = length === undefined ? size - off : validateInteger(length, 'length', 0, size)
    if (off + len > size) throw outOfRange('length', `<= ${size - off} (the mapping ends there)`, len)
    return [off, len]
  }

  /** mprotect(2) on [offset, offset + length) (default: the whole mapping). */
  protect(protection: Protection, offset?: number, length?: number): void {
    const prot = validateProtection(protection)
    const buffer = this.#live('mprotect')
    const [off, len] = this.#range(offset, length)
    check(native.mprotect(buffer, off, len, protBits(prot)), 'mprotect')
    if (off === 0 && len === buffer.byteLength) this.#protection = prot
  }

  /** madvise(2) on [offset, offset + length) (default: the whole mapping). */
  advise(advice: Parameters<typeof adviceValue>[0], offset?: number, length?: number): void {
    const value = adviceValue(advice)
    const buffer = this.#live('madvise')
    const [off, len] = this.#range(offset, length)
    check(native.madvise(buffer, off, len, value), 'madvise')
  }

  /**
   * mseal(2) (Linux 6.10): the range can no longer be unmapped, moved, shrunk, expanded, re-protected or
   * discarded while read-only, until the process exits. Irreversible for this process.
   */
  seal(offset?: number, length?: number): void {
    const buffer = this.#live('mseal')
    const [off, len] = this.#range(offset, length)
    check(native.mseal(buffer, off, len, 0), 'mseal')
    if (len > 0) this.#sealed = true
  }

  /**
   * mremap(2) to `length` bytes. The old buffer is detached and `buffer` is a new ArrayBuffer over the
   * pages at their (possibly new) address.
   */
  remap(length: number, options?: RemapOptions): void {
    validateInteger(length, 'length', 1, MAX_LENGTH)
    const o = validateOptions<RemapOptions>(options, 'options', ['mayMove'])
    const mayMove = o.mayMove === undefined ? true : validateBoolean(o.mayMove, 'options.mayMove')
    const buffer = this.#live('mremap')
    this.#buffer = check(native.mremap(buffer, length, mayMove), 'mremap') as ArrayBuffer
  }

  /** munmap(2). Idempotent. Detaches `buffer`. A sealed mapping throws EPERM and stays mapped. */
  unmap(): void {
    if (this.#unmapped) return
    check(native.munmap(this.#buffer), 'munmap')
    this.#unmapped = true
  }

  /**
   * Performs one access at `offset` in a forked child process and reports what happened: 'ok', or the
   * signal the access raised. No JavaScript runs in the child; the caller's memory is not changed
   * ('write' stores back the byte it read; 'exec' runs the instruction at offset).
   */
  probe(offset: number, access: ProbeKind): ProbeResult {
    const kind = validateOneOf(access, 'access', ['read', 'write', 'exec'] as const)
    const buffer = this.#live('probe')
    validateInteger(offset, 'offset', 0, Math.max(0, buffer.byteLength - 1))
    const code = kind === 'read' ? ProbeAccess.Read : kind === 'write' ? ProbeAccess.Write : ProbeAccess.Exec
    const r = native.probe(buffer, offset, code)
    if (r < 0) check(r, 'fork')
    if (r === 0) return 'ok'
    if (r === constants.SIGSEGV) return 'SIGSEGV'
    if (r === constants.SIGBUS) return 'SIGBUS'
    throw new MemsealError('ERR_MEMSEAL_PROBE', `probe: the ${kind} access ended with signal ${r}`)
  }

  /** Unmaps unless sealed (a sealed mapping lives until exit, as mseal(2) documents). */
  [Symbol.dispose](): void {
    if (!this.#sealed) this.unmap()
  }
}
