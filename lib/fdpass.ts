/**
 * File descriptors between processes over AF_UNIX stream sockets (SCM_RIGHTS), with a small JSON header
 * beside each batch of descriptors.
 *
 * Why not net.Socket: libuv reads a net.Socket with read(2), and the kernel discards the descriptors in
 * flight when the ancillary data is not asked for; Node's IPC channel only carries sockets and servers.
 * So the socket here is never a libuv stream. The addon watches it with a uv_poll_t on this thread's own
 * loop (main thread or worker) and makes one non-blocking recvmsg/sendmsg each time the poller reports
 * readiness: no thread ever blocks, and everything the kernel hands over is seen. The poller only
 * watches while someone waits for a message, a connection or a pending send, so an idle channel does not
 * keep the process alive, and a receive() in progress does, as any other pending I/O.
 *
 * Wire format: each message is a 4-byte big-endian length, then that many bytes of UTF-8 JSON. The
 * descriptors of a message travel with its first sendmsg. A stream socket has no message boundaries, but
 * the kernel stops a read right after the first chunk that carries descriptors (unix(7), and
 * unix_stream_read_generic), so the descriptors of a read belong to the message holding its last byte.
 * @see https://man7.org/linux/man-pages/man7/unix.7.html
 */
import { closeSync, lstatSync, unlinkSync } from 'node:fs'
import { check, MemsealError, systemError } from './errors'
import { native } from './native'
import { validateInteger, validateOptions, validateString } from './validate'

/** A message as received: its JSON header and the descriptors that came with it, now owned by the caller. */
export interface FdMessage {
  header: unknown
  /** Close-on-exec descriptors installed in this process; the receiver must close them. */
  fds: number[]
}

export interface ChannelOptions {
  /** Largest JSON header accepted, in bytes (default 64 KiB). A larger one breaks the channel. */
  maxHeaderBytes?: number
  /** Most descriptors accepted with one message (default 16); a message with more is refused, all closed. */
  maxFds?: number
}

export interface ConnectOptions extends ChannelOptions {
  /** How long to retry while the server's backlog is full (EAGAIN), in milliseconds (default 5000). */
  timeout?: number
}

const { UV_READABLE, UV_WRITABLE, MAX_RECV_FDS, MAX_SEND_FDS, AF_UNIX, SOCK_STREAM } = native.fdpass.constants
const EAGAIN = -11
const PREFIX = 4
const DEFAULT_MAX_HEADER = 64 * 1024
const DEFAULT_MAX_FDS = 16
const READ_CHUNK = 64 * 1024

/** Closes descriptors this process owns, ignoring ones already closed. */
export function closeFds(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd)
    } catch {
      // already closed: nothing to give back
    }
  }
}

function channelClosed(what: string): MemsealError {
  return new MemsealError('ERR_MEMSEAL_CHANNEL_CLOSED', `${what}: the channel is closed`)
}

type OptionName = 'maxHeaderBytes' | 'maxFds' | 'timeout' | 'backlog'

// Validates the channel options; `extra` names the caller's own options, validated by the caller.
function channelOptions(options: unknown, extra: OptionName[] = []): Required<ChannelOptions> {
  const o = validateOptions<ChannelOptions & ConnectOptions & { backlog?: number }>(options, 'options', ['maxHeaderBytes', 'maxFds', ...extra])
  return {
    maxHeaderBytes: o.maxHeaderBytes === undefined ? DEFAULT_MAX_HEADER : validateInteger(o.maxHeaderBytes, 'options.maxHeaderBytes', 2, 0x7fffffff),
    maxFds: o.maxFds === undefined ? DEFAULT_MAX_FDS : validateInteger(o.maxFds, 'options.maxFds', 0, MAX_RECV_FDS),
  }
}

