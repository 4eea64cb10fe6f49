/**
 * Memfd: an anonymous memory file from memfd_create(2), with its size, contents, seals and mappings.
 * Size, reads and writes use node:fs on the fd; creation, seals and mappings use the addon.
 * @see https://man7.org/linux/man-pages/man2/memfd_create.2.html
 */
import { fstatSync, ftruncateSync, readSync, readlinkSync, writeSync } from 'node:fs'
import { check, invalidArgType, invalidArgValue, MemsealError, outOfRange } from './errors'
import { hugetlbPools } from './kernel'
import { fromBuffer, Mapping } from './mapping'
import { constants, native } from './native'
import { protBits, type Protection, validateProtection } from './protection'
import { addSealBits, getSealBits, type SealName, sealBitsOf, sealsFromBits } from './seals'
import { validateBoolean, validateInteger, validateOptions, validateString } from './validate'

export type HugetlbSize = true | '64KB' | '512KB' | '1MB' | '2MB' | '8MB' | '16MB' | '32MB' | '256MB' | '512MB' | '1GB' | '2GB' | '16GB'

export interface CreateOptions {
  /** MFD_ALLOW_SEALING (default true). */
  sealing?: boolean
  /** false → MFD_NOEXEC_SEAL, true → MFD_EXEC (both Linux 6.3); undefined → neither (vm.memfd_noexec decides). */
  exec?: boolean
  /** MFD_CLOEXEC (default true). */
  cloexec?: boolean
  /** Initial size in bytes (ftruncate after creation). */
  size?: number
  /** MFD_HUGETLB: true for the default huge page size, or a size such as '2MB' / '1GB'. */
  hugetlb?: HugetlbSize
}

export interface FromOptions {
  /** Seals the fd must already carry (names or a bitmask). */
  require?: SealName[] | number
  /** Largest size accepted, in bytes. */
  maxSize?: number
}

export interface MapOptions {
  /** 'none' | 'r' (default) | 'rw' | 'rx' | 'rwx' */
  protection?: Protection
  /** MAP_SHARED (default true) or MAP_PRIVATE. */
  shared?: boolean
  /** File offset, a multiple of the page size (default 0). */
  offset?: number
  /** Bytes to map (default: from offset to the end of the file). */
  length?: number
}

/** The kernel's documented limit: 249 bytes, excluding the terminating NUL (memfd_create(2)). */
export const MAX_NAME_BYTES = 249
const MAX_SIZE = Number.MAX_SAFE_INTEGER

function hugetlbFlags(value: unknown): number {
  if (value === true) return constants.MFD_HUGETLB
  const m = typeof value === 'string' ? /^(\d+)(KB|MB|GB)$/.exec(value) : null
  if (!m) throw invalidArgValue('options.hugetlb', value, "must be true or a page size such as '2MB' or '1GB'")
  const bytes = Number(m[1]) * { KB: 1 << 10, MB: 1 << 20, GB: 1 << 30 }[m[2] as 'KB' | 'MB' | 'GB']
  const log2 = Math.log2(bytes)
  if (!Number.isInteger(log2) || log2 > constants.MFD_HUGE_MASK) {
    throw invalidArgValue('options.hugetlb', value, 'must be a power-of-two page size')
  }
  return constants.MFD_HUGETLB | (log2 << constants.MFD_HUGE_SHIFT)
}

function createFlags(o: Partial<CreateOptions>): number {
  let flags = 0
  if (o.sealing === undefined || validateBoolean(o.sealing, 'options.sealing')) flags |= constants.MFD_ALLOW_SEALING
  if (o.cloexec === undefined || validateBoolean(o.cloexec, 'options.cloexec')) flags |= constants.MFD_CLOEXEC
  if (o.exec !== undefined) flags |= validateBoolean(o.exec, 'options.exec') ? constants.MFD_EXEC : constants.MFD_NOEXEC_SEAL
  if (o.hugetlb !== undefined) flags |= hugetlbFlags(o.hugetlb)
  return flags
}

