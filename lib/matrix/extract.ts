/**
 * Unpacks kernel packages with `dpkg -x` into the cache (never into the host's /boot or
 * /lib/modules) and finds the pieces the matrix boots: the image, its modules and its release.
 */
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { run } from './exec'
import { bzImageRelease, extractVmlinux } from './vmlinux'
import { PreparedKernel } from './types'

/** Unpacks the .debs into `<kernelDir>/root` once; a marker file records a completed unpack. */
export async function unpackDebs(debs: string[], kernelDir: string): Promise<string> {
  const root = join(kernelDir, 'root')
  const marker = join(kernelDir, 'unpacked')
  if (existsSync(marker)) return root
  rmSync(root, { recursive: true, force: true })
  for (const deb of debs) await run('dpkg', ['-x', deb, root])
  writeFileSync(marker, debs.map((d) => basename(d)).join('\n') + '\n')
  return root
}

/** `…/lib/modules/<release>` inside an unpacked package (Debian moved it under /usr in 7.x). */
export function findModulesDir(root: string): string | null {
  for (const base of ['usr/lib/modules', 'lib/modules']) {
    const dir = join(root, base)
    if (!existsSync(dir)) continue
    const releases = readdirSync(dir).filter((r) => statSync(join(dir, r)).isDirectory())
    if (releases.length > 0) return join(dir, releases.sort()[0])
  }
  return null
}

/** The compressed image inside an unpacked package: `boot/vmlinuz-<release>`. */
export function findImage(root: string): string | null {
  for (const base of ['boot', 'usr/lib/linux', 'usr/boot']) {
    const dir = join(root, base)
    if (!existsSync(dir)) continue
    const image = readdirSync(dir).find((f) => /^(vmlinuz|vmlinux|bzImage)/.test(f))
    if (image) return join(dir, image)
  }
  return null
}

/**
 * Turns an unpacked kernel into something qemu boots: the ELF vmlinux when it can be extracted,
 * otherwise the image as it is (qemu and the kernel then say what is wrong with it).
 */
export function prepareImage(image: string, workDir: string, modulesDir: string | null, packages: string[]): PreparedKernel {
  const vmlinux = join(workDir, 'vmlinux')
  const codec = existsSync(vmlinux) ? 'cached' : extractVmlinux(image, vmlinux)
  const release = (modulesDir ? basename(modulesDir) : null) ?? bzImageRelease(image)
  return {
    image: codec === 'none' ? image : codec === null ? image : vmlinux,
    release,
    modulesDir,
    packages,
  }
}