/** Encodes one message: length prefix and JSON. */
function frame(header: unknown, maxHeaderBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header) ?? 'null')
  if (json.length > maxHeaderBytes) {
    throw new MemsealError('ERR_MEMSEAL_MESSAGE_TOO_LARGE', `the header is ${json.length} bytes, more than ${maxHeaderBytes}`)
  }
  const out = Buffer.allocUnsafe(PREFIX + json.length)
  out.writeUInt32BE(json.length, 0)
  json.copy(out, PREFIX)
  return out
}

interface Outgoing {
  bytes: Buffer
  fds: number[]
  resolve(): void
  reject(err: Error): void
}

// What receive() hands out next: a message or the error that refused one.
type Inbound = { message: FdMessage } | { error: Error }

interface Waiter {
  resolve(m: FdMessage): void
  reject(err: Error): void
}

/** A connected AF_UNIX stream socket that carries JSON headers and file descriptors. */
export class FdChannel {
  #fd: number
  #poll: unknown
  #opts: Required<ChannelOptions>
  #outbox: Outgoing[] = []
  #inbox: Inbound[] = []
  #waiters: Waiter[] = []
  // Unparsed bytes of the current (incomplete) message, and the descriptors that arrived with it.
  #pending: Buffer = Buffer.alloc(0)
  #pendingFds: number[] = []
  #pendingTruncated = false
  #readBuffer = Buffer.allocUnsafe(READ_CHUNK)
  #fatal: Error | undefined
  #watching = 0