// Device numbers of the kernel's internal memfd mounts (shmem, and one hugetlbfs mount per huge page
// size the kernel has), learned from memfds of our own: a file passed to Memfd.from() is a memfd only if
// it lives on one of them. A /dev/shm file, or a tmpfs file named "memfd:…", lives elsewhere.
let memfdDevices: Set<number> | undefined
function isMemfdDevice(dev: number): boolean {
  if (memfdDevices === undefined) {
    memfdDevices = new Set()
    const hugeSizes = hugetlbPools().map((pool) => constants.MFD_HUGETLB | (Math.log2(pool.pageSize) << constants.MFD_HUGE_SHIFT))
    for (const flags of [0, constants.MFD_HUGETLB, ...hugeSizes]) {
      const fd = native.memfdCreate('memseal-probe', constants.MFD_CLOEXEC | flags)
      if (fd < 0) continue // no hugetlbfs, or not that size: then no such memfd can exist either
      try {
        memfdDevices.add(fstatSync(fd).dev)
      } finally {
        native.close(fd)
      }
    }
  }
  return memfdDevices.has(dev)
}

// fstat(2) for the hot paths (create, map, read, size, close): dev, ino and size straight from the addon,
// without the fs.Stats object (and its four Dates) that fstatSync builds. On failure it asks fstatSync
// again, so that the error thrown is exactly node:fs's own.
const DEV = 0
const INO = 1
const SIZE = 2
const statBuffer = new Float64Array(4)
function quickStat(fd: number): Float64Array {
  if (native.fstat(fd, statBuffer) < 0) {
    const stats = fstatSync(fd)
    statBuffer[DEV] = stats.dev
    statBuffer[INO] = stats.ino
    statBuffer[SIZE] = stats.size
    statBuffer[3] = stats.mode
  }
  return statBuffer
}

function readLink(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return ''
  }
}

export class Memfd {
  #fd: number
  #dev: number
  #ino: number
  readonly name: string

  private constructor(fd: number, name: string, dev: number, ino: number) {
    this.#fd = fd
    this.name = name
    this.#dev = dev
    this.#ino = ino
  }

