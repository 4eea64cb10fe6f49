/**
 * A Debian userland for a guest whose architecture differs from the host's (an arm64 guest on an
 * x86-64 host cannot share the host's root): Debian's packages for that architecture, unpacked
 * with `dpkg -x` into the cache and shared read-only as the guest's root. Nothing is configured
 * and nothing runs on the host; the guest only needs node, a shell, env, and util-linux's unshare
 * and setpriv for the clauses that use a private pid namespace. busybox-static of the same
 * architecture, from the same suite, becomes the initramfs's shell.
 */
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type AptOptions, AptRoot, type PackageInfo } from './apt'
import { cacheSubdir } from './cache'
import { run } from './exec'
import { type GuestArch } from './specs'

/** The suites the userland comes from: Debian 12, whose nodejs (18.20) has N-API 8 and Node >= 18.18. */
export const USERLAND_SUITES: readonly string[] = ['bookworm', 'bookworm-security']

/** What the guest command needs: node, a shell (/bin/sh) and env, unshare and setpriv. */
export const USERLAND_PACKAGES: readonly string[] = ['nodejs', 'dash', 'coreutils', 'util-linux']

/** Mount points the guest init expects to find in the (read-only) root. */
export const USERLAND_DIRS: readonly string[] = ['proc', 'sys', 'dev', 'tmp', 'run', 'var/tmp', 'root']

/** Where the guest package is mounted inside a userland root. */
export const GUEST_PACKAGE_DIR = '/opt/memseal'

export interface Userland {
  /** The unpacked root, shared as the guest's `/`. */
  root: string
  /** The statically linked busybox of the same architecture. */
  busybox: string
  /** `name=version` of every package in the root. */
  packages: string[]
}

/** Where downloaded userland packages are kept. */
function debPath(debDir: string, pkg: PackageInfo): string {
  return join(debDir, `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}_userland.deb`)
}

/**
 * Downloads and unpacks the userland for `arch` once; the root is keyed by the exact package
 * versions, so a Debian point release makes a new one and an unchanged archive reuses the old.
 */
export async function prepareUserland(
  cacheDir: string,
  arch: GuestArch,
  options: Omit<AptOptions, 'arch'> & { refresh?: boolean },
  onProgress: (message: string) => void = () => {},
): Promise<Userland> {
  const apt = new AptRoot(cacheDir, USERLAND_SUITES, { ...options, arch })
  onProgress(`reading Debian ${USERLAND_SUITES.join(', ')} ${arch} package lists`)
  await apt.update(options.refresh ?? false)
  const names = await apt.dependsClosure([...USERLAND_PACKAGES])
  const infos = await apt.show([...names, 'busybox-static'])
  const busyboxInfo = infos.find((p) => p.name === 'busybox-static')
  if (!busyboxInfo) throw new Error(`Debian ${USERLAND_SUITES[0]} has no busybox-static for ${arch}`)
  const rootPackages = infos.filter((p) => p !== busyboxInfo)
  for (const wanted of USERLAND_PACKAGES) {
    if (!rootPackages.some((p) => p.name === wanted)) throw new Error(`Debian ${USERLAND_SUITES[0]} has no ${wanted} for ${arch}`)
  }
  const debDir = cacheSubdir(cacheDir, 'debs', arch)
  const total = infos.reduce((sum, p) => sum + p.size, 0)
  const missing = infos.filter((p) => !existsSync(debPath(debDir, p)))
  if (missing.length > 0) onProgress(`downloading ${missing.length} of ${infos.length} ${arch} packages (${(total / 1e6).toFixed(0)} MB in all)`)
  for (const pkg of infos) await apt.download(pkg, debPath(debDir, pkg))

  const packages = rootPackages.map((p) => `${p.name}=${p.version}`)
  const key = createHash('sha256').update(packages.join('\n')).digest('hex').slice(0, 12)
  const dir = cacheSubdir(cacheDir, 'userland', `${USERLAND_SUITES[0]}-${arch}-${key}`)
  const root = join(dir, 'root')
  const marker = join(dir, 'unpacked')
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== `${packages.join('\n')}\n`) {
    onProgress(`unpacking ${rootPackages.length} ${arch} packages`)
    rmSync(root, { recursive: true, force: true })
    for (const pkg of rootPackages) await run('dpkg', ['-x', debPath(debDir, pkg), root])
    finishRoot(root)
    writeFileSync(marker, `${packages.join('\n')}\n`)
  }
  const bbDir = join(dir, 'busybox')
  const busybox = join(bbDir, 'bin', 'busybox')
  if (!existsSync(busybox)) {
    rmSync(bbDir, { recursive: true, force: true })
    await run('dpkg', ['-x', debPath(debDir, busyboxInfo), bbDir])
    if (!existsSync(busybox)) throw new Error(`busybox-static ${busyboxInfo.version} (${arch}) has no bin/busybox`)
  }
  return { root, busybox, packages }
}

/**
 * What the maintainer scripts would have done and the guest needs: /bin/sh (dash's postinst
 * makes it), the mount points, and the directory the guest package is mounted on. The root is
 * read-only in the guest, so every mount point must exist here.
 */
export function finishRoot(root: string): void {
  for (const d of [...USERLAND_DIRS, GUEST_PACKAGE_DIR.slice(1)]) mkdirSync(join(root, d), { recursive: true })
  const sh = join(root, 'bin', 'sh')
  if (!lstatSync(sh, { throwIfNoEntry: false })) symlinkSync('dash', sh)
  // No package ships passwd and group (base-passwd's postinst writes them); uid 0 gets a name with them.
  const etc = join(root, 'etc')
  mkdirSync(etc, { recursive: true })
  if (!existsSync(join(etc, 'passwd'))) writeFileSync(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n')
  if (!existsSync(join(etc, 'group'))) writeFileSync(join(etc, 'group'), 'root:x:0:\n')
}
