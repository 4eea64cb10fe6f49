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
 * A read never goes past the end of a message already begun, so the descriptors of a read belong to one
 * known message, and each read accepts at most one descriptor more than that message may still take
 * (the kernel closes the rest): a peer can make the receiver hold at most maxFds + 1 descriptors.
 * @see https://man7.org/linux/man-pages/man7/unix.7.html
 */
import { isUtf8 } from 'node:buffer'
import { closeSync, lstatSync, unlinkSync } from 'node:fs'
import { AbortError, check, invalidArgType, MemsealError, outOfRange, systemError } from './errors'
import { type FdPoll, native } from './native'
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
  /**
   * Most descriptors accepted with one message (default 16, at most 252). A complete message with more is
   * refused (all its descriptors closed); a peer that sends more with a message not yet complete is
   * hostile or broken, and the channel is closed with all of them.
   */
  maxFds?: number
}

/**
 * @internal A received message whose descriptors the channel's poller still holds (and closes if the
 * channel ends first): what receiveShared() adopts from, so no descriptor is ever nobody's.
 */
export interface HeldMessage extends FdMessage {
  poll: FdPoll
}

/** @internal FdChannel's receive() that leaves the descriptors held (see HeldMessage). */
export const receiveHeld = Symbol('memseal.fdpass.receiveHeld')
/** @internal FdChannel's receiveSync() that leaves the descriptors held (see HeldMessage). */
export const receiveHeldSync = Symbol('memseal.fdpass.receiveHeldSync')

/** @internal Closes the descriptors of a held message (a refused one). */
export function discardHeld(message: HeldMessage): void {
  native.fdpass.pollDiscard(message.poll, message.fds)
}

export interface ReceiveMessageOptions {
  /** Gives up waiting when aborted: the promise rejects with an AbortError (see FdChannel#receive). */
  signal?: AbortSignal
  /** Gives up after this many milliseconds, as an abort (an AbortError whose cause is a TimeoutError). */
  timeout?: number
}

export interface ReceiveSyncOptions {
  /** Gives up after this many milliseconds: an AbortError whose cause is a TimeoutError (default: no limit). */
  timeout?: number
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

// A receive's `timeout` ran out: an AbortError whose cause is a TimeoutError, as Node's own APIs give.
function timeoutError(ms: number): AbortError {
  const cause = new DOMException(`The operation was aborted due to timeout (${ms} ms)`, 'TimeoutError')
  return new AbortError('The operation was aborted due to timeout', { cause })
}

function channelClosed(what: string): MemsealError {
  return new MemsealError('ERR_MEMSEAL_CHANNEL_CLOSED', `${what}: the channel is closed`)
}

/** @internal Validates receive()'s signal and timeout (shared with receiveShared()). */
export function receiveMessageOptions(signal: unknown, timeout: unknown): { signal?: AbortSignal; timeout?: number } {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal)
  return {
    signal,
    timeout: timeout === undefined ? undefined : validateInteger(timeout, 'options.timeout', 1, 0x7fffffff),
  }
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason })
}

type OptionName = 'maxHeaderBytes' | 'maxFds' | 'timeout' | 'backlog'