  private constructor(fd: number, options: Required<ChannelOptions>) {
    this.#fd = fd
    this.#opts = options
    const poll = native.fdpass.pollOpen(fd, (status, events) => this.#onReady(status, events))
    if (typeof poll === 'number') check(poll, 'uv_poll_init')
    this.#poll = poll
  }

  /** A connected pair in this process (tests, workers): socketpair(2) with both ends wrapped. */
  static pair(options?: ChannelOptions): [FdChannel, FdChannel] {
    const opts = channelOptions(options)
    const [a, b] = FdChannel.socketpair()
    return [new FdChannel(a, opts), new FdChannel(b, opts)]
  }

  /**
   * socketpair(2): two raw connected close-on-exec descriptors, e.g. one for a child's extra stdio slot
   * (spawn's stdio array dups it into the child) and one for FdChannel.adopt() here.
   */
  static socketpair(): [number, number] {
    const r = native.fdpass.socketpair()
    if (typeof r === 'number') check(r, 'socketpair')
    return r as [number, number]
  }

  /**
   * Wraps a connected AF_UNIX stream socket this process owns (a socketpair end, or the stdio slot a
   * parent passed in, e.g. fd 3). The channel owns it from now on: close() closes it. Nothing else may
   * read from it: Node streams would swallow the descriptors.
   */
  static adopt(fd: number, options?: ChannelOptions): FdChannel {
    validateInteger(fd, 'fd', 0, 0x7fffffff)
    const opts = channelOptions(options)
    const info = native.fdpass.socketInfo(fd)
    if (typeof info === 'number') {
      throw new MemsealError('ERR_MEMSEAL_NOT_SOCKET', `fd ${fd} is not a socket (${systemError(info, 'getsockopt').code})`)
    }
    if (info[0] !== AF_UNIX || info[1] !== SOCK_STREAM) {
      throw new MemsealError('ERR_MEMSEAL_NOT_SOCKET', `fd ${fd} is not an AF_UNIX stream socket (domain ${info[0]}, type ${info[1]})`)
    }
    return new FdChannel(fd, opts)
  }

  /** Connects to an FdServer listening on `path` (a filesystem path, or a Buffer starting with NUL). */
  static async connect(path: string | Buffer, options?: ConnectOptions): Promise<FdChannel> {
    if (!Buffer.isBuffer(path)) validateString(path, 'path')
    const timeout = options?.timeout === undefined ? 5000 : validateInteger(options.timeout, 'options.timeout', 0, 0x7fffffff)
    const opts = channelOptions(options, ['timeout'])
    const deadline = Date.now() + timeout
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      const fd = native.fdpass.connect(path)
      if (fd >= 0) return new FdChannel(fd, opts)
      if (fd !== EAGAIN || Date.now() >= deadline) check(fd, 'connect', String(path))
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }

  get closed(): boolean {
    return this.#fd < 0
  }

  /** The socket's descriptor (for diagnostics; do not read from or close it). */
  get fd(): number {
    return this.#fd
  }

  /**
   * Sends `header` (any JSON value) with `fds`. Resolves once the kernel holds every byte; the
   * descriptors are duplicated into the message at the first sendmsg, so the caller may close its own
   * copies once the promise resolves.
   */
  send(header: unknown, fds: readonly number[] = []): Promise<void> {
    if (!Array.isArray(fds) || fds.length > MAX_SEND_FDS) {
      return Promise.reject(new TypeError(`fds must be an array of at most ${MAX_SEND_FDS} descriptors`))
    }
    const list = fds.map((fd: unknown, i) => validateInteger(fd, `fds[${i}]`, 0, 0x7fffffff))
    if (this.#fatal) return Promise.reject(this.#fatal)
    if (this.closed) return Promise.reject(channelClosed('send'))
    let bytes: Buffer
    try {
      bytes = frame(header, this.#opts.maxHeaderBytes)
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
    return new Promise<void>((resolve, reject) => {
      this.#outbox.push({ bytes, fds: list, resolve, reject })
      this.#flush()
    })
  }

  /** The next message. Rejects with a MemsealError for a message that had to be refused (its fds closed). */
  receive(): Promise<FdMessage> {
    const next = this.#inbox.shift()
    if (next) return 'message' in next ? Promise.resolve(next.message) : Promise.reject(next.error)
    if (this.#fatal) return Promise.reject(this.#fatal)
    if (this.closed) return Promise.reject(channelClosed('receive'))
    return new Promise<FdMessage>((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      this.#read()
    })
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FdMessage, void> {
    for (;;) {
      try {
        yield await this.receive()
      } catch (err) {
        if ((err as MemsealError).code === 'ERR_MEMSEAL_CHANNEL_CLOSED') return
        throw err
      }
    }
  }

  /** Whether a pending receive() or send() keeps the process alive (default true), as net.Socket#ref(). */
  ref(): this {
    if (!this.closed) native.fdpass.pollRef(this.#poll, true)
    return this
  }

  unref(): this {
    if (!this.closed) native.fdpass.pollRef(this.#poll, false)
    return this
  }

  /**
   * Closes the channel. The socket itself is closed in libuv's close callback at the end of this loop
   * turn (closing it earlier could let its number be reused while libuv still refers to it). Pending sends and receives reject with
   * ERR_MEMSEAL_CHANNEL_CLOSED; descriptors received but not yet handed out are closed. Idempotent.
   */
  close(): void {
    if (this.closed) return
    this.#fail(channelClosed('close'))
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #watch(events: number): void {
    if (this.closed || events === this.#watching) return
    this.#watching = events
    check(native.fdpass.pollStart(this.#poll, events), 'uv_poll_start')
  }

  #updateWatch(): void {
    const events = (this.#waiters.length > 0 ? UV_READABLE : 0) | (this.#outbox.length > 0 ? UV_WRITABLE : 0)
    this.#watch(events)
  }

  #onReady(status: number, events: number): void {
    try {
      if (status < 0) {
        this.#fail(systemError(status, 'uv_poll'))
        return
      }
      if (events & UV_WRITABLE) this.#flush()
      if (!this.closed) this.#read()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  #flush(): void {
    while (this.#outbox.length > 0 && !this.closed) {
      const out = this.#outbox[0]!
      const n = native.fdpass.sendmsg(this.#fd, out.bytes, out.fds)
      if (n === EAGAIN) break
      if (n < 0) {
        this.#outbox.shift()
        const err = systemError(n, 'sendmsg')
        out.reject(err)
        if (n === -32 /* EPIPE */ || n === -104 /* ECONNRESET */) this.#fail(channelClosed('send'))
        continue
      }
      out.fds = [] // in flight now: they travel with the first byte only
      if (n < out.bytes.length) {
        out.bytes = out.bytes.subarray(n)
        continue
      }
      this.#outbox.shift()
      out.resolve()
    }
    this.#updateWatch()
  }

  // Reads while someone waits for a message and the socket has data. A broken stream (a header above
  // the limit: the framing is lost) ends the channel for every waiter, not only the current one.
  #read(): void {
    try {
      this.#readAvailable()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  #readAvailable(): void {
    while (this.#waiters.length > 0 && !this.closed) {
      const r = native.fdpass.recvmsg(this.#fd, this.#readBuffer)
      if (r === EAGAIN) break
      if (typeof r === 'number') {
        this.#fail(systemError(r, 'recvmsg'))
        return
      }
      if (r.bytes === 0) {
        closeFds(r.fds)
        this.#fail(channelClosed('receive (the peer closed its end)'))
        return
      }
      this.#take(this.#readBuffer.subarray(0, r.bytes), r.fds, r.truncated)
      this.#deliver()
    }
    this.#updateWatch()
  }

  // Appends one read to the pending bytes and splits off complete messages. The read's descriptors
  // belong to the message holding its last byte (see the header of this file).
  #take(bytes: Buffer, fds: number[], truncated: boolean): void {
    let buf = this.#pending.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.#pending, bytes])
    let carry = this.#pendingFds
    let carryTruncated = this.#pendingTruncated
    for (;;) {
      if (buf.length < PREFIX) break
      const length = buf.readUInt32BE(0)
      if (length > this.#opts.maxHeaderBytes) {
        closeFds(carry)
        closeFds(fds)
        this.#pending = Buffer.alloc(0)
        this.#pendingFds = []
        throw new MemsealError('ERR_MEMSEAL_MESSAGE_TOO_LARGE', `the peer announced a ${length}-byte header, more than ${this.#opts.maxHeaderBytes}`)
      }
      if (buf.length < PREFIX + length) break
      const body = buf.subarray(PREFIX, PREFIX + length)
      buf = buf.subarray(PREFIX + length)
      let mine = carry
      let mineTruncated = carryTruncated
      carry = []
      carryTruncated = false
      if (buf.length === 0) {
        // This message holds the last byte of the read: the read's descriptors are its own.
        mine = mine.concat(fds)
        mineTruncated ||= truncated
        fds = []
        truncated = false
      }
      this.#inbox.push(this.#parse(body, mine, mineTruncated))
    }
    this.#pending = Buffer.from(buf)
    this.#pendingFds = carry.concat(fds)
    this.#pendingTruncated = carryTruncated || truncated
  }

  #parse(body: Buffer, fds: number[], truncated: boolean): Inbound {
    if (truncated || fds.length > this.#opts.maxFds) {
      closeFds(fds)
      const error = new MemsealError(
        'ERR_MEMSEAL_TOO_MANY_FDS',
        `the peer sent ${truncated ? `more than ${MAX_RECV_FDS}` : fds.length} descriptors with one message, more than ${this.#opts.maxFds}; all were closed`,
      )
      return { error }
    }
    try {
      return { message: { header: JSON.parse(body.toString('utf8')), fds } }
    } catch {
      closeFds(fds)
      return {
        error: new MemsealError(
          'ERR_MEMSEAL_BAD_MESSAGE',
          `the peer sent a header that is not JSON (${body.length} bytes); its ${fds.length} descriptor(s) were closed`,
        ),
      }
    }
  }

  #deliver(): void {
    while (this.#waiters.length > 0 && this.#inbox.length > 0) {
      const waiter = this.#waiters.shift()!
      const next = this.#inbox.shift()!
      if ('message' in next) waiter.resolve(next.message)
      else waiter.reject(next.error)
    }
  }

  // Ends the channel: everyone waiting learns why, and every descriptor not yet handed out is closed.
  #fail(err: Error): void {
    if (this.closed) return
    this.#fatal = err
    this.#fd = -1
    native.fdpass.pollClose(this.#poll) // closes the socket once libuv lets go of it
    for (const entry of this.#inbox) if ('message' in entry) closeFds(entry.message.fds)
    this.#inbox = []
    closeFds(this.#pendingFds)
    this.#pendingFds = []
    for (const w of this.#waiters.splice(0)) w.reject(err)
    for (const o of this.#outbox.splice(0)) o.reject(err)
  }
}

/**
 * A listening AF_UNIX stream socket whose connections become FdChannels. Listens on a filesystem path
 * (as net.Server#listen(path) does) or an abstract name (a Buffer starting with NUL).
 */
export class FdServer {
  #fd: number
  #poll: unknown
  #path: string | Buffer
  #ino = -1
  #opts: Required<ChannelOptions>
  #waiters: Array<{ resolve(c: FdChannel): void; reject(e: Error): void }> = []

  private constructor(fd: number, path: string | Buffer, opts: Required<ChannelOptions>) {
    this.#fd = fd
    this.#path = path
    this.#opts = opts
    if (typeof path === 'string') this.#ino = lstatSync(path).ino
    const poll = native.fdpass.pollOpen(fd, (status) => this.#onReady(status))
    if (typeof poll === 'number') check(poll, 'uv_poll_init')
    this.#poll = poll
  }

  static listen(path: string | Buffer, options?: ChannelOptions & { backlog?: number }): FdServer {
    if (!Buffer.isBuffer(path)) validateString(path, 'path')
    const backlog = options?.backlog === undefined ? 128 : validateInteger(options.backlog, 'options.backlog', 1, 0x7fffffff)
    const opts = channelOptions(options, ['backlog'])
    const fd = check<number>(native.fdpass.listen(path, backlog), 'listen', String(path))
    return new FdServer(fd, path, opts)
  }

  get path(): string | Buffer {
    return this.#path
  }

  get closed(): boolean {
    return this.#fd < 0
  }

  /** The next connection. */
  accept(): Promise<FdChannel> {
    if (this.closed) return Promise.reject(new MemsealError('ERR_MEMSEAL_CHANNEL_CLOSED', 'accept: the server is closed'))
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      this.#onReady(0)
    })
  }

  /** Stops listening, closes the socket and removes its path if it is still ours. Idempotent. */
  close(): void {
    if (this.closed) return
    this.#fd = -1
    native.fdpass.pollClose(this.#poll)
    if (typeof this.#path === 'string') {
      try {
        if (lstatSync(this.#path).ino === this.#ino) unlinkSync(this.#path)
      } catch {
        // already gone
      }
    }
    const err = new MemsealError('ERR_MEMSEAL_CHANNEL_CLOSED', 'accept: the server is closed')
    for (const w of this.#waiters.splice(0)) w.reject(err)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #onReady(status: number): void {
    if (this.closed) return
    if (status < 0) {
      const err = systemError(status, 'uv_poll')
      for (const w of this.#waiters.splice(0)) w.reject(err)
      return
    }
    while (this.#waiters.length > 0) {
      const fd = native.fdpass.accept(this.#fd)
      if (fd === EAGAIN) break
      if (fd < 0) {
        this.#waiters.shift()!.reject(systemError(fd, 'accept'))
        continue
      }
      let channel: FdChannel
      try {
        channel = FdChannel.adopt(fd, this.#opts)
      } catch (err) {
        closeSync(fd)
        this.#waiters.shift()!.reject(err as Error)
        continue
      }
      this.#waiters.shift()!.resolve(channel)
    }
    check(native.fdpass.pollStart(this.#poll, this.#waiters.length > 0 ? UV_READABLE : 0), 'uv_poll_start')
  }
}
