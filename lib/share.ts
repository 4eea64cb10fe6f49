/**
 * The sealed hand-off: a producer puts bytes in a memfd and seals it (share); a consumer that receives
 * the descriptor verifies it before anything maps it and gets a read-only, zero-copy view (receive).
 *
 * What the consumer can rely on after receive(): the descriptor is a memfd (not a tmpfs or regular file,
 * pipe or socket); F_SEAL_SHRINK is set, so no page of the view can vanish under it (a shrunk file
 * would SIGBUS a reader); the contents are fixed by F_SEAL_WRITE (or F_SEAL_FUTURE_WRITE if the caller
 * accepts it: that one stops new writes, but a writable mapping the sender made before sealing may
 * still write); its size is within maxSize; and it is not executable unless allowed.
 * @see https://man7.org/linux/man-pages/man2/memfd_create.2.html
 * @see https://man7.org/linux/man-pages/man2/F_ADD_SEALS.2const.html
 */
import { closeSync, fchmodSync, fstatSync } from 'node:fs'
import { check, MemsealError, type SystemError } from './errors'
import { closeFds, type FdChannel, type FdMessage } from './fdpass'
import { type Mapping } from './mapping'
import { Memfd } from './memfd'
import { constants, native } from './native'
import { SEAL_BITS, type SealName, sealBitsOf } from './seals'
import { invalidArgType, outOfRange } from './errors'
import { validateBoolean, validateInteger, validateOptions, validateString } from './validate'

export interface ShareOptions {
  /** The memfd's name, shown in /proc/<pid>/fd and /proc/<pid>/maps (default 'memseal-share'). */
  name?: string
}

export interface ReceiveOptions {
  /**
   * Seals the memfd must carry (default ['shrink', 'write']). 'shrink' is always required, whatever is
   * given: without it the sender could truncate the file and make every read of the view a SIGBUS.
   */
  require?: SealName[] | number
  /** Largest size accepted, in bytes (default 1 GiB). */
  maxSize?: number
  /** The exact size expected (e.g. announced in a header); anything else is refused. */
  size?: number
  /** Accept a memfd with execute permission bits (default false). */
  allowExec?: boolean
  /**
   * Leave the caller's descriptor open and work on a duplicate (default false: receive() takes the
   * descriptor and closes it, whether it accepts or refuses it). A worker thread that maps a descriptor
   * its parent thread still owns passes true.
   */
  borrow?: boolean
}

/** What sendShared() puts on the wire beside the descriptor. */
interface Envelope {
  memseal: 1
  size: number
  header: unknown
}

const SHARE_SEALS: SealName[] = ['shrink', 'grow', 'write', 'seal']
const DEFAULT_REQUIRE: SealName[] = ['shrink', 'write']
const DEFAULT_MAX_SIZE = 1024 * 1024 * 1024

function createMemfd(name: string): Memfd {
  try {
    // MFD_NOEXEC_SEAL (Linux 6.3): mode without x bits and F_SEAL_EXEC already set.
    return Memfd.create(name, { exec: false })
  } catch (err) {
    if ((err as SystemError).code !== 'EINVAL') throw err
    const memfd = Memfd.create(name)
    fchmodSync(memfd.fd, 0o600) // older kernels create memfds 0777; a shared buffer is not a program
    return memfd
  }
}

/**
 * Seals a memfd the way share() does: no shrinking, no growing, no writing, no further seal changes.
 * For producers that fill the memfd in place (through a writable mapping, which must be unmapped first:
 * F_SEAL_WRITE fails with EBUSY while one exists).
 */
export function sealForSharing(memfd: Memfd): Memfd {
  memfd.addSeals(SHARE_SEALS)
  return memfd
}

/** Copies `data` into a new memfd and seals it (shrink, grow, write, seal): ready to hand to another process. */
export function share(data: ArrayBufferView | ArrayBuffer | string, options?: ShareOptions): Memfd {
  const o = validateOptions<ShareOptions>(options, 'options', ['name'])
  const name = o.name === undefined ? 'memseal-share' : validateString(o.name, 'options.name')
  let bytes: Uint8Array
  if (typeof data === 'string') bytes = Buffer.from(data)
  else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data)
  else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  else throw invalidArgType('data', 'a string, ArrayBuffer, Buffer, TypedArray or DataView', data)
  if (bytes.byteLength === 0) throw outOfRange('data.byteLength', '> 0 (an empty memfd cannot be mapped)', 0)
  const memfd = createMemfd(name)
  try {
    memfd.resize(bytes.byteLength)
    memfd.write(bytes)
    return sealForSharing(memfd)
  } catch (err) {
    memfd.close()
    throw err
  }
}

