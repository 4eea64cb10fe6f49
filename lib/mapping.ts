/**
 * Mapping: pages mapped with mmap(2), reached through external ArrayBuffers over those very pages.
 *
 * No ArrayBuffer of a mapping can ever dangle: unmap() and remap() detach every one memseal made (their
 * views read byteLength 0), and a mapping dropped without unmap() is unmapped once the garbage collector
 * has taken the Mapping and every ArrayBuffer over it. A sealed range (mseal(2)) cannot be unmapped:
 * unmap() throws EPERM and the buffer stays valid until exit.
 *
 * One ArrayBuffer can be at most `Mapping.maxViewLength` bytes (the runtime's limit, 4 GiB in Node 18 and
 * 20). A larger mapping is used through windows, `view(offset, length)`: ArrayBuffers over parts of it,
 * detached like `buffer` when the mapping goes.
 * @see https://man7.org/linux/man-pages/man2/mmap.2.html
 */
import { check, fromNative, invalidArgValue, MemsealError, outOfRange, systemError } from './errors'
import { constants, native, ProbeAccess } from './native'
import { type Advice, adviceValue, protBits, type Protection, validateProtection } from './protection'
import { validateBoolean, validateInteger, validateOneOf, validateOptions } from './validate'
import { constants as bufferConstants } from 'node:buffer'

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

/**
 * @internal The file of a file mapping, shared by a Memfd and its mappings (one object per Memfd): its
 * identity, and its descriptor while the Memfd is open (-1 after), so that remap() can ask the file's size.
 */
export interface FileRef {
  fd: number
  readonly dev: number
  readonly ino: number
}

const fileStat = new Float64Array(4)

// The file's size now, or -1 when its Memfd is closed (or the descriptor no longer is that file).
function fileSize(ref: FileRef): number {
  if (ref.fd < 0 || native.fstat(ref.fd, fileStat) !== 0 || fileStat[0] !== ref.dev || fileStat[1] !== ref.ino) return -1
  return fileStat[2]!
}

const PAGE_SIZE = constants.PAGE_SIZE
const MAX_LENGTH = Number.MAX_SAFE_INTEGER - PAGE_SIZE
const ENOMEM = -12
const EBADF = -9
const EBUSY = -16

/** @internal Creation token: Mapping instances come from Mapping.anonymous() and Memfd#map() only. */
const token = Symbol('memseal.mapping')
const idOut = new Float64Array(1)

// The head a Mapping keeps of a mapping of `length` bytes: all of it, or its first page when it is longer
// than one ArrayBuffer can be (then only probe() uses it).
function headLength(length: number): number {
  return length > Mapping.maxViewLength ? Math.min(length, PAGE_SIZE) : length
}

/** The message for ENOMEM from mmap: memseal's own budget of mappings, when that is what ran out. */
function enomemDetail(): string | undefined {
  const [live, budget] = native.mappingBudget()
  if (live < budget) return undefined
  return (
    `memseal keeps at most ${budget} mappings at once (half of vm.max_map_count, so the runtime's own mappings ` +
    `always find room) and holds ${live}: unmap() the ones no longer used (dropped ones are released after the garbage collector takes them)`
  )
}

/** @internal mmap(2) into a new Mapping, the handle of the region. */
export function mapPages(
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
  protection: Protection,
  file?: FileRef,
  detail?: (ret: number) => string | undefined,
): Mapping {
  let head: ArrayBuffer | number
  try {
    head = native.map(idOut, length, prot, flags, fd, offset, file?.dev ?? -1, file?.ino ?? -1, headLength(length))
  } catch (err) {
    throw fromNative(err) // the runtime refused an external ArrayBuffer: ERR_MEMSEAL_NO_EXTERNAL_BUFFERS …
  }
  if (typeof head === 'number') {
    const err = systemError(head, 'mmap', (head === ENOMEM ? enomemDetail() : undefined) ?? detail?.(head))
    Error.captureStackTrace(err, mapPages)
    throw err
  }
  return new Mapping(token, idOut[0]!, head, length, protection, (flags & constants.MAP_SHARED) !== 0, file, offset)
}

export class Mapping {
  /** The largest ArrayBuffer this runtime can make: `buffer` and each `view()` are at most this long. */
  static readonly maxViewLength: number = bufferConstants.MAX_LENGTH

  // The region's id in the addon's registry: what every operation names it by.
  readonly #id: number
  #length: number
  // The mapping's head: the ArrayBuffer `buffer` returns (for a mapping above maxViewLength, a page-long one
  // for probe()). Kept here: it holds the pages mapped while the Mapping lives. #exposed: it has been
  // handed out (so it may have been transferred away from memseal's reach).
  #head: ArrayBuffer
  #exposed = false
  #protection: Protection
  readonly shared: boolean
  #file: FileRef | undefined
  #fileOffset: number
  // A shared anonymous mapping is backed by a memory object the size of its first mapping, which mremap(2)
  // does not grow: pages past it raise SIGBUS. Its size in bytes; 0 for every other mapping.
  #objectSize = 0
  #sealed = false
  #unmapped = false

