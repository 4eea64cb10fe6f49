/**
 * Extracts the ELF vmlinux from a compressed kernel image (bzImage/vmlinuz), the way the kernel's
 * scripts/extract-vmlinux does: find a compressed payload by its magic, decompress it with the
 * matching tool, and keep the first result that is an ELF file. Debian's kernels compress with
 * xz (5.10, 6.1), zstd (6.12, 7.x) or lz4 (cloud flavour). Booting the ELF directly uses PVH,
 * which is faster under qemu than the bzImage's own decompressor.
 */
import { closeSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs'
import { runSync } from './exec'

interface Codec {
  name: string
  magic: Buffer
  command: string
  args: string[]
}

const CODECS: Codec[] = [
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), command: 'xz', args: ['-dc'] },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), command: 'zstd', args: ['-dcq'] },
  { name: 'lz4', magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]), command: 'lz4', args: ['-dc'] },
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b, 0x08]), command: 'gzip', args: ['-dc'] },
]

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46])

/**
 * Whether a file is a whole 64-bit ELF file: the magic, and section headers (which the linker puts
 * last) that end inside the file. A payload cut short still starts with the magic; this catches it.
 */
export function isCompleteElf(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    const head = Buffer.alloc(64)
    if (readSync(fd, head, 0, 64, 0) !== 64 || !head.subarray(0, 4).equals(ELF_MAGIC) || head[4] !== 2) return false
    const shoff = Number(head.readBigUInt64LE(0x28))
    const end = shoff + head.readUInt16LE(0x3a) * head.readUInt16LE(0x3c)
    return end <= statSync(path).size
  } finally {
    closeSync(fd)
  }
}

/**
 * Decompresses `input` with `codec` into `dest` (through `dest.partial`) if what comes out passes
 * `accept`, judged on the file; otherwise leaves nothing behind. The tool's exit status is not consulted.
 */
function decompressTo(codec: Codec, input: Buffer, dest: string, accept: (path: string) => boolean): boolean {
  const tmp = `${dest}.partial`
  const out = openSync(tmp, 'w')
  try {
    runSync(codec.command, codec.args, { input, stdio: ['pipe', out, 'ignore'], maxBuffer: 1 << 30 })
  } finally {
    closeSync(out)
  }
  if (accept(tmp)) {
    renameSync(tmp, dest)
    return true
  }
  rmSync(tmp, { force: true })
  return false
}

/** The first `n` bytes of a file (fewer if it is shorter; the rest zero). */
function readHead(path: string, n: number): Buffer {
  const head = Buffer.alloc(n)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, head, 0, n, 0)
  } finally {
    closeSync(fd)
  }
  return head
}

/**
 * Writes the vmlinux inside `image` to `dest` and returns the codec that held it, `none` when the
 * image already is an ELF file, or null when no payload decompresses to a whole ELF file (a
 * truncated or foreign image).
 */
export function extractVmlinux(image: string, dest: string): string | null {
  const data = readFileSync(image)
  if (data.subarray(0, 4).equals(ELF_MAGIC)) return 'none'
  for (const codec of CODECS) {
    for (let at = data.indexOf(codec.magic); at >= 0; at = data.indexOf(codec.magic, at + 1)) {
      // The payload is followed by the rest of the image; decompressors complain about that trailing
      // data, so the exit status is ignored and the output judged by being a whole ELF file.
      if (decompressTo(codec, data.subarray(at), dest, isCompleteElf)) return codec.name
    }
  }
  return null
}

/** The version string a bzImage carries in its setup header (`6.1.0-44-amd64 (…) #1 SMP …`). */
export function bzImageRelease(image: string): string | null {
  const data = readFileSync(image)
  if (data.length < 0x210 || data.toString('latin1', 0x202, 0x206) !== 'HdrS') return null
  const offset = data.readUInt16LE(0x20e) + 0x200
  const end = data.indexOf(0, offset)
  if (end < 0) return null
  const text = data.toString('latin1', offset, end)
  return /^\S+/.exec(text)?.[0] ?? null
}

/** An arm64 `Image` carries `ARM\x64` at offset 0x38 (Documentation/arch/arm64/booting.rst). */
export function isArm64Image(data: Buffer): boolean {
  return data.length >= 0x40 && data.readUInt32LE(0x38) === 0x644d5241
}

/**
 * Writes the raw arm64 Image inside `image` (a gzip'ed `Image.gz`, or any codec above) to `dest`
 * and returns the codec it was held in (`none` when it already is an Image, as Debian's arm64
 * vmlinuz is: an EFI-stub Image), or null when no Image comes out of it (then qemu gets the file
 * as it is).
 */
export function extractArm64Image(image: string, dest: string): string | null {
  const data = readFileSync(image)
  if (isArm64Image(data)) return 'none'
  for (const codec of CODECS) {
    if (!data.subarray(0, codec.magic.length).equals(codec.magic)) continue
    if (decompressTo(codec, data, dest, (path) => isArm64Image(readHead(path, 0x40)))) return codec.name
  }
  return null
}

/** The release in a kernel's `Linux version 6.1.0-44-arm64 (…)` banner, for images without a setup header. */
export function bannerRelease(image: string): string | null {
  const data = readFileSync(image)
  const at = data.indexOf('Linux version ')
  if (at < 0) return null
  return /^Linux version (\S+)/.exec(data.toString('latin1', at, at + 200))?.[1] ?? null
}
