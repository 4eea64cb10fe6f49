/**
 * A Debian kernel in the cache holds only what a guest needs: the image qemu boots (the ELF vmlinux
 * for x86-64, the raw Image for arm64), the few modules the guest's /init loads to mount its root
 * over virtio-9p (decompressed, in load order), and kernel.json saying what it came from. The
 * packages are streamed through once (tar.ts) and deleted; nothing else of them is ever written.
 *
 *   kernels/<abi>-<flavour>_<version>/
 *     kernel.json           packages, release, image, modules in load order
 *     vmlinux | Image       what qemu boots (vmlinuz when nothing could be extracted from it)
 *     modules/<name>.ko     the 9p modules and their dependencies
 *     initramfs-*.cpio      one per guest command (rebuilt in milliseconds when missing)
 *     used                  touched at each boot, for `memseal cache --prune`
 */
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { type GuestArch } from './specs'
import { canonicalModuleName, decompressModule, type ModuleFile, moduleNameOfPath, NEEDED_MODULES, parseBuiltin, resolveModuleOrder } from './modules'
import { readDebMembers, type TarMember } from './tar'
import { bannerRelease, bzImageRelease, extractArm64Image, extractVmlinux, isCompleteElf } from './vmlinux'

export const ENTRY_FILE = 'kernel.json'
const ENTRY_FORMAT = 2

export interface KernelEntry {
  format: number
  arch: GuestArch
  /** `name=version` of the packages it came from. */
  packages: string[]
  release: string | null
  /** The file in the entry's directory that qemu boots. */
  image: string
  imageNote: string | null
  /** Module names in load order; each is `modules/<name>.ko`. */
  modules: string[]
}

/** The entry in `dir` if it is complete and made from exactly `packages`. */
export function readEntry(dir: string, packages: string[]): KernelEntry | null {
  try {
    const entry = JSON.parse(readFileSync(join(dir, ENTRY_FILE), 'utf8')) as KernelEntry
    if (entry.format !== ENTRY_FORMAT || entry.packages.join('\n') !== packages.join('\n')) return null
    if (!existsSync(join(dir, entry.image)) || entry.modules.some((m) => !existsSync(join(dir, 'modules', `${m}.ko`)))) return null
    return entry
  } catch {
    return null
  }
}

export function entryModules(dir: string, entry: KernelEntry): ModuleFile[] {
  return entry.modules.map((name) => ({ name, data: readFileSync(join(dir, 'modules', `${name}.ko`)) }))
}

/** Marks an entry as used now (its directory's `used` file), for pruning by age. */
export function touchEntry(dir: string): void {
  const stamp = join(dir, 'used')
  const now = new Date()
  if (existsSync(stamp)) utimesSync(stamp, now, now)
  else writeFileSync(stamp, '')
}

/** A compressed kernel image: `boot/vmlinuz-<release>`, or from 7.x `usr/lib/modules/<release>/vmlinuz`. */
export function isImagePath(path: string): boolean {
  return /^boot\/(vmlinuz|vmlinux|bzImage)-[^/]+$/.test(path) || /^(usr\/)?lib\/modules\/[^/]+\/(vmlinuz|vmlinux|Image)[^/]*$/.test(path)
}

const MODULE_RE = /^(usr\/)?lib\/modules\/[^/]+\/(kernel|updates|extra)\/.+\.ko(\.(xz|zst|gz))?$/
const BUILTIN_RE = /^(usr\/)?lib\/modules\/[^/]+\/modules\.builtin$/

/**
 * Directories whose modules are kept on the first pass: the 9p transport and file system and what
 * they have needed in Debian's kernels so far. A dependency elsewhere costs a second pass.
 */
const LIKELY_DIRS = /\/kernel\/(fs\/9p|net\/9p|fs\/netfs|fs\/fscache|drivers\/virtio)\//

interface Found {
  image: { deb: string; member: TarMember; data: Buffer } | null
  builtin: Set<string> | null
  /** Every module in the packages: canonical name → its deb and path. */
  modules: Map<string, { deb: string; path: string }>
  kept: Map<string, Buffer>
}

