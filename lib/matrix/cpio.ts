/**
 * The "newc" cpio format the kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
 * buffer-format.rst): a 110-byte ASCII header per entry, the NUL-terminated name and the data, each
 * padded to 4 bytes, closed by `TRAILER!!!`. Written here so that building an initramfs needs no
 * root and no cpio binary; device nodes such as /dev/console are plain header fields.
 */

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer | string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000
const TRAILER = 'TRAILER!!!'

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

function record(ino: number, mode: number, name: string, data: Buffer, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8')
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0]
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'latin1')
  return Buffer.concat([header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length))])
}

/** Serialises entries in the order given (parents before children), then the trailer. */
export function writeCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '')
    switch (e.type) {
      case 'dir':
        parts.push(record(ino++, S_IFDIR | (e.mode ?? 0o755), path, Buffer.alloc(0)))
        break
      case 'file':
        parts.push(record(ino++, S_IFREG | (e.mode ?? 0o644), path, Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data)))
        break
      case 'symlink':
        parts.push(record(ino++, S_IFLNK | 0o777, path, Buffer.from(e.target)))
        break
      case 'char':
        parts.push(record(ino++, S_IFCHR | (e.mode ?? 0o600), path, Buffer.alloc(0), [e.major, e.minor]))
        break
    }
  }
  parts.push(record(0, 0, TRAILER, Buffer.alloc(0)))
  return Buffer.concat(parts)
}

export interface CpioMember {
  path: string
  mode: number
  data: Buffer
  rdev: [number, number]
}

/** Parses a newc archive (used by tests to check what an initramfs holds). */
export function readCpio(archive: Buffer): CpioMember[] {
  const members: CpioMember[] = []
  let at = 0
  for (;;) {
    const magic = archive.toString('latin1', at, at + 6)
    if (magic !== '070701') throw new Error(`bad cpio magic at ${at}: ${JSON.stringify(magic)}`)
    const field = (i: number): number => parseInt(archive.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16)
    const mode = field(1)
    const size = field(6)
    const rdev: [number, number] = [field(9), field(10)]
    const nameSize = field(11)
    const nameStart = at + 110
    const path = archive.toString('utf8', nameStart, nameStart + nameSize - 1)
    const dataStart = nameStart + nameSize + pad4(110 + nameSize)
    if (path === TRAILER) return members
    members.push({ path, mode, data: archive.subarray(dataStart, dataStart + size), rdev })
    at = dataStart + size + pad4(size)
  }
}
