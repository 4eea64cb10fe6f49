/**
 * Files through the Ctx: memfds, file seals and the file calls seals govern (ftruncate, truncate,
 * open(O_TRUNC), write, fallocate, fchmod), plus regular, tmpfs and FIFO files to compare with.
 *
 * Setup steps (`ctx.file.*`) must succeed and have their effect, or throw SetupError. Facts
 * (`ctx.file.size(fd)` …) read state. Calls under test (`ctx.try.*`) return what the kernel answered and
 * the effect the call promises: `size` after anything that can change the size, `mode` after fchmod,
 * `seals` after F_ADD_SEALS, `changed` (bytes of the target range that now hold what was written) after a
 * write. A refused call reports the same facts, so "refused, and nothing changed" is what passes.
 */
import { execFileSync } from 'node:child_process'
import {
  closeSync,
  constants as fsc,
  existsSync,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  statfsSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { errnoName } from '../../errors'
import { constants as C, native } from '../../native'
import type { Json, Observation } from '../types'
import { type Ctx, errnoOf, outcome, SetupError } from './index'

const TMPFS_MAGIC = 0x01021994
const HUGETLBFS_MAGIC = 0x958458f6
const O_TRUNC = fsc.O_TRUNC

/** The byte the write calls store: 'w'. A range that already holds it is refilled first (see write()). */
const PATTERN = 0x77

/** What memfd_create made: { ret: 0 } when the fd is a memfd, or what it really is. */
function memfdObservation(fd: number): Observation {
  const link = errnoOf(() => readlinkSync(`/proc/self/fd/${fd}`))
  if (typeof link === 'string' && link.startsWith('/memfd:')) return { ret: 0 }
  return { ret: fd, notMemfd: typeof link === 'string' ? link : errnoName(link) }
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0')
}

export interface FileAttempts {
  /** memfd_create(name, flags): the fd (tracked) and { ret: 0 } when it is a memfd, or { errno }. */
  memfdCreate(name: string | Buffer | null | number, flags: number): { obs: Observation; fd: number | null }
  /** F_GET_SEALS: { seals } or { errno }. */
  getSeals(fd: number): Observation
  /** F_ADD_SEALS: { ret | errno, seals } (the seals afterwards, or the errno F_GET_SEALS gave). */
  addSeals(fd: number, bits: number | bigint): Observation
  /** ftruncate(2): { ret | errno, size }. */
  ftruncate(fd: number, length: number): Observation
  /** truncate(2) on the file's /proc/self/fd path: { ret | errno, size }. */
  truncate(fd: number, length: number): Observation
  /** open(2) of the file again with O_TRUNC | flags: { ret | errno, size } (the new fd, if any, is tracked). */
  openTrunc(fd: number, flags: number): Observation
  /**
   * write(2) (position undefined: at the file offset) or pwrite(2) of `n` bytes: { ret | errno, size,
   * changed } where `changed` counts the bytes of the target range that now hold what was written.
   */
  write(fd: number, n: number, position?: number): Observation
  /** fallocate(2): { ret | errno, size }, plus `data` ('zero' | 'kept' | 'mixed') for FALLOC_FL_PUNCH_HOLE. */
  fallocate(fd: number, mode: number, offset: number, length: number): Observation
  /** fchmod(2): { ret | errno, mode } (the mode afterwards, as octal text). */
  chmod(fd: number, mode: number): Observation
  /** open(2) of a path: the fd (tracked) and { ret: 0 } or { errno }. */
  open(path: string, flags: number): { obs: Observation; fd: number | null }
}

export class FileOps {
  constructor(private readonly ctx: Ctx) {}

  // ── setup steps: succeed with their effect, or throw SetupError ─────────────────────────────────

  /** memfd_create that must succeed and give a memfd (default flags: MFD_ALLOW_SEALING; MFD_CLOEXEC always). */
  memfd(flags: number = C.MFD_ALLOW_SEALING, name = 'memseal-clause'): number {
    const fd = this.ctx.track(this.ctx.setup(this.#memfdCreate(name, flags | C.MFD_CLOEXEC), `memfd_create(${name}, 0x${flags.toString(16)})`))
    const seen = memfdObservation(fd)
    this.ctx.verify(seen.ret === 0, () => `memfd_create(${name}) returned fd ${fd}, which is not a memfd (${JSON.stringify(seen.notMemfd)})`)
    return fd
  }

  /** A sealable memfd of `pages` pages with `bits` added (each step verified). */
  sealed(bits: number, pages = 1): number {
    const fd = this.memfd()
    if (pages > 0) this.resize(fd, pages * this.ctx.ps)
    if (bits !== 0) this.addSeals(fd, bits)
    return fd
  }

  /** ftruncate that must succeed and leave the file `bytes` long. */
  resize(fd: number, bytes: number): void {
    this.ctx.setup(this.#ftruncate(fd, bytes), `ftruncate(${bytes})`)
    const size = this.size(fd)
    this.ctx.verify(size === bytes, () => `ftruncate(${bytes}) returned 0 but the file is ${size} bytes long`)
  }

  /** fallocate(mode 0) that must succeed and leave the file at least offset + bytes long. */
  allocate(fd: number, offset: number, bytes: number): void {
    this.ctx.setup(this.ctx.sys('fallocate', [0, offset, bytes], native.fallocate(fd, 0, offset, bytes)), `fallocate(0, ${offset}, ${bytes})`)
    const size = this.size(fd)
    this.ctx.verify(size >= offset + bytes, () => `fallocate(${offset}, ${bytes}) returned 0 but the file is ${size} bytes long`)
  }

  /** pwrite of `bytes` at `offset` that must succeed whole, read back to be sure it landed. */
  fill(fd: number, bytes: Buffer, offset = 0): void {
    const n = this.ctx.setup(this.#pwrite(fd, bytes, offset), `pwrite(${bytes.length} bytes at ${offset})`)
    this.ctx.verify(n === bytes.length, () => `pwrite(${bytes.length} bytes at ${offset}) wrote ${n}`)
    const back = this.read(fd, offset, bytes.length)
    this.ctx.verify(back.equals(bytes), () => `pwrite(${bytes.length} bytes at ${offset}) returned ${n} but the file does not hold them`)
  }

  /** The bytes of a file of the system (/bin/true for the exec clauses) written at offset 0, verified as fill() does. */
  fillFrom(fd: number, path: string): void {
    let bytes: Buffer
    try {
      bytes = readFileSync(path)
    } catch (err) {
      throw new SetupError(`reading ${path} failed: ${(err as NodeJS.ErrnoException).code}`)
    }
    this.fill(fd, bytes, 0)
  }

  /** fchmod that must succeed and leave that mode. */
  chmod(fd: number, mode: number): void {
    this.ctx.setup(this.#fchmod(fd, mode), `fchmod(0${mode.toString(8)})`)
    const now = this.mode(fd)
    this.ctx.verify(now === octal(mode), () => `fchmod(0${mode.toString(8)}) returned 0 but the mode is ${now}`)
  }

  /** F_ADD_SEALS that must succeed and leave every bit of `bits` set. */
  addSeals(fd: number, bits: number): void {
    this.ctx.setup(this.#fcntl(fd, C.F_ADD_SEALS, bits), `F_ADD_SEALS(0x${bits.toString(16)})`)
    const now = this.seals(fd)
    this.ctx.verify((now & bits) === bits, () => `F_ADD_SEALS(0x${bits.toString(16)}) returned 0 but the seals are 0x${now.toString(16)}`)
  }

  /** close(2) of an fd the clause made, which must succeed and leave the number unused (F_GETFD: EBADF). */
  close(fd: number): void {
    this.ctx.setup(this.ctx.sys('close', [], native.close(fd)), `close(${fd})`)
    this.ctx.untrack(fd)
    const after = this.#fcntl(fd, C.F_GETFD, 0)
    this.ctx.verify(after === -9 /* EBADF */, () => `close(${fd}) returned 0 but F_GETFD on it gives ${after < 0 ? errnoName(after) : after}`)
  }

  /** open(2) that must succeed; tracked. */
  open(path: string, flags: number | string, mode?: number): number {
    const fd = errnoOf(() => openSync(path, flags, mode))
    this.ctx.sys('openat', [typeof flags === 'number' ? flags : 0], fd)
    if (fd < 0) throw new SetupError(`open(${path}) failed: ${errnoName(fd)}`)
    return this.ctx.track(fd)
  }

  /** The same file opened again through /proc/self/fd (a new open file description), checked to be the same inode. */
  reopen(fd: number, flags: number | string): number {
    const again = this.open(`/proc/self/fd/${fd}`, flags)
    this.ctx.verify(this.sameFile(fd, again), () => `reopening fd ${fd} through /proc/self/fd gave another file`)
    return again
  }

  /** A second fd for the same open file description (fcntl F_DUPFD_CLOEXEC), checked to be the same file. */
  dup(fd: number): number {
    const again = this.ctx.track(this.ctx.setup(this.#fcntl(fd, C.F_DUPFD_CLOEXEC, 0), 'fcntl(F_DUPFD_CLOEXEC)'))
    this.ctx.verify(this.sameFile(fd, again), () => `F_DUPFD_CLOEXEC of fd ${fd} gave fd ${again}, another file`)
    return again
  }

  /**
   * A regular file on a filesystem that is not tmpfs (the temporary directory, the user's home or the
   * working directory, whichever comes first), opened read-write and removed when the clause ends.
   */
  regularFile(): number {
    const tried: string[] = []
    for (const dir of [tmpdir(), homedir(), process.cwd()]) {
      const type = fsType(dir)
      if (type === null || type === TMPFS_MAGIC) {
        tried.push(`${dir} (${type === null ? 'missing' : 'tmpfs'})`)
        continue
      }
      try {
        const where = mkdtempSync(join(dir, 'memseal-'))
        this.ctx.defer(() => rmSync(where, { recursive: true, force: true }))
        return this.open(join(where, 'regular'), fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o600)
      } catch (err) {
        tried.push(`${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
      }
    }
    throw new SetupError(`no writable directory outside tmpfs for a regular file: ${tried.join(', ')}`)
  }

  /** A file created by open(2) on a tmpfs mount (/dev/shm, or any writable tmpfs in /proc/self/mounts). */
  tmpfsFile(): number {
    const mounts = (() => {
      try {
        return readFileSync('/proc/self/mounts', 'utf8')
          .split('\n')
          .map((l) => l.split(' '))
          .filter((f) => f[2] === 'tmpfs')
          .map((f) => f[1]!)
      } catch {
        return []
      }
    })()
    const candidates = ['/dev/shm', ...mounts].filter((d, i, all) => all.indexOf(d) === i)
    for (const dir of candidates) {
      if (!existsSync(dir) || fsType(dir) !== TMPFS_MAGIC) continue
      const path = join(dir, `memseal-${process.pid}-${Math.random().toString(36).slice(2)}`)
      const fd = errnoOf(() => openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o600))
      if (fd < 0) continue // read-only or full: try the next tmpfs mount
      this.ctx.track(fd)
      unlinkSync(path)
      return fd
    }
    throw new SetupError(`no writable tmpfs mount (tried ${candidates.join(', ') || 'none'})`)
  }

  /** A FIFO (a pipe in the kernel) opened O_RDWR, which Linux allows without blocking. */
  fifo(): number {
    const where = mkdtempSync(join(tmpdir(), 'memseal-'))
    this.ctx.defer(() => rmSync(where, { recursive: true, force: true }))
    const path = join(where, 'fifo')
    try {
      execFileSync('mkfifo', [path], { stdio: 'ignore' })
    } catch (err) {
      throw new SetupError(`mkfifo failed: ${(err as Error).message}`)
    }
    const fd = this.open(path, fsc.O_RDWR)
    this.ctx.verify(fstatSync(fd).isFIFO(), () => 'mkfifo did not make a FIFO')
    return fd
  }

  // ── facts: read state; a failure to read is a setup failure ──────────────────────────────────────

  /** [st_dev, st_ino, st_size, st_mode] through fstat(2). */
  stat(fd: number): Float64Array {
    const out = new Float64Array(4)
    this.ctx.setup(this.ctx.sys('fstat', [], native.fstat(fd, out)), `fstat(${fd})`)
    return out
  }

  size(fd: number): number {
    return this.stat(fd)[2]!
  }

  /** The permission bits as 4-digit octal text: '0666'. */
  mode(fd: number): string {
    return octal(this.stat(fd)[3]!)
  }

  /** F_GET_SEALS that must succeed. */
  seals(fd: number): number {
    return this.ctx.setup(this.#fcntl(fd, C.F_GET_SEALS, 0), 'fcntl(F_GET_SEALS)')
  }

  /** The descriptor flags (fcntl F_GETFD: FD_CLOEXEC) that must be readable. */
  fdFlags(fd: number): number {
    return this.ctx.setup(this.#fcntl(fd, C.F_GETFD, 0), 'fcntl(F_GETFD)')
  }

  /** The file status flags and access mode (fcntl F_GETFL) that must be readable. */
  statusFlags(fd: number): number {
    return this.ctx.setup(this.#fcntl(fd, C.F_GETFL, 0), 'fcntl(F_GETFL)')
  }

  /** st_blksize: the huge page size of a hugetlbfs file. */
  blksize(fd: number): number {
    const r = errnoOf(() => fstatSync(fd).blksize)
    return this.ctx.setup(this.ctx.sys('fstat', [], r), `fstat(${fd})`)
  }

  /** Bytes of storage the file holds (st_blocks × 512): what fallocate(2) allocates, whatever the size says. */
  allocated(fd: number): number {
    const r = errnoOf(() => fstatSync(fd).blocks)
    return this.ctx.setup(this.ctx.sys('fstat', [], r), `fstat(${fd})`) * 512
  }

  /** Whether the file is on hugetlbfs (statfs of its /proc/self/fd link). */
  onHugetlbfs(fd: number): boolean {
    return fsType(`/proc/self/fd/${fd}`) === HUGETLBFS_MAGIC
  }

  /** The /proc/self/fd link target: '/memfd:name (deleted)'. */
  link(fd: number): string {
    const r = errnoOf(() => readlinkSync(`/proc/self/fd/${fd}`))
    if (typeof r === 'number') throw new SetupError(`readlink(/proc/self/fd/${fd}) failed: ${errnoName(r)}`)
    return r
  }

  /** pread of `length` bytes at `offset` that must succeed (fewer at end of file). */
  read(fd: number, offset: number, length: number): Buffer {
    const buf = Buffer.alloc(length)
    const n = errnoOf(() => readSync(fd, buf, 0, length, offset))
    this.ctx.setup(this.ctx.sys('pread64', [offset], n), `pread(${length} bytes at ${offset})`)
    return buf.subarray(0, n)
  }

  /** One byte at `offset` that must be there. */
  byteAt(fd: number, offset: number): number {
    const b = this.read(fd, offset, 1)
    if (b.length !== 1) throw new SetupError(`pread(1 byte at ${offset}) read nothing`)
    return b[0]!
  }

  /** The file offset of fd (from /proc/self/fdinfo): where write(2) without a position writes. */
  offset(fd: number): number {
    const m = /^pos:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
    if (!m) throw new SetupError(`no pos in /proc/self/fdinfo/${fd}`)
    return Number(m[1])
  }

  /** Whether two fds refer to the same file (st_dev and st_ino). */
  sameFile(a: number, b: number): boolean {
    const [sa, sb] = [this.stat(a), this.stat(b)]
    return sa[0] === sb[0] && sa[1] === sb[1]
  }

  // ── the calls under test ─────────────────────────────────────────────────────────────────────────

  attempts(): FileAttempts {
    return {
      memfdCreate: (name, flags) => {
        const fd = this.ctx.track(this.#memfdCreate(name, flags))
        return fd < 0 ? { obs: outcome(fd), fd: null } : { obs: memfdObservation(fd), fd }
      },
      getSeals: (fd): Observation => {
        const r = this.#fcntl(fd, C.F_GET_SEALS, 0)
        return r >= 0 ? { seals: r } : { errno: errnoName(r) }
      },
      addSeals: (fd, bits) => ({ ...outcome(this.#fcntl(fd, C.F_ADD_SEALS, bits)), seals: this.#sealsOrErrno(fd) }),
      ftruncate: (fd, length) => ({ ...outcome(this.#ftruncate(fd, length)), size: this.size(fd) }),
      truncate: (fd, length) => {
        const r = errnoOf(() => truncateSync(`/proc/self/fd/${fd}`, length))
        return { ...outcome(this.ctx.sys('truncate', [length], r ?? 0)), size: this.size(fd) }
      },
      openTrunc: (fd, flags) => {
        const r = errnoOf(() => openSync(`/proc/self/fd/${fd}`, flags | O_TRUNC))
        this.ctx.track(this.ctx.sys('openat', [flags | O_TRUNC], r))
        return { ...outcome(r < 0 ? r : 0), size: this.size(fd) }
      },
      write: (fd, n, position) => this.#write(fd, n, position),
      fallocate: (fd, mode, offset, length) => {
        const punch = (mode & C.FALLOC_FL_PUNCH_HOLE) !== 0
        const r = this.ctx.sys('fallocate', [mode, offset, length], native.fallocate(fd, mode, offset, length))
        const obs: Observation = { ...outcome(r), size: this.size(fd) }
        if (punch) obs.data = rangeState(this.read(fd, offset, length), 0)
        return obs
      },
      chmod: (fd, mode) => ({ ...outcome(this.#fchmod(fd, mode)), mode: this.mode(fd) }),
      open: (path, flags) => {
        const fd = errnoOf(() => openSync(path, flags))
        this.ctx.sys('openat', [flags], fd)
        return fd < 0 ? { obs: outcome(fd), fd: null } : { obs: { ret: 0 }, fd: this.ctx.track(fd) }
      },
    }
  }

  // ── the recorded system calls themselves ─────────────────────────────────────────────────────────

  #memfdCreate(name: string | Buffer | null | number, flags: number): number {
    return this.ctx.sys('memfd_create', [flags], native.memfdCreate(name, flags))
  }

  #fcntl(fd: number, cmd: number, arg: number | bigint): number {
    return this.ctx.sys('fcntl', [cmd, Number(arg)], native.fcntl(fd, cmd, arg))
  }

  #ftruncate(fd: number, length: number): number {
    return this.ctx.sys('ftruncate', [length], errnoOf(() => ftruncateSync(fd, length)) ?? 0)
  }

  #fchmod(fd: number, mode: number): number {
    return this.ctx.sys('fchmod', [mode], errnoOf(() => fchmodSync(fd, mode)) ?? 0)
  }

  #pwrite(fd: number, bytes: Buffer, offset: number): number {
    return this.ctx.sys(
      'pwrite64',
      [offset],
      errnoOf(() => writeSync(fd, bytes, 0, bytes.length, offset)),
    )
  }

  #sealsOrErrno(fd: number): Json {
    const r = this.#fcntl(fd, C.F_GET_SEALS, 0)
    return r >= 0 ? r : errnoName(r)
  }

  /**
   * The write under test. The range it targets is read first: where it already holds the pattern byte,
   * that is no evidence of a write, so a range that does is written with the next byte value instead.
   */
  #write(fd: number, n: number, position: number | undefined): Observation {
    const at = position ?? this.offset(fd)
    const before = this.read(fd, at, n)
    const byte = before.includes(PATTERN) ? (PATTERN + 1) & 0xff : PATTERN
    const buf = Buffer.alloc(n, byte)
    const r =
      position === undefined
        ? this.ctx.sys(
            'write',
            [],
            errnoOf(() => writeSync(fd, buf)),
          )
        : this.ctx.sys(
            'pwrite64',
            [position],
            errnoOf(() => writeSync(fd, buf, 0, n, position)),
          )
    const after = this.read(fd, at, n)
    let changed = 0
    for (const b of after) if (b === byte) changed++
    return { ...outcome(r), size: this.size(fd), changed }
  }

  /** Closes an fd the clause owned; one the clause closed itself is already gone. */
  closeQuietly(fd: number): void {
    try {
      closeSync(fd)
    } catch {
      // already closed by the clause itself
    }
  }
}

function fsType(path: string): number | null {
  try {
    return statfsSync(path).type
  } catch {
    return null
  }
}

/**
 * 'zero' when every byte is 0, 'kept' when none is, 'mixed' otherwise (an empty range is 'zero'). Native
 * searches (memchr, memcmp): a punched huge page is 2 MiB, which a byte loop in JavaScript takes ~30 ms on.
 */
function rangeState(bytes: Buffer, value: number): Json {
  if (bytes.length === 0) return 'zero'
  if (bytes.indexOf(value) === -1) return 'kept'
  return bytes.equals(Buffer.alloc(bytes.length, value)) ? 'zero' : 'mixed'
}
