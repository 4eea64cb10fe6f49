/**
 * What differs between the architectures a guest can have: the qemu binary and machine, the
 * console device, and the kernel command line. x86-64 guests share the host's root; arm64 guests
 * (on an x86-64 host, under TCG emulation) run in a Debian arm64 userland root made by userland.ts.
 */
import { type GuestArch } from './specs'
import { type Accel } from './types'

export interface ArchProfile {
  arch: GuestArch
  /** Node's name for it (`process.arch`), to tell a native guest from a foreign one. */
  nodeArch: string
  /** The directory of its prebuild in the npm package. */
  prebuild: string
  qemu: string
  /** The Debian package that holds `qemu`. */
  qemuPackage: string
  /** Machine, CPU and acceleration arguments. */
  machineArgs(accel: Accel): string[]
  /** Kernel command line. */
  append: string[]
}

/**
 * hugepages=16: a pool of sixteen default-sized huge pages (2 MiB on x86-64 and on arm64 with 4 KiB pages,
 * 32 MiB of the guest's 2 GiB), so that the hugetlbfs clauses run in every guest instead of skipping:
 * hugetlbfs has code paths of its own, and old kernels are where they differ.
 */
const HUGEPAGES = 'hugepages=16'
const COMMON_APPEND = ['panic=-1', 'loglevel=4', 'rdinit=/init', 'mitigations=off', 'random.trust_cpu=on', HUGEPAGES]

export const ARCH_PROFILES: Readonly<Record<GuestArch, ArchProfile>> = {
  amd64: {
    arch: 'amd64',
    nodeArch: 'x64',
    prebuild: 'linux-x64',
    qemu: 'qemu-system-x86_64',
    qemuPackage: 'qemu-system-x86',
    machineArgs: (accel) => [...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']), '-machine', 'pc'],
    // earlyprintk lets the setup code report on the serial port too, before the console exists.
    append: [
      'console=ttyS0',
      'earlyprintk=serial,ttyS0,115200',
      'panic=-1',
      'loglevel=4',
      'rdinit=/init',
      'mitigations=off',
      'tsc=reliable',
      'random.trust_cpu=on',
      HUGEPAGES,
    ],
  },
  arm64: {
    arch: 'arm64',
    nodeArch: 'arm64',
    prebuild: 'linux-arm64',
    qemu: 'qemu-system-aarch64',
    qemuPackage: 'qemu-system-arm',
    // `virt` has PCIe, so the 9p shares are virtio-9p-pci as on x86-64. Under TCG, pointer
    // authentication with the architected QARMA algorithm costs a good part of the run time;
    // pauth-impdef keeps the feature with a cheap implementation-defined algorithm.
    machineArgs: (accel) => [
      ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max,pauth-impdef=on']),
      '-machine',
      'virt,gic-version=max',
    ],
    // The virt machine's first UART is a PL011: ttyAMA0; earlycon finds it from the device tree.
    append: ['console=ttyAMA0', 'earlycon', ...COMMON_APPEND],
  },
}

/** The profile of a Debian architecture. */
export function archProfile(arch: GuestArch): ArchProfile {
  return ARCH_PROFILES[arch]
}

/** Whether a guest of `arch` runs natively on this host (KVM possible, host root shareable). */
export function isNativeArch(arch: GuestArch, hostArch: string = process.arch): boolean {
  return ARCH_PROFILES[arch].nodeArch === hostArch
}
