/**
 * Turns a kernel spec into a bootable kernel plus initramfs in the cache: fetch and unpack Debian
 * packages, or take a local image, then extract the vmlinux, pick the 9p modules and build the
 * initramfs for the given command.
 */
import { createHash } from 'node:crypto'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { homedir } from 'node:os'
import { AptOptions } from './apt'
import { cacheSubdir } from './cache'
import { findImage, findModulesDir, prepareImage, unpackDebs } from './extract'
import { fetchKernel } from './fetch'
import { buildInitramfs, readBusybox } from './initramfs'
import { resolveModules } from './modules'
import { KernelSpec, LocalSpec } from './specs'
import { PreparedKernel } from './types'

export interface Prepared extends PreparedKernel {
  initrd: string
  fetchMs: number
  prepareMs: number
}

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
  const t0 = Date.now()
  let image: string
  let modulesDir: string | null
  let packages: string[] = []
  let workDir: string
  if (spec.kind === 'debian') {
    const fetched = await fetchKernel(o.cacheDir, spec, { ...o, refresh: o.refresh }, o.onProgress)
    packages = fetched.packages.map((p) => `${p.name}=${p.version}`)
    workDir = cacheSubdir(o.cacheDir, 'kernels', `${fetched.abi}-${o.flavour}_${fetched.packages[0].version}`)
    o.onProgress?.('unpacking')
    const root = await unpackDebs(fetched.debs, workDir)
    const found = findImage(root)
    if (!found) throw new Error(`${packages[0]} holds no kernel image`)
    image = found
    modulesDir = findModulesDir(root)
  } else {
    ;({ image, modulesDir } = localKernel(spec))
    // Keyed by path, size and mtime so that a rebuilt or truncated image is extracted afresh.
    const st = statSync(image)
    const key = createHash('sha256').update(`${image}\0${st.size}\0${st.mtimeMs}\0${modulesDir ?? ''}`).digest('hex').slice(0, 16)
    workDir = cacheSubdir(o.cacheDir, 'local', `${basename(image)}-${key}`)
  }
  const t1 = Date.now()
  o.onProgress?.('preparing vmlinux and initramfs')
  const kernel = prepareImage(image, workDir, modulesDir, packages)
  const modules = modulesDir ? resolveModules(modulesDir) : []
  const initrd = join(workDir, `initramfs-${createHash('sha256').update(JSON.stringify([o.projectDir, o.command])).digest('hex').slice(0, 12)}.cpio`)
  writeFileSync(initrd, buildInitramfs({ busybox: readBusybox(), modules, projectDir: o.projectDir, command: o.command }))
  return { ...kernel, initrd, fetchMs: t1 - t0, prepareMs: Date.now() - t1 }
}