  /** @internal */
  constructor(key: typeof token, id: number, head: ArrayBuffer, length: number, protection: Protection, shared: boolean, file?: FileRef, fileOffset = 0) {
    if (key !== token) throw new TypeError('Illegal constructor: use Mapping.anonymous() or Memfd#map()')
    this.#id = id
    this.#head = head
    this.#length = length
    this.#protection = protection
    this.shared = shared
    this.#file = file
    this.#fileOffset = fileOffset
  }

  /** An anonymous mapping of `length` bytes (rounded up to whole pages by the kernel). */
  static anonymous(length: number, options?: AnonymousOptions): Mapping {
    validateInteger(length, 'length', 1, MAX_LENGTH)
    const o = validateOptions<AnonymousOptions>(options, 'options', ['protection', 'shared'])
    const protection = o.protection === undefined ? 'rw' : validateProtection(o.protection, 'options.protection')
    const shared = o.shared === undefined ? false : validateBoolean(o.shared, 'options.shared')
    const flags = constants.MAP_ANONYMOUS | (shared ? constants.MAP_SHARED : constants.MAP_PRIVATE)
    const mapping = mapPages(length, protBits(protection), flags, -1, 0, protection)
    if (shared) mapping.#objectSize = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE
    return mapping
  }

  /**
   * The mapped pages as one ArrayBuffer, zero-copy. Detached (byteLength 0) once unmapped. A mapping
   * longer than `Mapping.maxViewLength` has none: that throws ERR_MEMSEAL_BUFFER_TOO_LARGE; use view().
   */
  get buffer(): ArrayBuffer {
    if (this.#unmapped) return this.#head
    if (this.#length > Mapping.maxViewLength) {
      throw new MemsealError(
        'ERR_MEMSEAL_BUFFER_TOO_LARGE',
        `the mapping is ${this.#length} bytes, more than the largest ArrayBuffer this runtime can make (${Mapping.maxViewLength} bytes): use view(offset, length) for windows of it`,
      )
    }
    const head = this.#headView()
    if (!this.#exposed) {
      this.#checked(native.expose(this.#id), 'mmap')
      this.#exposed = true
    }
    return head
  }

  // The head, made again when the last one was detached by someone else (ArrayBuffer.prototype.transfer()).
  #headView(): ArrayBuffer {
    if (this.#head.byteLength === 0) {
      this.#head = this.#view(0, headLength(this.#length), false)
      this.#exposed = false
    }
    return this.#head
  }

