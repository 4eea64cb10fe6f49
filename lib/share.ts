/**
 * The sealed hand-off: a producer puts bytes in a memfd and seals it (share); a consumer that receives
 * the descriptor verifies it before anything maps it and gets a read-only, zero-copy view (receive).
 *
 * What the consumer can rely on after receive(): the descriptor is a memfd (not a tmpfs or regular file,
 * pipe or socket, nor an O_PATH descriptor); F_SEAL_SHRINK is set, so no page of the view can vanish
 * under it (a shrunk file would SIGBUS a reader, and the seal binds every process, the sender included);
 * the contents are fixed by F_SEAL_WRITE (or, if the caller accepts it, only guarded by
 * F_SEAL_FUTURE_WRITE: that one stops write(2) and new writable mappings, but a shared mapping the sender
 * made before sealing can still write, or be mprotect()ed to writable and then write); its size is within
 * maxSize; and it is not executable unless allowed.
 *
 * The envelope sendShared() writes (one FdChannel message, see fdpass.ts for the framing), with the memfd
 * as the message's only descriptor: {"memseal":1,"size":<bytes, a safe integer >= 1>,"header":<any JSON>}.
 * @see https://man7.org/linux/man-pages/man2/memfd_create.2.html
 * @see https://man7.org/linux/man-pages/man2/F_ADD_SEALS.2const.html
 */
import { fchmodSync } from 'node:fs'
import { invalidArgType, MemsealError, outOfRange, type SystemError } from './errors'
import { closeFds, discardHeld, type FdChannel, type FdMessage, type HeldMessage, receiveHeld, receiveHeldSync, receiveMessageOptions } from './fdpass'
import { type Mapping } from './mapping'
import { Memfd, type Take } from './memfd'
import { SEAL_BITS, type SealName, sealBitsOf } from './seals'
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

/** receiveShared()'s options: receive()'s (but size and borrow), the wait's bounds, and a header check. */
export interface ReceiveSharedOptions<H = unknown> extends Omit<ReceiveOptions, 'size' | 'borrow'> {
  /** Gives up waiting for the message when aborted (an AbortError; see FdChannel#receive for the channel's state). */
  signal?: AbortSignal
  /** Gives up after this many milliseconds (an AbortError whose cause is a TimeoutError). */
  timeout?: number
  /**
   * Checks the sender's header before anything is mapped, and types it: a type guard such as
   * `(h): h is Frame => typeof h === 'object' && h !== null && 'seq' in h`. A header it rejects is refused
   * with ERR_MEMSEAL_BAD_MESSAGE, its descriptor closed.
   */
  validate?: (header: unknown) => header is H
}

/** What sendShared() puts on the wire beside the descriptor (the README's "hand-off envelope"). */
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

// The one descriptor of a message; otherwise every descriptor is closed (by `close`) and the message refused.
function onlyFd(message: FdMessage, close: (fds: number[]) => void): number {
  const fds: unknown[] = message.fds
  if (!fds.every((fd) => Number.isInteger(fd) && (fd as number) >= 0 && (fd as number) <= 0x7fffffff)) {
    throw invalidArgType('source.fds', 'an array of file descriptors (non-negative integers)', message.fds)
  }
  if (fds.length === 0) throw new MemsealError('ERR_MEMSEAL_NO_FD', 'the message carries no file descriptor')
  if (fds.length > 1) {
    close(message.fds)
    throw new MemsealError('ERR_MEMSEAL_TOO_MANY_FDS', `the message carries ${fds.length} file descriptors, not one; all were closed`)
  }
  return message.fds[0]!
}

/** @internal A received memfd that passed every check, and what was checked; the caller maps it and closes it. */
export interface VerifiedFile {
  memfd: Memfd
  size: number
  dev: number
  ino: number
}

