/**
 * Memfd: an anonymous memory file from memfd_create(2), with its size, contents, seals and mappings.
 * Size, reads and writes use node:fs on the fd; creation, seals and mappings use the addon.
 * @see https://man7.org/linux/man-pages/man2/memfd_create.2.html
 */
import { fstatSync, ftruncateSync, readFileSync, readSync, writeSync } from 'node:fs'
import { check, invalidArgType, invalidArgValue, MemsealError, outOfRange } from './errors'
import { hugetlbPools } from './kernel'
import { type FileRef, type Mapping, mapPages } from './mapping'
import { constants, type FdPoll, native } from './native'
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

// fstat(2) results land here ([st_dev, st_ino, st_size, st_mode]): the addon fills it without building an
// fs.Stats (with four Dates) on every call.
const DEV = 0
const INO = 1
const SIZE = 2
const statBuffer = new Float64Array(4)
const inspectBuffer = new Float64Array(7)
const S_IFMT = 0o170000
const S_IFREG = 0o100000
const EBADF = -9
const ENOMEM = -12
const O_PATH_DESCRIPTOR = 'an O_PATH descriptor (it can be neither read nor mapped)'

function sysfsNumber(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return '?'
  }
}

/** Why a hugetlbfs mapping found no huge pages, and how to reserve them (mmap(2) only says ENOMEM). */
function hugetlbPoolDetail(pageSize: number, length: number): string {
  const dir = `/sys/kernel/mm/hugepages/hugepages-${pageSize / 1024}kB`
  const [total, free, reserved] = ['nr_hugepages', 'free_hugepages', 'resv_hugepages'].map((f) => sysfsNumber(`${dir}/${f}`))
  const pages = Math.ceil(length / pageSize)
  return (
    `the hugetlb pool of ${pageSize / 1024} kB pages cannot supply ${pages} more page(s): ${dir}/nr_hugepages is ${total}, ` +
    `free_hugepages ${free}, of which ${reserved} already reserved (resv_hugepages). Reserve pages as root: ` +
    `sysctl vm.nr_hugepages=N (the default huge page size) or echo N > ${dir}/nr_hugepages`
  )
}

function hugePageSize(fd: number): number {
  return check<number>(native.hugePageSize(fd), 'fstatfs')
}

/**
 * Verifies, before anything maps it, that fd is a memfd and holds the seals and size asked for; `shown`
 * names it in errors (receive() with `borrow` works on a duplicate but names the descriptor it was given).
 * Returns what it found: its name, its huge page size (0 for an ordinary memfd) and its fstat.
 */
function verifyMemfd(fd: number, o: Partial<FromOptions>, shown: string): VerifiedMemfd {
  const required = o.require === undefined ? 0 : sealBitsOf(o.require, 'options.require')
  const maxSize = o.maxSize === undefined ? MAX_SIZE : validateInteger(o.maxSize, 'options.maxSize', 0, MAX_SIZE)
  // Every fact checked below, from one native call (F_GETFL, fstat, F_GET_SEALS, fstatfs, the fd's link).
  const r = native.inspect(fd, inspectBuffer)
  if (typeof r === 'number') check(r, 'fcntl', `F_GETFL of ${shown}`)
  const link = r as string
  const b = inspectBuffer
  const [flags, mode, size, dev, ino, seals, huge] = [b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[5]!, b[6]!]
  if (flags & constants.O_PATH) throw new MemsealError('ERR_MEMSEAL_NOT_MEMFD', `${shown} is ${O_PATH_DESCRIPTOR}`)
  if (mode < 0) check(mode, 'fstat', shown)
  if ((mode & S_IFMT) !== S_IFREG || !link.startsWith('/memfd:') || !isMemfdDevice(dev)) {
    throw new MemsealError('ERR_MEMSEAL_NOT_MEMFD', `${shown} is not a memfd (${link || 'unknown file'})`)
  }
  const bits = seals < 0 ? check(seals, 'fcntl', 'F_GET_SEALS') : seals
  const missing = required & ~bits
  if (missing !== 0) {
    const names = [...sealsFromBits(missing)].join(', ')
    throw new MemsealError('ERR_MEMSEAL_SEALS_MISSING', `${shown} lacks the required seals: ${names || `0x${missing.toString(16)}`}`)
  }
  if (size > maxSize) {
    throw new MemsealError('ERR_MEMSEAL_TOO_LARGE', `${shown} holds ${size} bytes, more than maxSize ${maxSize}`)
  }
  if (huge < 0) check(huge, 'fstatfs')
  return { name: link.replace(/^\/memfd:/, '').replace(/ \(deleted\)$/, ''), huge, mode, size, dev, ino }
}

