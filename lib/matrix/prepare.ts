/**
 * Turns a kernel spec into a bootable kernel plus initramfs in the cache: fetch and unpack Debian
 * packages, or take a local image, then extract the vmlinux, pick the 9p modules and build the
 * initramfs for the given command.
 */
import { createHash } from 'node:crypto'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { homedir } from 'node:os'
import { type AptOptions } from './apt'
import { cacheSubdir } from './cache'
import { findImage, findModulesDir, prepareImage, unpackDebs } from './extract'
import { fetchKernel } from './fetch'
import { isNativeArch } from './guest-arch'
import { guestCommand, stageGuestPackage } from './guest-package'
import { buildInitramfs, readBusybox } from './initramfs'
import { resolveModules } from './modules'
import { type GuestArch, type KernelSpec, type LocalSpec } from './specs'
import { type PreparedKernel } from './types'
import { GUEST_PACKAGE_DIR, prepareUserland } from './userland'
import { bannerRelease, extractArm64Image } from './vmlinux'

export interface Prepared extends PreparedKernel {
  initrd: string
  fetchMs: number
  prepareMs: number
  arch: GuestArch
  /** The root shared as the guest's `/`: null for the host's own, else a userland root in the cache. */
  rootDir: string | null
  /** The host directory shared as the project (the project itself, or the staged guest package). */
  projectDir: string
}

/** The per-clause time limit asked of the suite in an emulated foreign-architecture guest (ms). */
export const FOREIGN_CLAUSE_TIMEOUT_MS = 120_000

export interface PrepareOptions extends AptOptions {
  cacheDir: string
  flavour: string
  refresh?: boolean
  projectDir: string
  command: string[]
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

export async function prepareKernel(spec: KernelSpec, o: PrepareOptions): Promise<Prepared> {
  const arch = o.arch as GuestArch
  if (!isNativeArch(arch)) return prepareForeignKernel(spec, arch, o)
  const t0 = Date.now()
  const { image, modulesDir, packages, workDir } = await kernelFiles(spec, o)
  const t1 = Date.now()
  o.onProgress?.('preparing vmlinux and initramfs')
  const kernel = prepareImage(image, workDir, modulesDir, packages)
  const modules = modulesDir ? resolveModules(modulesDir) : []
  const initrd = join(
    workDir,
    `initramfs-${createHash('sha256')
      .update(JSON.stringify([o.projectDir, o.command]))
      .digest('hex')
      .slice(0, 12)}.cpio`,
  )
  writeFileSync(initrd, buildInitramfs({ busybox: readBusybox(), modules, projectDir: o.projectDir, command: o.command }))
  return { ...kernel, initrd, fetchMs: t1 - t0, prepareMs: Date.now() - t1, arch, rootDir: null, projectDir: o.projectDir }
}

/** Where a kernel's packages or local image are unpacked and prepared, and what it came from. */
async function kernelFiles(spec: KernelSpec, o: PrepareOptions): Promise<{ image: string; modulesDir: string | null; packages: string[]; workDir: string }> {
  if (spec.kind === 'debian') {
    const fetched = await fetchKernel(o.cacheDir, spec, { ...o, refresh: o.refresh }, o.onProgress)
    const packages = fetched.packages.map((p) => `${p.name}=${p.version}`)
    const workDir = cacheSubdir(o.cacheDir, 'kernels', `${fetched.abi}-${o.flavour}_${fetched.packages[0]!.version}`)
    o.onProgress?.('unpacking')
    const root = await unpackDebs(fetched.debs, workDir)
    const image = findImage(root)
    if (!image) throw new Error(`${packages[0]} holds no kernel image`)
    return { image, modulesDir: findModulesDir(root), packages, workDir }
  }
  const { image, modulesDir } = localKernel(spec)
  const st = statSync(image)
  const key = createHash('sha256')
    .update(`${image}\0${st.size}\0${st.mtimeMs}\0${modulesDir ?? ''}`)
    .digest('hex')
    .slice(0, 16)
  return { image, modulesDir, packages: [], workDir: cacheSubdir(o.cacheDir, 'local', `${basename(image)}-${key}`) }
}

/**
 * A kernel of another architecture than the host's (arm64 on x86-64): its Image for qemu, a
 * Debian userland of that architecture as the guest's root, its busybox in the initramfs, and
 * the memseal package staged with that architecture's prebuild.
 */
async function prepareForeignKernel(spec: KernelSpec, arch: GuestArch, o: PrepareOptions): Promise<Prepared> {
  const t0 = Date.now()
  const { image, modulesDir, packages, workDir } = await kernelFiles(spec, o)
  const userland = await prepareUserland(
    o.cacheDir,
    arch,
    { mirror: o.mirror, securityMirror: o.securityMirror, keyring: o.keyring, refresh: o.refresh },
    o.onProgress,
  )
  const t1 = Date.now()
  o.onProgress?.(`preparing the ${arch} Image, initramfs and package`)
  const raw = join(workDir, 'Image')
  const codec = existsSync(raw) ? 'cached' : extractArm64Image(image, raw)
  const bootImage = codec === null || codec === 'none' ? image : raw
  const modules = modulesDir ? resolveModules(modulesDir) : []
  const projectDir = stageGuestPackage(o.projectDir, arch, join(workDir, 'package'))
  const command = guestCommand(o.command)
  const initrd = join(
    workDir,
    `initramfs-${arch}-${createHash('sha256')
      .update(JSON.stringify([GUEST_PACKAGE_DIR, command]))
      .digest('hex')
      .slice(0, 12)}.cpio`,
  )
  writeFileSync(
    initrd,
    buildInitramfs({
      busybox: readBusybox(userland.busybox),
      modules,
      projectDir: GUEST_PACKAGE_DIR,
      command,
      env: { MEMSEAL_CLAUSE_TIMEOUT_MS: String(FOREIGN_CLAUSE_TIMEOUT_MS) },
    }),
  )
  return {
    image: bootImage,
    imageNote: codec === null ? `no ${arch} Image could be extracted from ${basename(image)}; booted it as it is` : null,
    release: bannerRelease(bootImage) ?? (modulesDir ? basename(modulesDir) : null),
    modulesDir,
    packages: [...packages, ...userland.packages.filter((p) => /^(nodejs|util-linux)=/.test(p))],
    initrd,
    fetchMs: t1 - t0,
    prepareMs: Date.now() - t1,
    arch,
    rootDir: userland.root,
    projectDir,
  }
}
