/**
 * A receive window: a consumer's one read-only address range, with one ArrayBuffer over it made once, into
 * which each shared memfd received is mapped in place (the previous one's pages are replaced in the same
 * step). What it saves over receiveShared(): a new ArrayBuffer over a mapping is charged to V8's external
 * memory at its full length, and each charge past V8's limit since the last collection starts one, so a
 * stream of large hand-offs paid milliseconds of garbage collection per receive. A window is charged once,
 * when it is made; dropped, it is collected and unmapped like a Mapping.
 *
 * The window never dangles: where no file is shown it holds zero pages, and its ArrayBuffer is detached
 * only by close(). Like a read-only mapping, writing to it raises SIGSEGV.
 */
import { readFileSync } from 'node:fs'
import { check, fromNative, MemsealError, outOfRange } from './errors'
import { Mapping } from './mapping'
import { native } from './native'
import { type FdChannel, type FdMessage } from './fdpass'
import {
  type ReceiveOptions,
  receiveFile,
  receiveSharedFile,
  receiveSharedFileSync,
  type ReceiveSharedOptions,
  type ReceiveSharedSyncOptions,
  type SizeLimit,
  type VerifiedFile,
} from './share'
import { validateInteger, validateOptions } from './validate'

const EBADF = -9
const EINVAL = -22
const PAGE_SIZE = 4096
const idOut = new Float64Array(1)

export interface WindowOptions {
  /**
   * The address alignment, a power of two of at least a page (default: the system's default huge page size,
   * so a file of such pages fits; a hugetlb file of larger pages needs its own page size here).
   */
  alignment?: number
}

// The default huge page size (Hugepagesize in /proc/meminfo), read once; 2 MiB where it cannot be read.
let defaultAlignment: number | undefined
function hugePageSize(): number {
  if (defaultAlignment === undefined) {
    let kib = 2048
    try {
      const m = /^Hugepagesize:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'latin1'))
      if (m) kib = Number(m[1])
    } catch {
      // no /proc: the x86-64 and arm64 (4 KiB pages) default
    }
    defaultAlignment = Math.max(kib * 1024, PAGE_SIZE)
  }
  return defaultAlignment
}

export class ReceiveWindow {
  readonly #id: number
  readonly #capacity: number
  readonly #alignment: number
  #buffer: ArrayBuffer
  #size = 0
  #closed = false
  #receiving = false

  private constructor(id: number, buffer: ArrayBuffer, capacity: number, alignment: number) {
    this.#id = id
    this.#buffer = buffer
    this.#capacity = capacity
    this.#alignment = alignment
  }

  /**
   * Reserves `capacity` bytes (at most `Mapping.maxViewLength`: the window is one ArrayBuffer) of address
   * space, read-only zero pages until a file is received. Costs no memory until then.
   */
  static create(capacity: number, options?: WindowOptions): ReceiveWindow {
    validateInteger(capacity, 'capacity', 1, Mapping.maxViewLength)
    const o = validateOptions<WindowOptions>(options, 'options', ['alignment'])
    const alignment = o.alignment === undefined ? hugePageSize() : validateInteger(o.alignment, 'options.alignment', PAGE_SIZE, 2 ** 40)
    if (!Number.isInteger(Math.log2(alignment))) throw outOfRange('options.alignment', 'a power of two', alignment)
    let r: ArrayBuffer | number
    try {
      r = native.window.open(idOut, capacity, alignment)
    } catch (err) {
      throw fromNative(err)
    }
    if (typeof r === 'number') check(r, 'mmap')
    return new ReceiveWindow(idOut[0]!, r as ArrayBuffer, capacity, alignment)
  }

  /** The window's size in bytes. */
  get capacity(): number {
    return this.#capacity
  }

