/**
 * Chooses the Debian packages for a kernel spec (the newest image of the series in its suites),
 * remembers the choice while the package lists are fresh, and downloads the packages.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type AptOptions, AptRoot, type PackageInfo } from './apt'
import { compareDebianVersions } from './debversion'
import { abiInSeries, type DebianSpec, imagePackageAbi, imageSearchPattern } from './specs'

export interface KernelPackages {
  abi: string
  /** The image package first, then the modules and base packages when Debian splits them (7.x). */
  packages: PackageInfo[]
}

/** `6.12.117+deb13` → `6.12`. */
function seriesOf(abi: string): string {
  return /^\d+\.\d+/.exec(abi)?.[0] ?? abi
}

/** Picks the newest image package of the spec's series, and its modules package when split. */
export async function resolvePackages(apt: AptRoot, spec: DebianSpec, flavour: string): Promise<KernelPackages> {
  const names = await apt.search(imageSearchPattern(flavour))
  const all = names.flatMap((name) => {
    const parsed = imagePackageAbi(name, flavour)
    return parsed ? [{ name, ...parsed }] : []
  })
  const candidates = all.filter((c) => abiInSeries(c.abi, spec.series))
  if (candidates.length === 0) {
    const offered = [...new Set(all.map((c) => seriesOf(c.abi)))].sort((a, b) => compareDebianVersions(a, b))
    throw new Error(
      `no ${flavour} kernel ${spec.series ?? ''} in Debian ${spec.suites.join(', ')}`.replace('  ', ' ') +
        (offered.length > 0 ? ` (they offer ${offered.join(', ')})` : ''),
    )
  }
  const infos = await apt.show(candidates.map((c) => c.name))
  const newest = infos.sort((a, b) => compareDebianVersions(b.version, a.version) || b.name.localeCompare(a.name))[0]
  if (!newest) throw new Error(`apt-cache knows none of ${candidates.map((c) => c.name).join(', ')}`)
  const chosen = candidates.find((c) => c.name === newest.name)!
  const packages = [newest]
  if (chosen.split) {
    // The modules, and the base package that holds modules.builtin (which modules are built in).
    const modulesName = `linux-modules-${chosen.abi}-${flavour}`
    const baseName = `linux-base-${chosen.abi}-${flavour}`
    const extra = await apt.show([modulesName, baseName])
    const modules = extra.find((p) => p.name === modulesName)
    if (!modules) throw new Error(`${newest.name} has no ${modulesName} beside it`)
    packages.push(...extra)
  }
  return { abi: chosen.abi, packages }
}

/** A resolution remembered in the cache, valid until the suites' lists are fetched again. */
interface Remembered extends KernelPackages {
  listsFetchedAt: number
}

function rememberedPath(apt: AptRoot, spec: DebianSpec, flavour: string): string {
  return join(apt.archDir, 'resolved', `${spec.suites.join('+')}_${spec.series ?? 'newest'}_${flavour}.json`)
}

/**
 * Which packages make the spec's kernel. While the suites' lists are fresh, the answer found when
 * they were fetched is reused without running apt: a warm cache boots without reading a package list.
 */
export async function resolveKernel(
  cacheDir: string,
  spec: DebianSpec,
  options: AptOptions & { flavour: string; refresh?: boolean },
  onProgress: (message: string) => void = () => {},
): Promise<{ apt: AptRoot; resolved: KernelPackages }> {
  const apt = new AptRoot(cacheDir, spec.suites, options)
  const memo = rememberedPath(apt, spec, options.flavour)
  const fetchedAt = apt.listsFetchedAt()
  if (!options.refresh && fetchedAt !== null && existsSync(memo)) {
    try {
      const r = JSON.parse(readFileSync(memo, 'utf8')) as Remembered
      if (r.listsFetchedAt === fetchedAt) return { apt, resolved: { abi: r.abi, packages: r.packages } }
    } catch {
      // A damaged memo is resolved again below.
    }
  }
  onProgress(`reading Debian ${spec.suites.join(', ')} package lists`)
  await apt.update(options.refresh ?? false)
  const resolved = await resolvePackages(apt, spec, options.flavour)
  mkdirSync(join(apt.archDir, 'resolved'), { recursive: true })
  const remembered: Remembered = { ...resolved, listsFetchedAt: apt.listsFetchedAt() ?? 0 }
  writeFileSync(memo, `${JSON.stringify(remembered, null, 2)}\n`)
  return { apt, resolved }
}

/** Downloads packages into `dir` (kept only until they are unpacked); `onProgress` hears what arrives. */
export async function downloadPackages(
  apt: AptRoot,
  packages: PackageInfo[],
  dir: string,
  onProgress: (message: string) => void = () => {},
): Promise<string[]> {
  mkdirSync(dir, { recursive: true })
  const debs: string[] = []
  for (const pkg of packages) {
    const dest = join(dir, `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}.deb`)
    const size = `${(pkg.size / 1e6).toFixed(pkg.size < 1e7 ? 1 : 0)} MB`
    onProgress(`downloading ${pkg.name} ${pkg.version} (${size})`)
    await apt.download(pkg, dest, (bytes) => bytes > 0 && onProgress(`downloading ${pkg.name}: ${(bytes / 1e6).toFixed(0)} of ${size}`))
    debs.push(dest)
  }
  return debs
}
