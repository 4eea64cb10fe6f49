/**
 * Chooses the Debian packages for a kernel spec (the newest image of the series in its suites) and
 * downloads them into the cache. Packages already downloaded are reused.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { type AptOptions, AptRoot, type PackageInfo } from './apt'
import { cacheSubdir } from './cache'
import { compareDebianVersions } from './debversion'
import { abiInSeries, type DebianSpec, imagePackageAbi, imageSearchPattern } from './specs'

export interface KernelPackages {
  abi: string
  /** The image package first, then the modules and base packages when Debian splits them (7.x). */
  packages: PackageInfo[]
}

export interface DownloadedKernel extends KernelPackages {
  debs: string[]
}

/** Picks the newest image package of the spec's series, and its modules package when split. */
export async function resolvePackages(apt: AptRoot, spec: DebianSpec, flavour: string): Promise<KernelPackages> {
  const names = await apt.search(imageSearchPattern(flavour))
  const candidates = names.flatMap((name) => {
    const parsed = imagePackageAbi(name, flavour)
    return parsed && abiInSeries(parsed.abi, spec.series) ? [{ name, ...parsed }] : []
  })
  if (candidates.length === 0) {
    throw new Error(`no ${flavour} kernel ${spec.series ?? ''} in Debian ${spec.suites.join(', ')}`.replace('  ', ' '))
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

/** Resolves and downloads a Debian kernel; `onProgress` hears what is being fetched. */
export async function fetchKernel(
  cacheDir: string,
  spec: DebianSpec,
  options: AptOptions & { flavour: string; refresh?: boolean },
  onProgress: (message: string) => void = () => {},
): Promise<DownloadedKernel> {
  const apt = new AptRoot(cacheDir, spec.suites, options)
  onProgress(`reading Debian ${spec.suites.join(', ')} package lists`)
  await apt.update(options.refresh ?? false)
  const resolved = await resolvePackages(apt, spec, options.flavour)
  const debDir = cacheSubdir(cacheDir, 'debs')
  const debs: string[] = []
  for (const pkg of resolved.packages) {
    const dest = join(debDir, `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}.deb`)
    const size = `${(pkg.size / 1e6).toFixed(pkg.size < 1e7 ? 1 : 0)} MB`
    onProgress(existsSync(dest) ? `using cached ${pkg.name} ${pkg.version}` : `downloading ${pkg.name} ${pkg.version} (${size})`)
    await apt.download(pkg, dest, (bytes) => bytes > 0 && onProgress(`downloading ${pkg.name}: ${(bytes / 1e6).toFixed(0)} of ${size}`))
    debs.push(dest)
  }
  return { ...resolved, debs }
}