// Validates the channel options; `extra` names the caller's own options, validated by the caller.
function channelOptions(options: unknown, extra: OptionName[] = []): Required<ChannelOptions> {
  const o = validateOptions<ChannelOptions & ConnectOptions & { backlog?: number }>(options, 'options', ['maxHeaderBytes', 'maxFds', ...extra])
  return {
    maxHeaderBytes: o.maxHeaderBytes === undefined ? DEFAULT_MAX_HEADER : validateInteger(o.maxHeaderBytes, 'options.maxHeaderBytes', 2, 0x7fffffff),
    maxFds: o.maxFds === undefined ? DEFAULT_MAX_FDS : validateInteger(o.maxFds, 'options.maxFds', 0, MAX_RECV_FDS - 1),
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
  /** Deliver with the descriptors still held by the poller (receiveHeld). */
  hold: boolean
}

// What went wrong with the descriptors of the message being received: more than maxFds came with it, or
// this process could not take them all (its own EMFILE or ENFILE, not the peer's doing).
type FdTrouble = 'none' | 'too-many' | 'own-limit'

/** A connected AF_UNIX stream socket that carries JSON headers and file descriptors. */
export class FdChannel {
  #fd: number
  #poll: FdPoll
  #opts: Required<ChannelOptions>
  #outbox: Outgoing[] = []
  #inbox: Inbound[] = []
  #waiters: Waiter[] = []
  // Unparsed bytes of the current (incomplete) message, and the descriptors that arrived with it (held by
  // the poller, which closes them if the channel ends first).
  #pending: Buffer = Buffer.alloc(0)
  #pendingFds: number[] = []
  #pendingTrouble: FdTrouble = 'none'
  #readBuffer = Buffer.allocUnsafe(READ_CHUNK)
  #fatal: Error | undefined
  #watching = 0

  private constructor(fd: number, options: Required<ChannelOptions>) {
    this.#fd = fd
    this.#opts = options
    const poll = native.fdpass.pollOpen(fd, (status, events) => this.#onReady(status, events))
    if (typeof poll === 'number') check(poll, 'uv_poll_init')
    this.#poll = poll as FdPoll
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
    let list: number[]
    let bytes: Buffer
    try {
      if (!Array.isArray(fds)) throw invalidArgType('fds', 'an array of file descriptors', fds)
      if (fds.length > MAX_SEND_FDS) throw outOfRange('fds.length', `<= ${MAX_SEND_FDS} (SCM_MAX_FD)`, fds.length)
      list = fds.map((fd: unknown, i) => validateInteger(fd, `fds[${i}]`, 0, 0x7fffffff))
      if (this.#fatal) throw this.#fatal
      if (this.closed) throw channelClosed('send')
      bytes = frame(header, this.#opts.maxHeaderBytes)
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
    return new Promise<void>((resolve, reject) => {
      this.#outbox.push({ bytes, fds: list, resolve, reject })
      this.#flush()
    })
  }

  /**
   * The next message. Rejects with a MemsealError for a message that had to be refused (its descriptors
   * closed; the channel goes on), with a SystemError EMFILE when this process could not take the
   * descriptors that came with it (its own limit; the message is refused the same way), and with
   * ERR_MEMSEAL_CHANNEL_CLOSED once the channel has ended.
   *
   * `signal` and `timeout` bound the wait: the promise then rejects with an AbortError (for a timeout, one
   * whose cause is a TimeoutError DOMException). If nothing of the next message had arrived, the channel
   * stays usable; if part of it had (a peer that stalls mid-message), the channel is closed, with every
   * descriptor that came with that part: the stream cannot be resumed without them.
   */
  receive(options?: ReceiveMessageOptions): Promise<FdMessage> {
    return this.#receive(options, false)
  }

  /** @internal */
  [receiveHeld](options?: ReceiveMessageOptions): Promise<HeldMessage> {
    return this.#receive(options, true) as Promise<HeldMessage>
  }

  /**
   * receive(), blocking this thread until the next message comes (as fs.readSync() does): for a consumer
   * with nothing else to do meanwhile, a worker thread or a process that only consumes, it saves the
   * event loop's wake-up and the promise's turn. Nothing else runs on this thread while it waits: no
   * timer, no I/O callback (this channel's own queued sends are pushed out). `timeout` bounds the wait,
   * as receive()'s does: an AbortError whose cause is a TimeoutError. Refused with ERR_MEMSEAL_BUSY while a
   * receive() is pending on the channel (messages go to it first). Refusals are receive()'s, thrown.
   */
  receiveSync(options?: ReceiveSyncOptions): FdMessage {
    return this.#receiveSync(options, false)
  }

  /** @internal */
  [receiveHeldSync](options?: ReceiveSyncOptions): HeldMessage {
    return this.#receiveSync(options, true) as HeldMessage
  }

  #receiveSync(options: ReceiveSyncOptions | undefined, hold: boolean): FdMessage {
    const given = validateOptions<ReceiveSyncOptions>(options, 'options', ['timeout'])
    const timeout = given.timeout === undefined ? undefined : validateInteger(given.timeout, 'options.timeout', 0, 0x7fffffff)
    const next = this.#inbox.shift()
    if (next) {
      if ('message' in next) return this.#handOut(next.message, hold)
      throw next.error
    }
    if (this.#fatal) throw this.#fatal
    if (this.closed) throw channelClosed('receiveSync')
    if (this.#waiters.length > 0) throw new MemsealError('ERR_MEMSEAL_BUSY', 'receiveSync: a receive() is pending on this channel (messages go to it first)')
    // A waiter like receive()'s, settled synchronously by the same reading code.
    let outcome: { message: FdMessage } | { error: Error } | undefined
    const waiter: Waiter = { hold, resolve: (message) => (outcome = { message }), reject: (error) => (outcome = { error }) }
    this.#waiters.push(waiter)
    const deadline = timeout === undefined ? undefined : performance.now() + timeout
    try {
      for (;;) {
        if (this.#outbox.length > 0) this.#flush()
        this.#read()
        if (outcome !== undefined || this.closed) break
        const left = deadline === undefined ? -1 : Math.max(0, Math.ceil(deadline - performance.now()))
        const r = native.fdpass.pollWait(this.#poll, this.#outbox.length > 0, left)
        if (r === 0 && deadline !== undefined && performance.now() >= deadline) {
          this.#abort(waiter, timeoutError(timeout!))
          break
        }
        if (r < 0) {
          this.#fail(systemError(r, 'poll'))
          break
        }
      }
    } catch (err) {
      this.#fail(err as Error)
    }
    if (outcome === undefined) throw this.#fatal ?? channelClosed('receiveSync')
    if ('error' in outcome) throw outcome.error
    return outcome.message
  }

  #receive(options: ReceiveMessageOptions | undefined, hold: boolean): Promise<FdMessage> {
    let o: { signal?: AbortSignal; timeout?: number }
    try {
      const given = validateOptions<ReceiveMessageOptions>(options, 'options', ['signal', 'timeout'])
      o = receiveMessageOptions(given.signal, given.timeout)
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
    if (o.signal?.aborted) return Promise.reject(abortError(o.signal))
    const next = this.#inbox.shift()
    if (next) return 'message' in next ? Promise.resolve(this.#handOut(next.message, hold)) : Promise.reject(next.error)
    if (this.#fatal) return Promise.reject(this.#fatal)
    if (this.closed) return Promise.reject(channelClosed('receive'))
    return new Promise<FdMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const { signal } = o
      const onAbort = (): void => this.#abort(waiter, abortError(signal!))
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        hold,
        resolve: (m) => {
          settle()
          resolve(m)
        },
        reject: (err) => {
          settle()
          reject(err)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (o.timeout !== undefined) {
        const ms = o.timeout
        // Unreferenced: whether a pending receive keeps the process alive is the channel's ref() to say.
        timer = setTimeout(() => this.#abort(waiter, timeoutError(ms)), ms).unref()
      }
      this.#waiters.push(waiter)
      this.#read()
    })
  }

  // A receive() given up. The bytes and descriptors of a message begun belong to the first waiter: if it is
  // the one giving up, the stream cannot go on without them, and the channel ends.
  #abort(waiter: Waiter, err: Error): void {
    const i = this.#waiters.indexOf(waiter)
    if (i < 0) return
    const midMessage = i === 0 && (this.#pending.length > 0 || this.#pendingFds.length > 0)
    this.#waiters.splice(i, 1)
    waiter.reject(err)
    if (midMessage) {
      this.#fail(
        new MemsealError(
          'ERR_MEMSEAL_CHANNEL_CLOSED',
          'receive: the channel was closed because a receive() was aborted with part of a message received (its descriptors were closed)',
        ),
      )
    } else if (!this.closed) {
      this.#updateWatch()
    }
  }

  // The caller owns a delivered message's descriptors from now on: the poller stops holding them. Unless
  // `hold`: then they stay held, and the message says by which poller.
  #handOut(message: FdMessage, hold: boolean): FdMessage {
    if (hold) {
      const held: HeldMessage = { ...message, poll: this.#poll }
      return held
    }
    if (message.fds.length > 0 && !this.closed) native.fdpass.pollRelease(this.#poll, message.fds)
    return message
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
      // Never read past the end of a message begun, so the read's descriptors are that message's, and take
      // at most one more than it may still have: the kernel closes the rest (MSG_CTRUNC).
      let limit = READ_CHUNK
      if (this.#pending.length >= PREFIX) limit = Math.min(READ_CHUNK, PREFIX + this.#pending.readUInt32BE(0) - this.#pending.length)
      else if (this.#pending.length > 0) limit = PREFIX - this.#pending.length
      const room = this.#opts.maxFds + 1 - this.#pendingFds.length
      const r = native.fdpass.recvmsg(this.#poll, this.#readBuffer.subarray(0, limit), room)
      if (r === EAGAIN) break
      if (typeof r === 'number') {
        this.#fail(systemError(r, 'recvmsg'))
        return
      }
      if (r.bytes === 0) {
        this.#fail(channelClosed('receive (the peer closed its end)'))
        return
      }
      const trouble: FdTrouble = !r.truncated ? 'none' : r.fds.length >= room ? 'too-many' : 'own-limit'
      this.#take(this.#readBuffer.subarray(0, r.bytes), r.fds, trouble)
      if (this.#pendingTrouble === 'too-many' || this.#pendingFds.length > this.#opts.maxFds) {
        // More descriptors than allowed with a message still incomplete: a peer flooding us, not a message.
        this.#fail(
          new MemsealError(
            'ERR_MEMSEAL_TOO_MANY_FDS',
            `the peer sent more than ${this.#opts.maxFds} descriptors with a message not yet complete; the channel was closed, and all of them with it`,
          ),
        )
        return
      }
      this.#deliver()
    }
    this.#updateWatch()
  }

  // Appends one read to the pending bytes and splits off complete messages. The read's descriptors
  // belong to the message holding its last byte (see the header of this file).
  #take(bytes: Buffer, fds: number[], trouble: FdTrouble): void {
    let buf = this.#pending.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.#pending, bytes])
    let carry = this.#pendingFds
    let carryTrouble = this.#pendingTrouble
    for (;;) {
      if (buf.length < PREFIX) break
      const length = buf.readUInt32BE(0)
      if (length > this.#opts.maxHeaderBytes) {
        this.#pending = Buffer.alloc(0)
        this.#pendingFds = []
        this.#pendingTrouble = 'none'
        throw new MemsealError('ERR_MEMSEAL_MESSAGE_TOO_LARGE', `the peer announced a ${length}-byte header, more than ${this.#opts.maxHeaderBytes}`)
      }
      if (buf.length < PREFIX + length) break
      const body = buf.subarray(PREFIX, PREFIX + length)
      buf = buf.subarray(PREFIX + length)
      let mine = carry
      let mineTrouble = carryTrouble
      carry = []
      carryTrouble = 'none'
      if (buf.length === 0) {
        // This message holds the last byte of the read: the read's descriptors are its own.
        mine = mine.concat(fds)
        if (trouble !== 'none') mineTrouble = trouble
        fds = []
        trouble = 'none'
      }
      this.#inbox.push(this.#parse(body, mine, mineTrouble))
    }
    this.#pending = Buffer.from(buf)
    this.#pendingFds = carry.concat(fds)
    this.#pendingTrouble = trouble !== 'none' ? trouble : carryTrouble
  }

  #parse(body: Buffer, fds: number[], trouble: FdTrouble): Inbound {
    const refuse = (error: Error): Inbound => {
      native.fdpass.pollDiscard(this.#poll, fds)
      return { error }
    }
    if (trouble === 'own-limit') {
      return refuse(
        systemError(
          -24,
          'recvmsg',
          `this process could not take the descriptors of a message (its own descriptor limit, RLIMIT_NOFILE or fs.file-max); the message was refused and the ${fds.length} that arrived were closed`,
        ),
      )
    }
    if (trouble === 'too-many' || fds.length > this.#opts.maxFds) {
      return refuse(
        new MemsealError(
          'ERR_MEMSEAL_TOO_MANY_FDS',
          `the peer sent ${trouble === 'too-many' ? `more than ${this.#opts.maxFds}` : fds.length} descriptors with one message, more than ${this.#opts.maxFds}; all were closed`,
        ),
      )
    }
    // Strict UTF-8: a header that is not is refused, never decoded lossily into something else.
    if (!isUtf8(body)) {
      return refuse(
        new MemsealError(
          'ERR_MEMSEAL_BAD_MESSAGE',
          `the peer sent a header that is not UTF-8 (${body.length} bytes); its ${fds.length} descriptor(s) were closed`,
        ),
      )
    }
    try {
      return { message: { header: JSON.parse(body.toString('utf8')), fds } }
    } catch {
      return refuse(
        new MemsealError(
          'ERR_MEMSEAL_BAD_MESSAGE',
          `the peer sent a header that is not JSON (${body.length} bytes); its ${fds.length} descriptor(s) were closed`,
        ),
      )
    }
  }

  #deliver(): void {
    while (this.#waiters.length > 0 && this.#inbox.length > 0) {
      const waiter = this.#waiters.shift()!
      const next = this.#inbox.shift()!
      if ('message' in next) waiter.resolve(this.#handOut(next.message, waiter.hold))
      else waiter.reject(next.error)
    }
  }

  // Ends the channel: everyone waiting learns why, and every descriptor not yet handed out is closed (the
  // poller holds them, and closes them with itself, now; the socket once libuv lets go of it).
  #fail(err: Error): void {
    if (this.closed) return
    this.#fatal = err
    this.#fd = -1
    native.fdpass.pollClose(this.#poll)
    this.#inbox = []
    this.#pending = Buffer.alloc(0)
    this.#pendingFds = []
    this.#pendingTrouble = 'none'
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
  #poll: FdPoll
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
    this.#poll = poll as FdPoll
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
