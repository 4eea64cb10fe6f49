/**
 * A kernel the user names as an unpacked package directory or an image file: finds the pieces the
 * matrix boots (the image, its modules and its release) and extracts the vmlinux beside the cache's
 * entry for it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { bzImageRelease, extractVmlinux, isCompleteElf } from './vmlinux'
import { type PreparedKernel } from './types'

/** `…/lib/modules/<release>` inside an unpacked package (Debian moved it under /usr in 7.x). */
export function findModulesDir(root: string): string | null {
  for (const base of ['usr/lib/modules', 'lib/modules']) {
    const dir = join(root, base)
    if (!existsSync(dir)) continue
    const releases = readdirSync(dir).filter((r) => statSync(join(dir, r)).isDirectory())
    if (releases.length > 0) return join(dir, releases.sort()[0]!)
  }
  return null
}

/**
 * The compressed image inside an unpacked package: `boot/vmlinuz-<release>`, or from 7.x
 * `usr/lib/modules/<release>/vmlinuz*` beside the modules.
 */
export function findImage(root: string): string | null {
  const modulesDir = findModulesDir(root)
  for (const dir of [join(root, 'boot'), ...(modulesDir ? [modulesDir] : [])]) {
    if (!existsSync(dir)) continue
    const image = readdirSync(dir).find((f) => /^(vmlinuz|vmlinux|bzImage)/.test(f) && statSync(join(dir, f)).isFile())
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
  const imageRelease = bzImageRelease(image)
  const modulesRelease = modulesDir ? basename(modulesDir) : null
  const mismatch =
    imageRelease && modulesRelease && imageRelease !== modulesRelease ? `the modules are for ${modulesRelease}, the image is ${imageRelease}` : null
  const note =
    codec === null
      ? 'no complete vmlinux could be extracted from the image (truncated, or not a Linux kernel); booted it as it is'
      : codec === 'none' && !isCompleteElf(image)
        ? 'the ELF image is incomplete (truncated?)'
        : null
  return {
    image: codec === 'none' || codec === null ? image : vmlinux,
    imageNote: [note, mismatch].filter((n) => n !== null).join('; ') || null,
    release: imageRelease ?? modulesRelease,
    modulesDir,
    packages,
  }
}
