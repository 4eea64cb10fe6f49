/**
 * Chooses the Debian packages for a kernel spec (the newest image of the series in its suites) and
 * downloads them into the cache. Packages already downloaded are reused.
 */
import { join } from 'node:path'
import { AptOptions, AptRoot, PackageInfo } from './apt'
import { cacheSubdir } from './cache'
import { compareDebianVersions } from './debversion'
import { abiInSeries, DebianSpec, imagePackageAbi, imageSearchPattern } from './specs'

export interface KernelPackages {
  abi: string
  /** The image package first, then the modules package when Debian splits them (7.x). */
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
    const modulesName = `linux-modules-${chosen.abi}-${flavour}`
    const [modules] = await apt.show([modulesName])
    if (!modules) throw new Error(`${newest.name} has no ${modulesName} beside it`)
    packages.push(modules)
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
    onProgress(`downloading ${pkg.name} ${pkg.version} (${(pkg.size / 1e6).toFixed(0)} MB)`)
    await apt.download(pkg, dest)
    debs.push(dest)
  }
  return { ...resolved, debs }
}
