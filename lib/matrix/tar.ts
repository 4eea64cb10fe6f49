/**
 * Reads a tar stream (ustar, with GNU long names and pax headers, as dpkg-deb writes them) one member
 * at a time, without writing anything to disk: the caller sees each member's path and type and keeps
 * the data of those it wants. This is how a kernel package's few needed files come out of a 400 MB
 * data.tar without unpacking the rest.
 */
import { spawn } from 'node:child_process'

export interface TarMember {
  /** The path as stored, without a leading `./`. */
  path: string
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'
  size: number
  /** The target of a symlink or hard link. */
  linkname: string
}

/** Says, from a member's header, whether its data is wanted (regular files only). */
export type TarSelect = (member: TarMember) => boolean

const BLOCK = 512

function cString(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start)
  return block.toString('utf8', start, end < 0 || end > start + length ? start + length : end)
}

function octal(block: Buffer, start: number, length: number): number {
  // GNU base-256 for sizes of 8 GiB and more: the high bit of the first byte is set.
  if ((block[start]! & 0x80) !== 0) {
    let n = 0
    for (let i = start + 1; i < start + length; i++) n = n * 256 + block[i]!
    return n
  }
  const text = cString(block, start, length).trim()
  return text === '' ? 0 : parseInt(text, 8)
}

function typeOf(flag: string): TarMember['type'] {
  if (flag === '0' || flag === '\0' || flag === '7') return 'file'
  if (flag === '5') return 'dir'
  if (flag === '2') return 'symlink'
  if (flag === '1') return 'hardlink'
  return 'other'
}

/** `path` records of a pax extended header ("LEN path=VALUE\n" …). */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {}
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space < 0) break
    const len = Number(data.toString('latin1', at, space))
    if (!Number.isInteger(len) || len <= 0) break
    const record = data.toString('utf8', space + 1, at + len - 1)
    const eq = record.indexOf('=')
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1)
    at += len
  }
  return out
}

export class TarFormatError extends Error {}

/**
 * A push parser: feed it chunks, it calls `onMember` for each member and `onData` with the whole data
 * of each selected member.
 */
export class TarParser {
  private pending: Buffer[] = []
  private pendingBytes = 0
  private state: { kind: 'header' } | { kind: 'data'; member: TarMember | null; meta: 'L' | 'K' | 'x' | null; left: number; pad: number; keep: Buffer[] } = {
    kind: 'header',
  }
  private longName: string | null = null
  private longLink: string | null = null
  private pax: Record<string, string> = {}
  ended = false

  constructor(
    private readonly select: TarSelect,
    private readonly onData: (member: TarMember, data: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    for (;;) {
      if (this.ended) return
      if (this.state.kind === 'header') {
        if (this.pendingBytes < BLOCK) return
        this.header(this.take(BLOCK))
      } else {
        const s = this.state
        if (s.left > 0) {
          if (this.pendingBytes === 0) return
          const part = this.take(Math.min(s.left, this.pendingBytes))
          s.left -= part.length
          if (s.member !== null || s.meta !== null) s.keep.push(part)
          continue
        }
        if (this.pendingBytes < s.pad) return
        this.take(s.pad)
        this.finishData(s)
        this.state = { kind: 'header' }
      }
    }
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending)
    this.pending = n < all.length ? [all.subarray(n)] : []
    this.pendingBytes = all.length - n
    return all.subarray(0, n)
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      this.ended = true
      return
    }
    const magic = block.toString('latin1', 257, 262)
    if (magic !== 'ustar') throw new TarFormatError(`not a tar header (magic ${JSON.stringify(magic)})`)
    const flag = String.fromCharCode(block[156]!)
    const size = octal(block, 124, 12)
    const pad = (BLOCK - (size % BLOCK)) % BLOCK
    if (flag === 'L' || flag === 'K' || flag === 'x') {
      this.state = { kind: 'data', member: null, meta: flag, left: size, pad, keep: [] }
      return
    }
    if (flag === 'g') {
      this.state = { kind: 'data', member: null, meta: null, left: size, pad, keep: [] }
      return
    }
    const prefix = cString(block, 345, 155)
    const name = this.pax.path ?? this.longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100))
    const member: TarMember = {
      path: name.replace(/^\.\//, '').replace(/^\/+/, ''),
      type: typeOf(flag),
      size,
      linkname: this.pax.linkpath ?? this.longLink ?? cString(block, 157, 100),
    }
    this.longName = null
    this.longLink = null
    this.pax = {}
    const wanted = this.select(member) && member.type === 'file'
    this.state = { kind: 'data', member: wanted ? member : null, meta: null, left: size, pad, keep: [] }
  }

  private finishData(s: { member: TarMember | null; meta: 'L' | 'K' | 'x' | null; keep: Buffer[] }): void {
    const data = Buffer.concat(s.keep)
    if (s.meta === 'L') this.longName = cString(data, 0, data.length)
    else if (s.meta === 'K') this.longLink = cString(data, 0, data.length)
    else if (s.meta === 'x') this.pax = paxRecords(data)
    else if (s.member) this.onData(s.member, data)
  }
}

/**
 * Streams the file system tree of a .deb (`dpkg-deb --fsys-tarfile`, which handles the ar container
 * and whichever compression the package uses) through `select`, and resolves with the data of every
 * selected member and the header of every member.
 */
export function readDebMembers(deb: string, select: TarSelect): Promise<{ members: TarMember[]; data: Map<string, Buffer> }> {
  return new Promise((resolve, reject) => {
    const members: TarMember[] = []
    const data = new Map<string, Buffer>()
    const parser = new TarParser(
      (m) => {
        members.push(m)
        return select(m)
      },
      (m, d) => data.set(m.path, d),
    )
    const child = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] })
    const err: Buffer[] = []
    let failure: Error | null = null
    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return
      try {
        parser.push(chunk)
      } catch (e) {
        failure = e as Error
        child.kill()
      }
    })
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (status) => {
      if (failure) return reject(new Error(`${deb}: ${failure.message}`))
      if (status !== 0) return reject(new Error(`dpkg-deb --fsys-tarfile ${deb} failed (exit ${status}): ${Buffer.concat(err).toString().trim()}`))
      resolve({ members, data })
    })
  })
}