// Takes the descriptor (owned first, so that it is closed whatever happens next, a thread terminated
// included) and makes every check of receive() on it; closes it on a refusal. Nothing is mapped yet.
function verifyReceived(fd: number, take: Take, o: ReturnType<typeof receiveOptions>, shown: string): VerifiedFile {
  // The memfd's own checks (memfd, seals, maxSize) and its fstat, from one native call (Memfd.received).
  const { memfd, facts } = Memfd.received(fd, take, { require: o.require, maxSize: o.maxSize }, shown)
  try {
    if (facts.size === 0) throw new MemsealError('ERR_MEMSEAL_EMPTY', `${shown}: the memfd is empty, there is nothing to map`)
    if (o.size !== undefined && facts.size !== o.size) {
      throw new MemsealError('ERR_MEMSEAL_SIZE_MISMATCH', `${shown}: the memfd holds ${facts.size} bytes, not the ${o.size} announced`)
    }
    if (!o.allowExec && (facts.mode & 0o111) !== 0) {
      throw new MemsealError('ERR_MEMSEAL_EXECUTABLE', `${shown}: the memfd is executable (mode ${(facts.mode & 0o7777).toString(8)})`)
    }
    return { memfd, size: facts.size, dev: facts.dev, ino: facts.ino }
  } catch (err) {
    memfd.close()
    throw err
  }
}

/**
 * Verifies a received descriptor (or the one descriptor of a message) and maps it read-only. Nothing is
 * mapped before the checks pass, and the descriptor is closed either way (unless `borrow`, which works
 * on a duplicate and leaves the caller's own open): the mapping keeps the pages alive by itself.
 * Refusals are MemsealErrors with one code per reason: ERR_MEMSEAL_NO_FD, ERR_MEMSEAL_TOO_MANY_FDS,
 * ERR_MEMSEAL_NOT_MEMFD, ERR_MEMSEAL_SEALS_MISSING, ERR_MEMSEAL_TOO_LARGE, ERR_MEMSEAL_SIZE_MISMATCH,
 * ERR_MEMSEAL_EMPTY, ERR_MEMSEAL_EXECUTABLE; errors name the descriptor the caller gave.
 */
export function receive(source: number | FdMessage, options?: ReceiveOptions): Mapping {
  return mapVerified(receiveFile(source, options))
}

// Maps a verified file read-only and closes its descriptor (the mapping keeps the pages), either way.
function mapVerified(file: VerifiedFile): Mapping {
  try {
    // The size checked, not whatever it is by now: without F_SEAL_GROW it may have grown since.
    return file.memfd.map({ protection: 'r', shared: true, length: file.size })
  } finally {
    file.memfd.close()
  }
}

/**
 * @internal receive() up to the mapping: the verified memfd, which the caller maps and closes (a
 * ReceiveWindow shows it).
 */
export function receiveFile(source: number | FdMessage, options?: ReceiveOptions): VerifiedFile {
  const o = receiveOptions(options)
  if (typeof source === 'number') {
    const fd = validateInteger(source, 'fd', 0, 0x7fffffff)
    return verifyReceived(fd, { dup: o.borrow }, o, `fd ${fd}`)
  }
  if (source !== null && typeof source === 'object' && Array.isArray(source.fds)) {
    const fd = onlyFd(source, o.borrow ? () => undefined : closeFds)
    return verifyReceived(fd, { dup: o.borrow }, o, `the received descriptor (fd ${fd})`)
  }
  throw invalidArgType('source', 'a file descriptor or a received message', source)
}

/**
 * Sends a sealed memfd with a JSON header, as one message whose only descriptor is the memfd's:
 * {"memseal":1,"size":<its size>,"header":<header>}. The caller keeps its memfd (close it once this
 * resolves).
 */
export function sendShared(channel: FdChannel, memfd: Memfd, header: unknown = null): Promise<void> {
  const envelope: Envelope = { memseal: 1, size: memfd.size, header }
  return channel.send(envelope, [memfd.fd])
}

/**
 * Receives what sendShared() sent: the header, and the verified read-only mapping of the memfd. The
 * header is `unknown` unless `validate` (a type guard) checks it, which also types it:
 * `receiveShared<Frame>(channel, { validate: isFrame })` resolves to `{ header: Frame, mapping }`.
 */
export async function receiveShared<H = unknown>(channel: FdChannel, options?: ReceiveSharedOptions<H>): Promise<{ header: H; mapping: Mapping }> {
  const { header, file } = await receiveSharedFile(channel, options)
  return { header, mapping: mapVerified(file) }
}

/** receiveSharedSync()'s options: receiveShared()'s but the signal (nothing can abort a blocked thread). */
export type ReceiveSharedSyncOptions<H = unknown> = Omit<ReceiveSharedOptions<H>, 'signal'>

