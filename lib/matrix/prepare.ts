/**
 * Turns a kernel spec into a bootable kernel plus initramfs in the cache: a Debian kernel is resolved
 * (remembered while the package lists are fresh), downloaded and reduced to what a guest needs
 * (kernel-store.ts) unless the cache has it already; a local image is taken as it is, with the vmlinux
 * extracted once. Foreign-architecture kernels also get a Debian userland of their architecture.
 */
import { createHash } from 'node:crypto'
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { homedir } from 'node:os'
import { type AptOptions } from './apt'
import { cacheSubdir } from './cache'
import { findImage, findModulesDir, prepareImage } from './extract'
import { downloadPackages, resolveKernel } from './fetch'
import { isNativeArch } from './guest-arch'
import { buildInitramfs, readBusybox } from './initramfs'
import { entryModules, readEntry, touchEntry, unpackKernel } from './kernel-store'
import { type ModuleFile, resolveModules } from './modules'
import { type GuestArch, type KernelSpec, type LocalSpec } from './specs'
import { prepareUserland } from './userland'
import { bannerRelease, extractArm64Image } from './vmlinux'

/** A kernel ready to boot. */
export interface Prepared {
  arch: GuestArch
  /** What qemu boots: the ELF vmlinux (x86-64), the raw Image (arm64), or the image as it came. */
  image: string
  /** Why the image is booted as it is, when nothing better could be extracted from it. */
  imageNote: string | null
  /** The kernel release (`uname -r` inside the guest), when known before booting. */
  release: string | null
  /** Debian packages it came from, `name=version`. */
  packages: string[]
  initrd: string
  /** The root shared as the guest's `/`: null for the host's own, else a userland root in the cache. */
  rootDir: string | null
  /** The kernel's directory in the cache. */
  dir: string
  fetchMs: number
  prepareMs: number
}

export interface PrepareOptions extends AptOptions {
  cacheDir: string
  flavour: string
  refresh?: boolean
  onProgress?: (message: string) => void
}

function expandHome(p: string): string {
  return p.startsWith('~/') ? join(homedir(), p.slice(2)) : p
}

/** Finds image and modules for a local spec: a file, or an unpacked package directory. */
function localKernel(spec: LocalSpec): { image: string; modulesDir: string | null } {
  const given = resolve(expandHome(spec.image))
  if (!existsSync(given)) throw new Error(`kernel image ${spec.image} does not exist`)
  if (statSync(given).isDirectory()) {
    const image = findImage(given)
    if (!image) throw new Error(`${spec.image} holds no boot/vmlinuz-*`)
    return { image, modulesDir: spec.modules ? resolve(expandHome(spec.modules)) : findModulesDir(given) }
  }
  return { image: given, modulesDir: spec.modules ? resolve(expandHome(spec.modules)) : null }
}

/** The initramfs for a busybox and module set, made once per kernel directory. */
function initramfsFor(dir: string, busybox: Buffer, modules: ModuleFile[]): string {
  const key = createHash('sha256').update(busybox)
  for (const m of modules) key.update(m.name).update(m.data)
  const path = join(dir, `initramfs-${key.digest('hex').slice(0, 12)}.cpio`)
  if (!existsSync(path)) writeFileSync(path, buildInitramfs({ busybox, modules }))
  return path
}

interface KernelFiles {
  dir: string
  image: string
  imageNote: string | null
  release: string | null
  modules: ModuleFile[]
  packages: string[]
}

