/**
 * The kernel modules a guest needs to mount the host's root over virtio-9p, in load order.
 * Which of them are modules and which are built in differs per kernel (5.10 has no netfs, 6.12
 * builds virtio in, 7.x keeps 9p as modules), so nothing is hard-coded per version: the order
 * comes from each module's own `depends=` field (.modinfo) and `modules.builtin`, as depmod
 * would compute it. Compressed modules (.ko.xz, .ko.zst) are decompressed on the host, since
 * busybox insmod loads plain .ko files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { spawnSync } from 'node:child_process'

/** What the guest's /init needs: PCI transport for virtio, and the 9p filesystem over it. */
export const NEEDED_MODULES = ['virtio_pci', '9pnet_virtio', '9p'] as const

export interface ModuleFile {
  name: string
  /** The module's bytes, decompressed. */
  data: Buffer
}

/** Module names compare with `-` and `_` as the same character, as modprobe does. */
export function canonicalModuleName(name: string): string {
  return name.replace(/-/g, '_')
}

export function moduleNameOfPath(path: string): string {
  return canonicalModuleName(basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, ''))
}

/** Every module file below `modulesDir/kernel` (and `updates`), keyed by canonical name. */
export function indexModules(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (/\.ko(\.(xz|zst|gz))?$/.test(entry.name)) index.set(moduleNameOfPath(path), path)
    }
  }
  for (const sub of ['kernel', 'updates', 'extra']) {
    if (existsSync(join(modulesDir, sub))) walk(join(modulesDir, sub))
  }
  return index
}

/** Names listed in `modules.builtin`, i.e. compiled into the kernel. */
export function builtinModules(modulesDir: string): Set<string> {
  const file = join(modulesDir, 'modules.builtin')
  return existsSync(file) ? parseBuiltin(readFileSync(file, 'utf8')) : new Set()
}

/** Decompresses a module's bytes (.ko.xz/.ko.zst/.ko.gz, by the file name) with the host's tools. */
export function decompressModule(path: string, data: Buffer): Buffer {
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : path.endsWith('.gz') ? 'gzip' : null
  if (tool === null) return data
  const r = spawnSync(tool, ['-dc'], { input: data, maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`${tool} -dc ${path}: ${r.stderr?.toString().trim() || `exit ${r.status}`}`)
  return r.stdout
}

/** Reads a module file, decompressing .ko.xz/.ko.zst/.ko.gz with the host's tools. */
export function readModule(path: string): Buffer {
  return decompressModule(path, readFileSync(path))
}

/** Module names in `modules.builtin` text. */
export function parseBuiltin(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((l) => l !== '')
      .map(moduleNameOfPath),
  )
}

/** Where the resolver finds modules: the decompressed bytes of a module by canonical name, or null. */
export interface ModuleSource {
  read(name: string): Buffer | null
  /** Names compiled into the kernel; null when the kernel came without modules.builtin. */
  builtin: Set<string> | null
  /** Where the modules come from, for error messages. */
  where: string
}

/**
 * The modules to load for `wanted`, dependencies first. A wanted name that is neither a module nor
 * built in is an error: the guest could not mount its root without it.
 */
export function resolveModuleOrder(source: ModuleSource, wanted: readonly string[] = NEEDED_MODULES): ModuleFile[] {
  const order: ModuleFile[] = []
  const seen = new Set<string>()
  const visit = (raw: string, chain: string[]): void => {
    const name = canonicalModuleName(raw)
    if (seen.has(name)) return
    seen.add(name)
    const data = source.read(name)
    if (!data) {
      // Without modules.builtin (a bare local kernel), a module that is not there is taken to be built in;
      // if it is not, the guest says which mount failed.
      if (source.builtin === null || source.builtin.has(name)) return
      throw new Error(`module ${name} (needed by ${chain.join(' → ') || 'the guest init'}) is neither in ${source.where} nor built in`)
    }
    for (const dep of moduleDepends(data)) visit(dep, [...chain, name])
    order.push({ name, data })
  }
  for (const name of wanted) visit(name, [])
  return order
}

/** The `depends=` list of a module's .modinfo section. */
export function moduleDepends(data: Buffer): string[] {
  const at = data.indexOf('\0depends=')
  if (at < 0) return []
  const start = at + '\0depends='.length
  const value = data.toString('latin1', start, data.indexOf(0, start))
  return value
    .split(',')
    .filter((d) => d !== '')
    .map(canonicalModuleName)
}

/** resolveModuleOrder over an unpacked `lib/modules/<release>` directory. */
export function resolveModules(modulesDir: string, wanted: readonly string[] = NEEDED_MODULES): ModuleFile[] {
  const index = indexModules(modulesDir)
  const source: ModuleSource = {
    read: (name) => {
      const path = index.get(name)
      return path ? readModule(path) : null
    },
    builtin: existsSync(join(modulesDir, 'modules.builtin')) ? builtinModules(modulesDir) : null,
    where: modulesDir,
  }
  return resolveModuleOrder(source, wanted)
}
