/**
 * Builds the guest's initramfs: busybox-static, the generated /init, a /dev/console node (so init
 * has a console before devtmpfs is mounted) and the 9p modules, as an uncompressed newc archive
 * the kernel unpacks without any decompressor. It holds no command: the job comes over the control
 * share at each boot (guest-init.ts), so one initramfs per kernel serves every command.
 */
import { existsSync, readFileSync } from 'node:fs'
import { type CpioEntry, writeCpio } from './cpio'
import { initScript } from './guest-init'
import { type ModuleFile } from './modules'

/** Where Debian's busybox-static puts its binary. */
export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox']

export function findBusybox(): string {
  const found = BUSYBOX_CANDIDATES.find((p) => existsSync(p))
  if (!found) throw new Error('busybox is not installed: run scripts/matrix-deps.sh (it installs busybox-static)')
  return found
}

/** Whether a busybox binary is statically linked (a dynamic one cannot run before the root is mounted). */
export function isStaticElf(data: Buffer): boolean {
  if (!data.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) || data[4] !== 2) return false
  const phoff = Number(data.readBigUInt64LE(0x20))
  const phentsize = data.readUInt16LE(0x36)
  const phnum = data.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) {
    if (data.readUInt32LE(phoff + i * phentsize) === 3) return false // PT_INTERP
  }
  return true
}

export interface InitramfsInput {
  busybox: Buffer
  modules: ModuleFile[]
}

export function buildInitramfs(input: InitramfsInput): Buffer {
  if (!isStaticElf(input.busybox)) throw new Error('busybox must be statically linked (Debian package busybox-static)')
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'newroot', 'modules'].map((path): CpioEntry => ({ type: 'dir', path })),
    { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'bin/busybox', data: input.busybox, mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'file', path: 'init', data: initScript(input.modules.map((m) => m.name)), mode: 0o755 },
    ...input.modules.map((m): CpioEntry => ({ type: 'file', path: `modules/${m.name}.ko`, data: m.data })),
  ]
  return writeCpio(entries)
}

export function readBusybox(path: string = findBusybox()): Buffer {
  return readFileSync(path)
}