/** @internal What verifyMemfd() found: the memfd's name and huge page size (0: ordinary pages), and its fstat. */
export interface VerifiedMemfd {
  name: string
  huge: number
  mode: number
  size: number
  dev: number
  ino: number
}

/** @internal How receive() takes a descriptor: as it is, as a duplicate, or out of a channel's poller. */
export interface Take {
  dup: boolean
  poll?: FdPoll
}

/**
 * A memfd and its descriptor, which the object owns: close() closes it, and so does the garbage collector
 * when the object is dropped (as fs.FileHandle does), as does the end of the thread that created it.
 */
export class Memfd {
  #fd = -1
  #dev = 0
  #ino = 0
  // Shared with this memfd's mappings, which ask the file's size through it while the Memfd is open.
  #ref: FileRef = { fd: -1, dev: 0, ino: 0 }
  // The huge page size of a hugetlbfs memfd (sizes and offsets are multiples of it), else 0.
  #huge = 0
  #name = ''

  private constructor() {}

  // Takes the identity every later operation checks from the fstat the addon just made into statBuffer.
  #owned(fd: number, name: string, huge: number): this {
    this.#fd = fd
    this.#dev = statBuffer[DEV]!
    this.#ino = statBuffer[INO]!
    this.#ref = { fd, dev: this.#dev, ino: this.#ino }
    this.#huge = huge
    this.#name = name
    return this
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
    // Created and owned in one step: there is no moment in which the descriptor belongs to nobody.
    const memfd = new Memfd()
    const ret = native.create(memfd, name, flags, statBuffer)
    if (ret < 0) {
      const execBits = flags & (constants.MFD_EXEC | constants.MFD_NOEXEC_SEAL)
      check(ret, 'memfd_create', execBits && ret === -22 ? 'MFD_EXEC and MFD_NOEXEC_SEAL need Linux 6.3' : undefined)
    }
    try {
      const huge = o.hugetlb === undefined ? 0 : hugePageSize(ret)
      memfd.#owned(ret, name, huge)
      if (size !== undefined && huge > 0 && size % huge !== 0) {
        throw outOfRange('options.size', `a multiple of the huge page size (${huge}) for a hugetlb memfd`, size)
      }
      if (size !== undefined && size > 0) ftruncateSync(ret, size)
      return memfd
    } catch (err) {
      memfd.#fd = ret
      memfd.close()
      throw err
    }
  }

  /**
   * Adopts a file descriptor received from elsewhere after verifying, before anything maps it, that it
   * is a memfd (an O_PATH descriptor to one is not: it can be neither read nor mapped), that it carries
   * the required seals and that its size is within bounds. On success the Memfd owns the fd (close()
   * closes it); on failure the caller still owns it.
   *
   * What `require` guarantees is what the kernel enforces for each seal (F_ADD_SEALS(2const)), from the
   * moment it was added: 'shrink' and 'grow' fix the size; 'write' refuses write(2) and any writable
   * shared mapping, so the contents can no longer change. 'future-write' is weaker: it refuses write(2),
   * new writable shared mappings and making a mapping made after it writable, but a writable shared
   * mapping the sender made before keeps writing, and so does a read-only shared mapping made before it,
   * which can still be mprotect()ed to writable. Only 'write' means the contents are fixed.
   */
  static from(fd: number, options?: FromOptions): Memfd {
    validateInteger(fd, 'fd', 0, 0x7fffffff)
    const o = validateOptions<FromOptions>(options, 'options', ['require', 'maxSize'])
    const { name, huge } = verifyMemfd(fd, o, `fd ${fd}`)
    const memfd = new Memfd()
    check(native.adopt(memfd, fd, statBuffer, false), 'fstat')
    return memfd.#owned(fd, name, huge)
  }

  /**
   * @internal receive()'s adoption: the descriptor is owned first (as given, duplicated, or taken from a
   * channel's poller, in one step), then verified, and closed if refused. `shown` names it in errors.
   */
  static received(fd: number, take: Take, options: FromOptions, shown: string): { memfd: Memfd; facts: VerifiedMemfd } {
    const memfd = new Memfd()
    const owned = native.adopt(memfd, fd, statBuffer, take.dup, take.poll)
    if (owned === EBADF && take.poll !== undefined) {
      throw new MemsealError('ERR_MEMSEAL_CHANNEL_CLOSED', `${shown}: the channel was closed before it could be taken (and closed it)`)
    }
    if (owned < 0) check(owned, take.dup ? 'fcntl' : 'fstat', take.dup ? `F_DUPFD_CLOEXEC of ${shown}` : shown)
    memfd.#owned(owned, '', 0)
    try {
      const facts = verifyMemfd(owned, options, shown)
      memfd.#name = facts.name
      memfd.#huge = facts.huge
      return { memfd, facts }
    } catch (err) {
      memfd.close()
      throw err
    }
  }

  /** The name given to memfd_create(2) (without the "memfd:" the kernel shows before it). */
  get name(): string {
    return this.#name
  }

  #open(syscall: string): number {
    if (this.#fd < 0) throw new MemsealError('ERR_MEMSEAL_CLOSED', `${syscall}: the memfd is closed`)
    return this.#fd
  }

  // The descriptor, after checking that it is still this memfd (fstat: its size is then in statBuffer). A
  // descriptor closed outside memseal, and maybe reused by another file meanwhile, is never acted on: the
  // Memfd counts as closed from then on.
  #checked(syscall: string): number {
    const fd = this.#open(syscall)
    const r = native.verify(this, statBuffer)
    if (r === 0) return fd
    if (r !== 1 && r !== EBADF) return check(r, 'fstat')
    this.#fd = -1
    this.#ref.fd = -1
    native.release(this, false)
    throw new MemsealError(
      'ERR_MEMSEAL_CLOSED',
      r === 1
        ? `${syscall}: descriptor ${fd} was closed outside memseal and now refers to another file, which was left alone`
        : `${syscall}: descriptor ${fd} was closed outside memseal`,
    )
  }

  /** The file descriptor. Handing it elsewhere does not hand over ownership: dup it (F_DUPFD_CLOEXEC) for that. */
  get fd(): number {
    return this.#open('fd')
  }

  get closed(): boolean {
    return this.#fd < 0
  }

  /** The huge page size of a hugetlb memfd (sizes and map offsets are multiples of it), or 0. */
  get hugePageSize(): number {
    return this.#huge
  }

  /** Current size in bytes (fstat). */
  get size(): number {
    this.#checked('fstat')
    return statBuffer[SIZE]!
  }

  /**
   * ftruncate(2) to `size` bytes. A size that would cut a mapping this process holds of the memfd is
   * refused (ERR_OUT_OF_RANGE): its pages past the new end would raise SIGBUS on the next touch. Another
   * process can still shrink a memfd that is not sealed with 'shrink'.
   */
  resize(size: number): void {
    validateInteger(size, 'size', 0, MAX_SIZE)
    const fd = this.#checked('ftruncate')
    if (this.#huge > 0 && size % this.#huge !== 0) {
      throw outOfRange('size', `a multiple of the huge page size (${this.#huge}) for a hugetlb memfd`, size)
    }
    const mapped = native.mappedEnd(this.#dev, this.#ino)
    if (size < mapped) {
      throw outOfRange('size', `>= ${mapped}: a mapping of this memfd in this process reaches there (unmap it first)`, size)
    }
    ftruncateSync(fd, size)
  }

  /** Writes all of `bytes` at `offset` (default 0); returns the number of bytes written. */
  write(bytes: ArrayBufferView | string, offset = 0): number {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes
    if (!ArrayBuffer.isView(data)) throw invalidArgType('bytes', 'a string, Buffer, TypedArray or DataView', bytes)
    validateInteger(offset, 'offset', 0, MAX_SIZE)
    const fd = this.#checked('write')
    const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    let done = 0
    while (done < view.length) done += writeSync(fd, view, done, view.length - done, offset + done)
    return done
  }

  /** Reads `length` bytes at `offset` (default: everything from offset to the end) into a new Buffer. */
  read(length?: number, offset = 0): Buffer {
    validateInteger(offset, 'offset', 0, MAX_SIZE)
    const len0 = length === undefined ? undefined : validateInteger(length, 'length', 0, 0x7fffffff)
    const fd = this.#checked('read')
    const len = len0 ?? Math.max(0, statBuffer[SIZE]! - offset)
    const out = Buffer.allocUnsafe(len)
    let done = 0
    while (done < len) {
      const n = readSync(fd, out, done, len - done, offset + done)
      if (n === 0) break
      done += n
    }
    return done === len ? out : out.subarray(0, done)
  }

  /**
   * F_GET_SEALS as a raw bitmask. The cheap path: one fcntl(2), no identity check, so after the descriptor
   * was closed outside memseal it reads whatever file now has the number (every operation that writes,
   * resizes, seals or maps checks first).
   */
  get sealBits(): number {
    return getSealBits(this.#open('fcntl'))
  }

  /** F_GET_SEALS as names (the cheap path of sealBits). */
  get seals(): Set<SealName> {
    return sealsFromBits(this.sealBits)
  }

  /** F_ADD_SEALS with seal names or a raw bitmask. */
  addSeals(seals: SealName[] | number): void {
    const bits = sealBitsOf(seals)
    addSealBits(this.#checked('fcntl'), bits)
  }

  /**
   * mmap(2) of the file (default: read-only, shared, the whole file). The range must lie within the file
   * (ERR_OUT_OF_RANGE otherwise: pages past its end raise SIGBUS on the first touch), and this process's
   * resize() will not cut it while it is mapped.
   */
  map(options?: MapOptions): Mapping {
    const o = validateOptions<MapOptions>(options, 'options', ['protection', 'shared', 'offset', 'length'])
    const protection = o.protection === undefined ? 'r' : validateProtection(o.protection, 'options.protection')
    const shared = o.shared === undefined ? true : validateBoolean(o.shared, 'options.shared')
    const offset = o.offset === undefined ? 0 : validateInteger(o.offset, 'options.offset', 0, MAX_SIZE)
    const length0 = o.length === undefined ? undefined : validateInteger(o.length, 'options.length', 1, MAX_SIZE)
    if (offset % constants.PAGE_SIZE !== 0) {
      throw invalidArgValue('options.offset', offset, `must be a multiple of the page size (${constants.PAGE_SIZE})`)
    }
    const fd = this.#checked('mmap')
    const size = statBuffer[SIZE]!
    if (this.#huge > 0 && offset % this.#huge !== 0) {
      throw invalidArgValue('options.offset', offset, `must be a multiple of the huge page size (${this.#huge}) for a hugetlb memfd`)
    }
    if (offset >= size) {
      throw outOfRange('options.offset', `< ${size}: the memfd is ${size} bytes long (resize() it, or map less)`, offset)
    }
    const length = length0 ?? size - offset
    if (length > size - offset) {
      throw outOfRange('options.length', `<= ${size - offset}: the memfd ends there (pages past its end raise SIGBUS)`, length)
    }
    const flags = shared ? constants.MAP_SHARED : constants.MAP_PRIVATE
    const huge = this.#huge
    return mapPages(length, protBits(protection), flags, fd, offset, protection, this.#ref, (r) =>
      r === ENOMEM && huge > 0 ? hugetlbPoolDetail(huge, length) : undefined,
    )
  }

  /**
   * Closes the fd. Idempotent, and it never closes a descriptor it does not own: if the fd number now
   * refers to another file (closed behind our back and reused), it is left alone.
   */
  close(): void {
    if (this.#fd < 0) return
    this.#fd = -1
    this.#ref.fd = -1
    const r = native.release(this, true)
    if (r < 0 && r !== EBADF) check(r, 'close') // EBADF: closed outside memseal already, nothing of ours to close
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
