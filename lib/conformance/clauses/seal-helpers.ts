/**
 * Legacy helpers of the `mmap.` clauses, kept only until mmap.ts is converted to the Ctx operations
 * (ctx.file, ctx.mem, ctx.try); then this file goes. The `seal.` clauses use seal-common.ts and
 * seal-docs.ts, and nothing else should import from here.
 */
import { fstatSync, ftruncateSync, readSync } from 'node:fs'
import { constants as C, native } from '../../native'
import { type Ctx, SetupError } from '../ctx'
import type { Source } from '../types'

const MAN = 'https://man7.org/linux/man-pages/man2'

/** F_ADD_SEALS(2const) (also fcntl(2), "File seals" in older man-pages). */
export function seals(section: string): Source {
  return { doc: 'F_ADD_SEALS(2const)', section, url: `${MAN}/F_ADD_SEALS.2const.html` }
}
export function man(page: string, section: string): Source {
  return { doc: `${page}(2)`, section, url: `${MAN}/${page}.2.html` }
}
export const ps = C.PAGE_SIZE

/** F_ADD_SEALS that must succeed. */
export function addSeals(ctx: Ctx, fd: number, bits: number): void {
  ctx.setup(native.fcntl(fd, C.F_ADD_SEALS, bits), `F_ADD_SEALS(0x${bits.toString(16)})`)
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