/** A Debian kernel: from the cache when it is there, else downloaded and reduced to what a guest needs. */
async function debianKernel(spec: KernelSpec & { kind: 'debian' }, arch: GuestArch, o: PrepareOptions): Promise<KernelFiles> {
  const say = o.onProgress ?? (() => {})
  const { apt, resolved } = await resolveKernel(o.cacheDir, spec, { ...o, refresh: o.refresh }, say)
  const packages = resolved.packages.map((p) => `${p.name}=${p.version}`)
  const dir = cacheSubdir(o.cacheDir, 'kernels', `${resolved.abi}-${o.flavour}_${resolved.packages[0]!.version}`)
  let entry = readEntry(dir, packages)
  if (!entry) {
    const downloads = join(dir, 'download')
    const debs = await downloadPackages(apt, resolved.packages, downloads, say)
    say('unpacking the image and the 9p modules')
    try {
      entry = await unpackKernel(debs, dir, packages, arch)
    } finally {
      rmSync(downloads, { recursive: true, force: true })
    }
  }
  touchEntry(dir)
  return { dir, image: join(dir, entry.image), imageNote: entry.imageNote, release: entry.release, modules: entryModules(dir, entry), packages }
}

/** A kernel image the user named, with its modules directory when there is one. */
function userKernel(spec: LocalSpec, cacheDir: string): KernelFiles & { modulesDir: string | null } {
  const { image, modulesDir } = localKernel(spec)
  const st = statSync(image)
  const key = createHash('sha256')
    .update(`${image}\0${st.size}\0${st.mtimeMs}\0${modulesDir ?? ''}`)
    .digest('hex')
    .slice(0, 16)
  const dir = cacheSubdir(cacheDir, 'local', `${basename(image)}-${key}`)
  touchEntry(dir)
  return { dir, image, imageNote: null, release: null, modules: modulesDir ? resolveModules(modulesDir) : [], packages: [], modulesDir }
}

export async function prepareKernel(spec: KernelSpec, o: PrepareOptions): Promise<Prepared> {
  const arch = o.arch as GuestArch
  const t0 = Date.now()
  if (isNativeArch(arch)) {
    if (spec.kind === 'debian') {
      const k = await debianKernel(spec, arch, o)
      const t1 = Date.now()
      const initrd = initramfsFor(k.dir, readBusybox(), k.modules)
      return {
        arch,
        image: k.image,
        imageNote: k.imageNote,
        release: k.release,
        packages: k.packages,
        initrd,
        rootDir: null,
        dir: k.dir,
        fetchMs: t1 - t0,
        prepareMs: Date.now() - t1,
      }
    }
    const k = userKernel(spec, o.cacheDir)
    const t1 = Date.now()
    o.onProgress?.('preparing vmlinux and initramfs')
    const image = prepareImage(k.image, k.dir, k.modulesDir, [])
    const initrd = initramfsFor(k.dir, readBusybox(), k.modules)
    return { arch, ...image, initrd, rootDir: null, dir: k.dir, fetchMs: t1 - t0, prepareMs: Date.now() - t1 }
  }
  // Another architecture than the host's (arm64 on x86-64): its Image, a Debian userland of that
  // architecture as the guest's root, and its busybox in the initramfs.
  const k = spec.kind === 'debian' ? await debianKernel(spec, arch, o) : userKernel(spec, o.cacheDir)
  const userland = await prepareUserland(
    o.cacheDir,
    arch,
    { mirror: o.mirror, securityMirror: o.securityMirror, keyring: o.keyring, refresh: o.refresh },
    o.onProgress,
  )
  const t1 = Date.now()
  let image = k.image
  let imageNote = k.imageNote
  if (spec.kind === 'local') {
    const raw = join(k.dir, 'Image')
    const codec = existsSync(raw) ? 'cached' : extractArm64Image(k.image, raw)
    image = codec === null || codec === 'none' ? k.image : raw
    imageNote = codec === null ? `no ${arch} Image could be extracted from ${basename(k.image)}; booted it as it is` : null
  }
  const initrd = initramfsFor(k.dir, readBusybox(userland.busybox), k.modules)
  return {
    arch,
    image,
    imageNote,
    release: k.release ?? bannerRelease(image),
    packages: [...k.packages, ...userland.packages.filter((p) => /^(nodejs|util-linux)=/.test(p))],
    initrd,
    rootDir: userland.root,
    dir: k.dir,
    fetchMs: t1 - t0,
    prepareMs: Date.now() - t1,
  }
}