  /** memfd_create(2) with flags from options (sealing and cloexec on by default), then an optional size. */
  static create(name = 'memseal', options?: CreateOptions): Memfd {
    validateString(name, 'name')
    if (name.includes('\0')) throw invalidArgValue('name', name, 'must not contain NUL bytes')
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
      throw invalidArgValue('name', name, `must be at most ${MAX_NAME_BYTES} bytes (memfd_create(2))`)
    }
    const o = validateOptions<CreateOptions>(options, 'options', ['sealing', 'exec', 'cloexec', 'size', 'hugetlb'])
    const size = o.size === undefined ? undefined : validateInteger(o.size, 'options.size', 0, MAX_SIZE)
    const flags = createFlags(o)
    const ret = native.memfdCreate(name, flags)
    if (ret < 0) {
      const execBits = flags & (constants.MFD_EXEC | constants.MFD_NOEXEC_SEAL)
      check(ret, 'memfd_create', execBits && ret === -22 ? 'MFD_EXEC and MFD_NOEXEC_SEAL need Linux 6.3' : undefined)
    }
    try {
      if (size !== undefined && size > 0) ftruncateSync(ret, size)
      const stats = quickStat(ret)
      return new Memfd(ret, name, stats[DEV]!, stats[INO]!)
    } catch (err) {
      native.close(ret)
      throw err
    }
  }

  /**
   * Adopts a file descriptor received from elsewhere after verifying, before anything maps it, that it
   * is a memfd, that it carries the required seals and that its size is within bounds. On success the
   * Memfd owns the fd (close() closes it); on failure the caller still owns it.
   */
  static from(fd: number, options?: FromOptions): Memfd {
    validateInteger(fd, 'fd', 0, 0x7fffffff)
    const o = validateOptions<FromOptions>(options, 'options', ['require', 'maxSize'])
    const required = o.require === undefined ? 0 : sealBitsOf(o.require, 'options.require')
    const maxSize = o.maxSize === undefined ? MAX_SIZE : validateInteger(o.maxSize, 'options.maxSize', 0, MAX_SIZE)
    const stats = fstatSync(fd)
    const link = readLink(fd)
    if (!stats.isFile() || !link.startsWith('/memfd:') || !isMemfdDevice(stats.dev)) {
      throw new MemsealError('ERR_MEMSEAL_NOT_MEMFD', `fd ${fd} is not a memfd (${link || 'unknown file'})`)
    }
    const bits = getSealBits(fd)
    const missing = required & ~bits
    if (missing !== 0) {
      const names = [...sealsFromBits(missing)].join(', ')
      throw new MemsealError('ERR_MEMSEAL_SEALS_MISSING', `fd ${fd} lacks the required seals: ${names || `0x${missing.toString(16)}`}`)
    }
    if (stats.size > maxSize) {
      throw new MemsealError('ERR_MEMSEAL_TOO_LARGE', `fd ${fd} holds ${stats.size} bytes, more than maxSize ${maxSize}`)
    }
    const name = link.replace(/^\/memfd:/, '').replace(/ \(deleted\)$/, '')
    return new Memfd(fd, name, stats.dev, stats.ino)
  }

  #open(syscall: string): number {
    if (this.#fd < 0) throw new MemsealError('ERR_MEMSEAL_CLOSED', `${syscall}: the memfd is closed`)
    return this.#fd
  }

  /** The file descriptor. */
  get fd(): number {
    return this.#open('fd')
  }

  get closed(): boolean {
    return this.#fd < 0
  }

  /** Current size in bytes (fstat). */
  get size(): number {
    return quickStat(this.#open('fstat'))[SIZE]!
  }

  /** ftruncate(2) to `size` bytes. */
  resize(size: number): void {
    validateInteger(size, 'size', 0, MAX_SIZE)
    ftruncateSync(this.#open('ftruncate'), size)
  }

  /** Writes all of `bytes` at `offset` (default 0); returns the number of bytes written. */
  write(bytes: ArrayBufferView | string, offset = 0): number {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes
    if (!ArrayBuffer.isView(data)) throw invalidArgType('bytes', 'a string, Buffer, TypedArray or DataView', bytes)
    validateInteger(offset, 'offset', 0, MAX_SIZE)
    const fd = this.#open('write')
    const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    let done = 0
    while (done < view.length) done += writeSync(fd, view, done, view.length - done, offset + done)
    return done
  }

  /** Reads `length` bytes at `offset` (default: everything from offset to the end) into a new Buffer. */
  read(length?: number, offset = 0): Buffer {
    validateInteger(offset, 'offset', 0, MAX_SIZE)
    const fd = this.#open('read')
    const available = Math.max(0, quickStat(fd)[SIZE]! - offset)
    const len = length === undefined ? available : validateInteger(length, 'length', 0, 0x7fffffff)
    const out = Buffer.allocUnsafe(len)
    let done = 0
    while (done < len) {
      const n = readSync(fd, out, done, len - done, offset + done)
      if (n === 0) break
      done += n
    }
    return done === len ? out : out.subarray(0, done)
  }

  /** F_GET_SEALS as a raw bitmask. */
  get sealBits(): number {
    return getSealBits(this.#open('fcntl'))
  }

  /** F_GET_SEALS as names. */
  get seals(): Set<SealName> {
    return sealsFromBits(this.sealBits)
  }

  /** F_ADD_SEALS with seal names or a raw bitmask. */
  addSeals(seals: SealName[] | number): void {
    const bits = sealBitsOf(seals)
    addSealBits(this.#open('fcntl'), bits)
  }

  /** mmap(2) of the file (default: read-only, shared, the whole file). */
  map(options?: MapOptions): Mapping {
    const o = validateOptions<MapOptions>(options, 'options', ['protection', 'shared', 'offset', 'length'])
    const protection = o.protection === undefined ? 'r' : validateProtection(o.protection, 'options.protection')
    const shared = o.shared === undefined ? true : validateBoolean(o.shared, 'options.shared')
    const offset = o.offset === undefined ? 0 : validateInteger(o.offset, 'options.offset', 0, MAX_SIZE)
    if (offset % constants.PAGE_SIZE !== 0) {
      throw invalidArgValue('options.offset', offset, `must be a multiple of the page size (${constants.PAGE_SIZE})`)
    }
    const fd = this.#open('mmap')
    let length = o.length
    if (length === undefined) {
      length = quickStat(fd)[SIZE]! - offset
      if (length <= 0) throw outOfRange('options.length', '> 0: the memfd is empty from that offset; resize() it or pass a length', length)
    } else {
      validateInteger(length, 'options.length', 1, MAX_SIZE)
    }
    const flags = shared ? constants.MAP_SHARED : constants.MAP_PRIVATE
    const buffer = check(native.mmap(length, protBits(protection), flags, fd, offset), 'mmap') as ArrayBuffer
    return new Mapping(fromBuffer, buffer, protection, shared)
  }

  /**
   * Closes the fd. Idempotent, and it never closes a descriptor it does not own: if the fd number now
   * refers to another file (closed behind our back and reused), it is left alone.
   */
  close(): void {
    const fd = this.#fd
    if (fd < 0) return
    this.#fd = -1
    // A failed fstat means the fd is already closed: nothing of ours to close.
    if (native.fstat(fd, statBuffer) < 0) return
    if (statBuffer[DEV] === this.#dev && statBuffer[INO] === this.#ino) check(native.close(fd), 'close')
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