  // A native result: -EBADF means the pages are gone without unmap() (they went with an ArrayBuffer
  // transferred out of this mapping, since collected; or the thread's environment was torn down).
  #checked(r: number, syscall: string): number {
    if (r === EBADF) {
      this.#unmapped = true
      throw new MemsealError('ERR_MEMSEAL_UNMAPPED', `${syscall}: the mapping is gone (its pages went with an ArrayBuffer transferred out of it)`)
    }
    return check(r, syscall)
  }

  /**
   * An ArrayBuffer over [offset, offset + length) of the mapping (default: from offset on, at most
   * `Mapping.maxViewLength` bytes), zero-copy. Detached, like `buffer`, when the mapping is unmapped or
   * remapped. Windows are how a mapping larger than one ArrayBuffer is read and written.
   */
  view(offset = 0, length?: number): ArrayBuffer {
    this.#live('view')
    const size = this.#length
    validateInteger(offset, 'offset', 0, size - 1)
    const max = Math.min(size - offset, Mapping.maxViewLength)
    const len = length === undefined ? max : validateInteger(length, 'length', 1, max)
    return this.#view(offset, len)
  }

  #view(offset: number, length: number, exposed = true): ArrayBuffer {
    let r: ArrayBuffer | number
    try {
      r = native.view(this.#id, offset, length, exposed)
    } catch (err) {
      throw fromNative(err) // the runtime refused an external ArrayBuffer: ERR_MEMSEAL_NO_EXTERNAL_BUFFERS …
    }
    if (typeof r === 'number') this.#checked(r, 'mmap')
    return r as ArrayBuffer
  }

  /** Length in bytes; 0 once unmapped. */
  get length(): number {
    return this.#unmapped ? 0 : this.#length
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

  #live(syscall: string): void {
    if (this.#unmapped) throw new MemsealError('ERR_MEMSEAL_UNMAPPED', `${syscall}: the mapping has been unmapped`)
  }

  // [offset, offset + length) within the mapping, offset page-aligned (the kernel requires it).
  #range(offset: unknown, length: unknown): [number, number] {
    const size = this.#length
    const off = offset === undefined ? 0 : validateInteger(offset, 'offset', 0, size)
    if (off % PAGE_SIZE !== 0) throw invalidArgValue('offset', off, `must be a multiple of the page size (${PAGE_SIZE})`)
    const len = length === undefined ? size - off : validateInteger(length, 'length', 0, size)
    if (off + len > size) throw outOfRange('length', `<= ${size - off} (the mapping ends there)`, len)
    return [off, len]
  }

  /** mprotect(2) on [offset, offset + length) (default: the whole mapping). */
  protect(protection: Protection, offset?: number, length?: number): void {
    const prot = validateProtection(protection)
    this.#live('mprotect')
    const [off, len] = this.#range(offset, length)
    this.#checked(native.mprotect(this.#id, off, len, protBits(prot)), 'mprotect')
    if (off === 0 && len === this.#length) this.#protection = prot
  }

  /** madvise(2) on [offset, offset + length) (default: the whole mapping). */
  advise(advice: Advice, offset?: number, length?: number): void {
    const value = adviceValue(advice)
    this.#live('madvise')
    const [off, len] = this.#range(offset, length)
    this.#checked(native.madvise(this.#id, off, len, value), 'madvise')
  }

  /**
   * mseal(2) (Linux 6.10): the range can no longer be unmapped, moved, shrunk, expanded, re-protected or
   * discarded while read-only, until the process exits. Irreversible for this process. The rest of a
   * mapping sealed in part is still unmapped when the mapping is collected.
   */
  seal(offset?: number, length?: number): void {
    this.#live('mseal')
    const [off, len] = this.#range(offset, length)
    this.#checked(native.mseal(this.#id, off, len, 0), 'mseal')
    if (len > 0) this.#sealed = true
  }

  /**
   * mremap(2) to `length` bytes. Every ArrayBuffer of the old pages is detached; `buffer` and view() give
   * new ones. A file mapping cannot grow past the end of its file (ERR_OUT_OF_RANGE: the pages there would
   * raise SIGBUS), and grows only while its Memfd is open (the file's size is asked then); a shared
   * anonymous mapping cannot grow past the size it was made with (its memory object does not grow with
   * it, ERR_OUT_OF_RANGE for the same reason). ERR_MEMSEAL_BUSY when an ArrayBuffer of the mapping may still be reachable where
   * memseal cannot detach it (moved away with ArrayBuffer.prototype.transfer(), or collected with its
   * finalizer still waiting for the event loop): the pages must not move under it.
   */
  remap(length: number, options?: RemapOptions): void {
    validateInteger(length, 'length', 1, MAX_LENGTH)
    const o = validateOptions<RemapOptions>(options, 'options', ['mayMove'])
    const mayMove = o.mayMove === undefined ? true : validateBoolean(o.mayMove, 'options.mayMove')
    this.#live('mremap')
    if (this.#objectSize > 0 && length > this.#objectSize) {
      throw outOfRange(
        'length',
        `<= ${this.#objectSize}: a shared anonymous mapping's memory keeps the size it was made with (pages past it raise SIGBUS)`,
        length,
      )
    }
    if (this.#file !== undefined && length > this.#length) {
      const size = fileSize(this.#file)
      if (size < 0)
        throw outOfRange('length', `<= ${this.#length}: the memfd is closed, so its size cannot be checked (grow the mapping while it is open)`, length)
      if (length > size - this.#fileOffset) {
        throw outOfRange('length', `<= ${size - this.#fileOffset}: the memfd ends there (pages past its end raise SIGBUS)`, length)
      }
    }
    const r = native.remap(this.#id, length, mayMove)
    if (r === EBUSY) {
      throw new MemsealError(
        'ERR_MEMSEAL_BUSY',
        'mremap: an ArrayBuffer of this mapping may still be reachable where memseal cannot detach it (transferred, or collected and awaiting its finalizer): let the event loop turn, or unmap() and map again',
      )
    }
    this.#checked(r, 'mremap')
    this.#length = length
    this.#head = this.#view(0, headLength(length), false)
    this.#exposed = false
  }

  /** munmap(2). Idempotent. Detaches `buffer` and every view. A sealed mapping throws EPERM and stays mapped. */
  unmap(): void {
    if (this.#unmapped) return
    const r = native.munmap(this.#id)
    if (r !== EBADF) check(r, 'munmap') // EBADF: the pages are gone already (see #checked)
    this.#unmapped = true
  }

  /**
   * Performs one access at `offset` in a forked child process and reports what happened: 'ok', or the
   * signal the access raised. No JavaScript runs in the child; the caller's memory is not changed
   * ('write' stores back the byte it read; 'exec' runs the instruction at offset).
   */
  probe(offset: number, access: ProbeKind): ProbeResult {
    const kind = validateOneOf(access, 'access', ['read', 'write', 'exec'] as const)
    this.#live('probe')
    validateInteger(offset, 'offset', 0, this.#length - 1)
    // The probe finds the mapping through an ArrayBuffer at its start (kept, so unmap() can detach it).
    const head = this.#headView()
    const code = kind === 'read' ? ProbeAccess.Read : kind === 'write' ? ProbeAccess.Write : ProbeAccess.Exec
    const r = native.probe(head, offset, code)
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