  /**
   * The whole window as one ArrayBuffer: zero where no file is shown. The same one each time (unless it was
   * transferred away: then a new one over the same pages). Detached once closed.
   */
  get buffer(): ArrayBuffer {
    if (this.#buffer.byteLength === 0 && !this.#closed) {
      let r: ArrayBuffer | number
      try {
        r = native.view(this.#id, 0, this.#capacity, true)
      } catch (err) {
        throw fromNative(err)
      }
      if (typeof r === 'number') this.#checked(r)
      else this.#buffer = r
    }
    return this.#buffer
  }

  /** The size of the file shown (the bytes of `bytes`), 0 when none is. */
  get size(): number {
    return this.#size
  }

  /** The file shown: a Uint8Array over the first `size` bytes of `buffer` (empty when none is, or closed). */
  get bytes(): Uint8Array {
    return this.#closed ? new Uint8Array(0) : new Uint8Array(this.buffer, 0, this.#size)
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * receiveShared() into this window: waits for the next shared memfd on `channel`, makes every check
   * receiveShared() makes (and refuses a memfd larger than the window with ERR_MEMSEAL_TOO_LARGE, closing
   * it), then shows it in place of the previous one. Resolves with the header and `bytes`. Every view of
   * the window sees the new file from then on; one receive at a time (ERR_MEMSEAL_BUSY otherwise). A
   * receive that fails after the message came leaves the window empty.
   */
  async receive<H = unknown>(channel: FdChannel, options?: ReceiveSharedOptions<H>): Promise<{ header: H; bytes: Uint8Array }> {
    this.#begin()
    try {
      const { header, file } = await receiveSharedFile(channel, options, this.#limit())
      return { header, bytes: this.#show(file) }
    } finally {
      this.#receiving = false
    }
  }

  /** receive(), blocking this thread until the message comes (see FdChannel#receiveSync). */
  receiveSync<H = unknown>(channel: FdChannel, options?: ReceiveSharedSyncOptions<H>): { header: H; bytes: Uint8Array } {
    return this.#once(() => {
      const { header, file } = receiveSharedFileSync(channel, options, this.#limit())
      return { header, bytes: this.#show(file) }
    })
  }

  /**
   * receive() (the function, for a descriptor in hand) into this window: verifies `source`, a descriptor or
   * a received message's one descriptor, with receive()'s checks and options (`borrow` included), and
   * shows it. Returns `bytes`. The descriptor is closed either way, unless `borrow`.
   */
  show(source: number | FdMessage, options?: ReceiveOptions): Uint8Array {
    return this.#once(() => this.#show(receiveFile(source, options)))
  }

  // One receive at a time: the window is marked busy from the check until the file is shown or refused.
  #begin(): void {
    this.#live('receive')
    if (this.#receiving) throw new MemsealError('ERR_MEMSEAL_BUSY', 'receive: this window is already receiving (one receive at a time)')
    this.#receiving = true
  }

  // A synchronous receive, busy for its duration (receive() is the asynchronous one).
  #once<R>(body: () => R): R {
    this.#begin()
    try {
      return body()
    } finally {
      this.#receiving = false
    }
  }

  // What a memfd announced on a channel must fit, checked before its descriptor is taken.
  #limit(): SizeLimit {
    return { size: this.#capacity, what: 'the window holds' }
  }

  // Maps a verified file into the window (closing its descriptor either way): the new `bytes`.
  #show(file: VerifiedFile): Uint8Array {
    try {
      this.#live('receive') // closed while the message was awaited: the file is closed, not shown
      if (file.size > this.#capacity) {
        throw new MemsealError('ERR_MEMSEAL_TOO_LARGE', `the memfd holds ${file.size} bytes, more than the window holds (${this.#capacity} bytes)`)
      }
      this.#size = 0
      const r = native.window.fill(this.#id, file.memfd.fd, file.size, file.dev, file.ino)
      if (r === EINVAL) {
        throw new MemsealError(
          'ERR_MEMSEAL_TOO_LARGE',
          `mmap: the memfd (${file.size} bytes) does not fit this window of ${this.#capacity} bytes aligned to ${this.#alignment} (a hugetlb memfd needs whole huge pages of room, at an address aligned to its page size: see options.alignment)`,
        )
      }
      this.#checked(r)
      this.#size = file.size
      return this.bytes
    } finally {
      file.memfd.close()
    }
  }

  /** Stops showing the file (its pages are released): zero pages only, `size` 0. */
  clear(): void {
    if (this.#closed) return
    this.#checked(native.window.clear(this.#id))
    this.#size = 0
  }

  /** Unmaps the window and detaches its ArrayBuffer. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#size = 0
    const r = native.munmap(this.#id)
    if (r !== EBADF) check(r, 'munmap')
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #live(syscall: string): void {
    if (this.#closed) throw new MemsealError('ERR_MEMSEAL_UNMAPPED', `${syscall}: the window is closed`)
  }

  #checked(r: number): void {
    if (r === EBADF) {
      this.#closed = true
      this.#size = 0
      throw new MemsealError('ERR_MEMSEAL_UNMAPPED', 'mmap: the window is gone (its pages went with an ArrayBuffer transferred out of it)')
    }
    check(r, 'mmap')
  }
}