async function scan(debs: string[], wantModule: (path: string) => boolean, found: Found): Promise<void> {
  for (const deb of debs) {
    const { data } = await readDebMembers(deb, (m) => {
      if (m.type !== 'file') return false
      if (isImagePath(m.path)) return true
      if (BUILTIN_RE.test(m.path)) return true
      if (MODULE_RE.test(m.path)) {
        found.modules.set(moduleNameOfPath(m.path), { deb, path: m.path })
        return wantModule(m.path)
      }
      return false
    })
    for (const [path, bytes] of data) {
      if (isImagePath(path)) {
        if (!found.image) found.image = { deb, member: { path, type: 'file', size: bytes.length, linkname: '' }, data: bytes }
      } else if (BUILTIN_RE.test(path)) {
        found.builtin = parseBuiltin(bytes.toString('utf8'))
      } else {
        found.kept.set(moduleNameOfPath(path), decompressModule(path, bytes))
      }
    }
  }
}

/** Thrown by the module source when a module exists in the packages but was not kept on this pass. */
class NotKept extends Error {
  constructor(readonly module: string) {
    super(`module ${module} was not kept`)
  }
}

/**
 * Streams the packages once, keeps the image and the modules the guest loads, converts the image to
 * what qemu boots fastest for `arch`, writes kernel.json, and returns the entry. `dir` is replaced.
 */
export async function unpackKernel(debs: string[], dir: string, packages: string[], arch: GuestArch): Promise<KernelEntry> {
  rmSync(join(dir, ENTRY_FILE), { force: true })
  rmSync(join(dir, 'modules'), { recursive: true, force: true })
  const found: Found = { image: null, builtin: null, modules: new Map(), kept: new Map() }
  await scan(debs, (path) => LIKELY_DIRS.test(`/${path}`), found)
  if (!found.image) throw new Error(`${packages[0] ?? basename(debs[0] ?? '')} holds no kernel image`)

  let order: ModuleFile[] | null = null
  for (let pass = 0; order === null; pass++) {
    try {
      order = resolveModuleOrder({
        read: (name) => {
          const kept = found.kept.get(name)
          if (kept) return kept
          if (found.modules.has(name)) throw new NotKept(name)
          return null
        },
        builtin: found.builtin ?? (found.modules.size > 0 ? new Set() : null),
        where: packages.join(', '),
      })
    } catch (e) {
      if (!(e instanceof NotKept) || pass > NEEDED_MODULES.length * 8) throw e
      const want = e.module
      const owner = found.modules.get(want)!
      await scan([owner.deb], (path) => canonicalModuleName(moduleNameOfPath(path)) === want, found)
    }
  }

  mkdirSync(join(dir, 'modules'), { recursive: true })
  for (const m of order) writeFileSync(join(dir, 'modules', `${m.name}.ko`), m.data)
  const compressed = join(dir, 'vmlinuz')
  writeFileSync(compressed, found.image.data)
  const { image, release, imageNote } = convertImage(compressed, dir, arch)
  if (image !== 'vmlinuz') rmSync(compressed, { force: true })
  const entry: KernelEntry = {
    format: ENTRY_FORMAT,
    arch,
    packages,
    release: release ?? /lib\/modules\/([^/]+)\//.exec(found.image.member.path)?.[1] ?? /^boot\/vmlinuz-(.+)$/.exec(found.image.member.path)?.[1] ?? null,
    image,
    imageNote,
    modules: order.map((m) => m.name),
  }
  writeFileSync(join(dir, ENTRY_FILE), `${JSON.stringify(entry, null, 2)}\n`)
  return entry
}

/** The compressed image → the ELF vmlinux (x86-64, PVH boot) or the raw Image (arm64). */
function convertImage(compressed: string, dir: string, arch: GuestArch): { image: string; release: string | null; imageNote: string | null } {
  if (arch === 'arm64') {
    const codec = extractArm64Image(compressed, join(dir, 'Image'))
    if (codec === null) return { image: 'vmlinuz', release: bannerRelease(compressed), imageNote: 'no arm64 Image could be extracted; booted it as it is' }
    const image = codec === 'none' ? 'vmlinuz' : 'Image'
    return { image, release: bannerRelease(join(dir, image)), imageNote: null }
  }
  const release = bzImageRelease(compressed)
  const codec = extractVmlinux(compressed, join(dir, 'vmlinux'))
  if (codec === null) {
    return {
      image: 'vmlinuz',
      release,
      imageNote: 'no complete vmlinux could be extracted from the image (truncated, or not a Linux kernel); booted it as it is',
    }
  }
  if (codec === 'none') {
    return { image: 'vmlinuz', release, imageNote: isCompleteElf(compressed) ? null : 'the ELF image is incomplete (truncated?)' }
  }
  return { image: 'vmlinux', release, imageNote: null }
}