function receiveOptions(options: unknown): Required<Omit<ReceiveOptions, 'size'>> & { size?: number } {
  const o = validateOptions<ReceiveOptions>(options, 'options', ['require', 'maxSize', 'size', 'allowExec', 'borrow'])
  const required = sealBitsOf(o.require === undefined ? DEFAULT_REQUIRE : o.require, 'options.require')
  return {
    require: required | SEAL_BITS.shrink,
    maxSize: o.maxSize === undefined ? DEFAULT_MAX_SIZE : validateInteger(o.maxSize, 'options.maxSize', 1, Number.MAX_SAFE_INTEGER),
    size: o.size === undefined ? undefined : validateInteger(o.size, 'options.size', 1, Number.MAX_SAFE_INTEGER),
    allowExec: o.allowExec === undefined ? false : validateBoolean(o.allowExec, 'options.allowExec'),
    borrow: o.borrow === undefined ? false : validateBoolean(o.borrow, 'options.borrow'),
  }
}

// The one descriptor of a message; otherwise every descriptor is closed and the message refused.
function onlyFd(message: FdMessage): number {
  if (message.fds.length === 0) throw new MemsealError('ERR_MEMSEAL_NO_FD', 'the message carries no file descriptor')
  if (message.fds.length > 1) {
    closeFds(message.fds)
    throw new MemsealError('ERR_MEMSEAL_TOO_MANY_FDS', `the message carries ${message.fds.length} file descriptors, not one; all were closed`)
  }
  return message.fds[0]!
}

/**
 * Verifies a received descriptor (or the one descriptor of a message) and maps it read-only. Nothing is
 * mapped before the checks pass, and the descriptor is closed either way (unless `borrow`): the mapping
 * keeps the pages alive by itself. Refusals are MemsealErrors with one code per reason:
 * ERR_MEMSEAL_NO_FD, ERR_MEMSEAL_TOO_MANY_FDS, ERR_MEMSEAL_NOT_MEMFD, ERR_MEMSEAL_SEALS_MISSING,
 * ERR_MEMSEAL_TOO_LARGE, ERR_MEMSEAL_SIZE_MISMATCH, ERR_MEMSEAL_EMPTY, ERR_MEMSEAL_EXECUTABLE.
 */
export function receive(source: number | FdMessage, options?: ReceiveOptions): Mapping {
  const o = receiveOptions(options)
  let fd: number
  if (typeof source === 'number') {
    fd = validateInteger(source, 'fd', 0, 0x7fffffff)
  } else if (source !== null && typeof source === 'object' && Array.isArray(source.fds)) {
    fd = onlyFd(source)
  } else {
    throw invalidArgType('source', 'a file descriptor or a received message', source)
  }
  if (o.borrow) fd = check<number>(native.fcntl(fd, constants.F_DUPFD_CLOEXEC, 0), 'fcntl', 'F_DUPFD_CLOEXEC')
  let memfd: Memfd
  try {
    memfd = Memfd.from(fd, { require: o.require, maxSize: o.maxSize })
  } catch (err) {
    closeSync(fd)
    throw err
  }
  try {
    const stats = fstatSync(memfd.fd)
    if (stats.size === 0) throw new MemsealError('ERR_MEMSEAL_EMPTY', 'the memfd is empty: there is nothing to map')
    if (o.size !== undefined && stats.size !== o.size) {
      throw new MemsealError('ERR_MEMSEAL_SIZE_MISMATCH', `the memfd holds ${stats.size} bytes, not the ${o.size} announced`)
    }
    if (!o.allowExec && (stats.mode & 0o111) !== 0) {
      throw new MemsealError('ERR_MEMSEAL_EXECUTABLE', `the memfd is executable (mode ${(stats.mode & 0o7777).toString(8)})`)
    }
    // The size checked above, not whatever it is by now: without F_SEAL_GROW it may have grown since.
    return memfd.map({ protection: 'r', shared: true, length: stats.size })
  } finally {
    memfd.close()
  }
}

/** Sends a sealed memfd with a JSON header. The caller keeps its memfd (close it once this resolves). */
export function sendShared(channel: FdChannel, memfd: Memfd, header: unknown = null): Promise<void> {
  const envelope: Envelope = { memseal: 1, size: memfd.size, header }
  return channel.send(envelope, [memfd.fd])
}

/** Receives what sendShared() sent: the header, and the verified read-only mapping of the memfd. */
export async function receiveShared(channel: FdChannel, options?: Omit<ReceiveOptions, 'size' | 'borrow'>): Promise<{ header: unknown; mapping: Mapping }> {
  const message = await channel.receive()
  const envelope = message.header as Partial<Envelope> | null
  if (envelope === null || typeof envelope !== 'object' || envelope.memseal !== 1 || !Number.isSafeInteger(envelope.size) || envelope.size! < 1) {
    closeFds(message.fds)
    throw new MemsealError('ERR_MEMSEAL_BAD_MESSAGE', 'the header is not a memseal share envelope')
  }
  const mapping = receive(message, { ...options, size: envelope.size })
  return { header: envelope.header, mapping }
}