/**
 * receiveShared(), blocking this thread until the message comes (see FdChannel#receiveSync): for a
 * consumer with nothing else to do meanwhile, it saves the event loop's wake-up.
 */
export function receiveSharedSync<H = unknown>(channel: FdChannel, options?: ReceiveSharedSyncOptions<H>): { header: H; mapping: Mapping } {
  const { header, file } = receiveSharedFileSync(channel, options)
  return { header, mapping: mapVerified(file) }
}

/** @internal A largest size of the caller's own (a window's capacity), which a received memfd must also fit. */
export interface SizeLimit {
  size: number
  what: string
}

// receiveShared()'s options, checked before anything waits (a bad option never costs a message).
function sharedOptions<H>(
  options: unknown,
  keys: ReadonlyArray<keyof ReceiveSharedOptions<H>>,
): { wait: { signal?: AbortSignal; timeout?: number }; o: ReturnType<typeof receiveOptions>; validate?: (header: unknown) => header is H } {
  const given = validateOptions<ReceiveSharedOptions<H>>(options, 'options', keys)
  const { signal, timeout, validate, ...rest } = given
  const wait = receiveMessageOptions(signal, timeout)
  if (validate !== undefined && typeof validate !== 'function') throw invalidArgType('options.validate', 'a function', validate)
  return { wait, o: receiveOptions(rest), validate }
}

/**
 * @internal receiveShared() up to the mapping: the header and the verified memfd, which the caller maps
 * and closes (a ReceiveWindow maps it into itself).
 */
export async function receiveSharedFile<H = unknown>(
  channel: FdChannel,
  options?: ReceiveSharedOptions<H>,
  limit?: SizeLimit,
): Promise<{ header: H; file: VerifiedFile }> {
  const { wait, o, validate } = sharedOptions<H>(options, ['require', 'maxSize', 'allowExec', 'signal', 'timeout', 'validate'])
  // The descriptors stay with the channel's poller until adopted or refused: none is ever nobody's.
  return fileOfMessage(await channel[receiveHeld](wait), o, validate, limit)
}

/** @internal receiveSharedFile(), blocking (FdChannel#receiveSync). */
export function receiveSharedFileSync<H = unknown>(
  channel: FdChannel,
  options?: ReceiveSharedSyncOptions<H>,
  limit?: SizeLimit,
): { header: H; file: VerifiedFile } {
  const { wait, o, validate } = sharedOptions<H>(options, ['require', 'maxSize', 'allowExec', 'timeout', 'validate'])
  return fileOfMessage(channel[receiveHeldSync]({ timeout: wait.timeout }), o, validate, limit)
}

// A shared memfd's message, checked (the envelope, the header, the one descriptor, the memfd itself).
function fileOfMessage<H>(
  message: HeldMessage,
  o: ReturnType<typeof receiveOptions>,
  validate: ((header: unknown) => header is H) | undefined,
  limit: SizeLimit | undefined,
): { header: H; file: VerifiedFile } {
  const envelope = message.header as Partial<Envelope> | null
  if (envelope === null || typeof envelope !== 'object' || envelope.memseal !== 1 || !Number.isSafeInteger(envelope.size) || envelope.size! < 1) {
    discardHeld(message)
    throw new MemsealError('ERR_MEMSEAL_BAD_MESSAGE', 'the header is not a memseal share envelope')
  }
  if (validate !== undefined && !validate(envelope.header)) {
    discardHeld(message)
    throw new MemsealError('ERR_MEMSEAL_BAD_MESSAGE', "the sender's header did not pass options.validate; its descriptor was closed")
  }
  if (limit !== undefined && envelope.size! > limit.size) {
    discardHeld(message)
    throw new MemsealError(
      'ERR_MEMSEAL_TOO_LARGE',
      `the memfd announced is ${envelope.size} bytes, more than ${limit.what} (${limit.size} bytes); its descriptor was closed`,
    )
  }
  const fd = onlyFd(message, () => discardHeld(message))
  const file = verifyReceived(fd, { dup: false, poll: message.poll }, { ...o, size: envelope.size }, `the received descriptor (fd ${fd})`)
  return { header: envelope.header as H, file }
}
