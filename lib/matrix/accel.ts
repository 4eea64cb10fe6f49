/**
 * Chooses between KVM and TCG. /dev/kvm existing proves little: a nested or paravirtual KVM can
 * abort qemu at once or leave a stock kernel spinning. So with `auto`, KVM is tried on the first
 * kernel with a short deadline for the guest to reach /init; if it does not, that kernel is booted
 * again under TCG and TCG is used for the rest. If TCG cannot boot that kernel either, the kernel
 * was at fault, not KVM, and the question stays open for the next one.
 */
import { constants, accessSync } from 'node:fs'
import { type Accel } from './types'

export type AccelRequest = 'auto' | Accel

export const KVM_DEVICE = '/dev/kvm'

/** How long a KVM guest may take to reach /init before KVM is judged not to work (ms). */
export const KVM_PROOF_MS = 15_000

export function kvmDeviceUsable(device: string = KVM_DEVICE): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

export class AccelChooser {
  private verdict: 'works' | 'fails' | 'unknown'
  reason: string

  constructor(
    readonly requested: AccelRequest,
    kvmUsable: boolean = kvmDeviceUsable(),
  ) {
    if (requested === 'tcg') {
      this.verdict = 'fails'
      this.reason = 'TCG requested'
    } else if (requested === 'kvm') {
      this.verdict = 'works'
      this.reason = 'KVM requested'
    } else if (!kvmUsable) {
      this.verdict = 'fails'
      this.reason = `${KVM_DEVICE} is missing or not accessible`
    } else {
      this.verdict = 'unknown'
      this.reason = 'KVM not yet tried'
    }
  }

  /** The accelerations to try for the next kernel, in order. */
  plan(): Accel[] {
    if (this.verdict === 'works') return ['kvm']
    if (this.verdict === 'fails') return ['tcg']
    return ['kvm', 'tcg']
  }

  /** Records whether a boot with `accel` reached /init (and what was seen if it did not). */
  observe(accel: Accel, reachedInit: boolean, detail: string): void {
    if (this.verdict !== 'unknown') return
    if (accel === 'kvm' && reachedInit) {
      this.verdict = 'works'
      this.reason = 'KVM: the guest reached /init'
    } else if (accel === 'kvm') {
      this.pendingKvmFailure = detail
    } else if (reachedInit) {
      this.verdict = 'fails'
      this.reason = `KVM did not work (${this.pendingKvmFailure ?? 'no detail'}); TCG did`
    } else {
      this.reason = `undecided: a kernel booted neither under KVM (${this.pendingKvmFailure ?? 'no detail'}) nor under TCG`
    }
  }

  /** The acceleration reported for the whole run. */
  used(): Accel {
    return this.verdict === 'works' ? 'kvm' : 'tcg'
  }

  /** KVM gets a short deadline while it is still on trial. */
  initTimeoutFor(accel: Accel, normalMs: number): number {
    return accel === 'kvm' && this.verdict === 'unknown' ? Math.min(KVM_PROOF_MS, normalMs) : normalMs
  }

  private pendingKvmFailure: string | null = null
}
