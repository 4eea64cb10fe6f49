/**
 * Shared pieces of the `seal.` and `mmap.` clauses: the documents they quote, and small steps that turn
 * seal and file operations into observations or fail the clause's setup.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { constants as fsc, existsSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statfsSync, unlinkSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { constants as C, native } from '../../native'
import { type Ctx, SetupError, outcome } from '../ctx'
import type { Observation, Source } from '../types'

const MAN = 'https://man7.org/linux/man-pages/man2'

/** F_ADD_SEALS(2const) (also fcntl(2), "File seals" in older man-pages). */
export function seals(section: string): Source {
  return { doc: 'F_ADD_SEALS(2const)', section, url: `${MAN}/F_ADD_SEALS.2const.html` }
}
export function man(page: string, section: string): Source {
  return { doc: `${page}(2)`, section, url: `${MAN}/${page}.2.html` }
}
export const ps = C.PAGE_SIZE
const TMPFS_MAGIC = 0x01021994

/** F_GET_SEALS as an observation: { seals } or { errno }. */
export function getOutcome(fd: number): Observation {
  const r = native.fcntl(fd, C.F_GET_SEALS)
  return r >= 0 ? { seals: r } : { errno: outcome(r).errno! }
}

/** F_ADD_SEALS as the clause's subject: { ret: 0 } or { errno }. */
export function addOutcome(fd: number, bits: number | bigint): Observation {
  return outcome(native.fcntl(fd, C.F_ADD_SEALS, bits))
}

/** F_ADD_SEALS that must succeed. */
export function addSeals(ctx: Ctx, fd: number, bits: number): void {
  ctx.setup(native.fcntl(fd, C.F_ADD_SEALS, bits), `F_ADD_SEALS(0x${bits.toString(16)})`)
}

/** F_GET_SEALS that must succeed. */
export function sealsOf(ctx: Ctx, fd: number): number {
  return ctx.setup(native.fcntl(fd, C.F_GET_SEALS), 'F_GET_SEALS')
}

/** A sealable memfd of `pages` pages, with `bits` already added. */
export function sealed(ctx: Ctx, bits: number, pages = 1): number {
  const fd = ctx.memfd()
  if (pages > 0) ctx.size(fd, pages * ps)
  if (bits !== 0) addSeals(ctx, fd, bits)
  return fd
}

/** pread of one byte that must succeed. */
export function byteAt(fd: number, offset: number): number {
  const b = Buffer.alloc(1)
  try {
    if (readSync(fd, b, 0, 1, offset) !== 1) throw new SetupError(`pread(1 byte at ${offset}) read nothing`)
  } catch (err) {
    if (err instanceof SetupError) throw err
    throw new SetupError(`pread failed: ${(err as NodeJS.ErrnoException).code}`)
  }
  return b[0]!
}

/** open(2) as the clause's subject (the fd, if any, is tracked): { ret: 0 } or { errno }. */
export function openOutcome(ctx: Ctx, path: string, flags: number): Observation {
  try {
    ctx.track(openSync(path, flags))
    return { ret: 0 }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return { errno: code }
    throw err
  }
}

/** A second fd for the same open file description (fcntl F_DUPFD_CLOEXEC, i.e. dup(2)). */
export function dup(ctx: Ctx, fd: number): number {
  return ctx.track(ctx.setup(native.fcntl(fd, C.F_DUPFD_CLOEXEC, 0), 'fcntl(F_DUPFD_CLOEXEC)'))
}

function fsType(path: string): number | null {
  try {
    return statfsSync(path).type
  } catch {
    return null
  }
}

/**
 * A regular file on a filesystem that is not tmpfs (the temporary directory, the user's home or the
 * working directory, whichever comes first), opened read-write and removed when the clause ends.
 */
export function nonShmemFile(ctx: Ctx): number {
  const tried: string[] = []
  for (const dir of [tmpdir(), homedir(), process.cwd()]) {
    const type = fsType(dir)
    if (type === null || type === TMPFS_MAGIC) {
      tried.push(`${dir} (${type === null ? 'missing' : 'tmpfs'})`)
      continue
    }
    try {
      const where = mkdtempSync(join(dir, 'memseal-'))
      ctx.defer(() => rmSync(where, { recursive: true, force: true }))
      return ctx.track(openSync(join(where, 'regular'), fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o600))
    } catch (err) {
      tried.push(`${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  throw new SetupError(`no writable directory outside tmpfs for a regular file: ${tried.join(', ')}`)
}

/** A file created by open(2) on a tmpfs mount (/dev/shm, or any writable tmpfs in /proc/self/mounts). */
export function tmpfsFile(ctx: Ctx): number {
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
    try {
      const fd = ctx.track(openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o600))
      unlinkSync(path)
      return fd
    } catch {
      // read-only or full: try the next tmpfs mount
    }
  }
  throw new SetupError(`no writable tmpfs mount (tried ${candidates.join(', ') || 'none'})`)
}

/** A FIFO (a pipe in the kernel) opened O_RDWR, which Linux allows without blocking. */
export function fifo(ctx: Ctx): number {
  const where = mkdtempSync(join(tmpdir(), 'memseal-'))
  ctx.defer(() => rmSync(where, { recursive: true, force: true }))
  const path = join(where, 'fifo')
  try {
    execFileSync('mkfifo', [path], { stdio: 'ignore' })
  } catch (err) {
    throw new SetupError(`mkfifo failed: ${(err as Error).message}`)
  }
  const fd = ctx.open(path, fsc.O_RDWR)
  if (!fstatSync(fd).isFIFO()) throw new SetupError('mkfifo did not make a FIFO')
  return fd
}

/**
 * Adds `bits` through fd 3 of a child process that inherited `fd` (fork + exec, as memfd_create(2)
 * describes), and returns the child's F_ADD_SEALS result.
 */
export function addInChild(fd: number, bits: number): number {
  const nativePath = join(__dirname, '..', '..', 'native.js')
  const script = `process.stdout.write(String(require(${JSON.stringify(nativePath)}).native.fcntl(3, ${C.F_ADD_SEALS}, ${bits})))`
  const r = spawnSync(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0 || !/^-?\d+$/.test(r.stdout)) {
    throw new SetupError(`child process failed (status ${r.status}, signal ${r.signal}): ${r.stderr.trim().split('\n')[0] ?? ''}`)
  }
  return Number(r.stdout)
}

/** The huge page size of a hugetlbfs file (its st_blksize). */
export function hugePageSize(fd: number): number {
  return fstatSync(fd).blksize
}

/** ftruncate(2) that must succeed (hugetlbfs files cannot be sized with fallocate without a pool). */
export function resize(fd: number, bytes: number): void {
  try {
    ftruncateSync(fd, bytes)
  } catch (err) {
    throw new SetupError(`ftruncate(${bytes}) failed: ${(err as NodeJS.ErrnoException).code}`)
  }
}
