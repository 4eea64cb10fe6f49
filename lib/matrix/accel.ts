/**
 * Chooses between KVM and TCG. /dev/kvm existing proves little: a nested or paravirtual KVM can stop
 * the guest with a "KVM internal error" or leave a stock kernel spinning before it prints anything.
 * So with `auto`, KVM is tried on the first kernel with short deadlines (any console output within
 * KVM_FIRST_OUTPUT_MS, /init within KVM_PROOF_MS), and qemu's stderr is watched for a KVM error,
 * which ends the boot at once; if KVM fails, that kernel is booted again under TCG and TCG is used
 * for the rest, and the report quotes what qemu said. If TCG cannot boot that kernel either, the
 * kernel was at fault, not KVM, and the question stays open for the next one.
 */
import { constants, accessSync } from 'node:fs'
import { type Accel } from './types'

export type AccelRequest = 'auto' | Accel

export const KVM_DEVICE = '/dev/kvm'

/** How long a KVM guest on trial may take to reach /init before KVM is judged not to work (ms). */
export const KVM_PROOF_MS = 10_000

/**
 * How long a KVM guest may stay silent (ms). With earlyprintk a guest that runs prints within a
 * fraction of a second even on a loaded host; one that prints nothing is not running.
 */
export const KVM_FIRST_OUTPUT_MS = 4_000

export function kvmDeviceUsable(device: string = KVM_DEVICE): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** What a boot showed about its accelerator. */
export interface AccelEvidence {
  reachedInit: boolean
  /** qemu's own complaint (its stderr), or why the boot was given up, in one line. */
  detail: string
}

export class AccelChooser {
  private verdict: 'works' | 'fails' | 'unknown'
  reason: string
  /** What qemu said when KVM failed, quoted in reports. */
  kvmFailure: string | null = null

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

  /** Records what a boot with `accel` showed. */
  observe(accel: Accel, evidence: AccelEvidence): void {
    if (accel === 'kvm' && !evidence.reachedInit) this.kvmFailure = evidence.detail
    if (this.verdict !== 'unknown') return
    if (accel === 'kvm' && evidence.reachedInit) {
      this.verdict = 'works'
      this.reason = 'KVM: the guest reached /init'
    } else if (accel === 'tcg' && evidence.reachedInit) {
      this.verdict = 'fails'
      this.reason = `KVM did not work (${this.kvmFailure ?? 'no detail'}); TCG did`
    } else if (accel === 'tcg') {
      this.reason = `undecided: a kernel booted neither under KVM (${this.kvmFailure ?? 'no detail'}) nor under TCG`
    }
  }

  /** The acceleration reported for the whole run. */
  used(): Accel {
    return this.verdict === 'works' ? 'kvm' : 'tcg'
  }

  /** KVM gets a short deadline to reach /init while it is on trial. */
  initTimeoutFor(accel: Accel, normalMs: number): number {
    return accel === 'kvm' && this.verdict === 'unknown' ? Math.min(KVM_PROOF_MS, normalMs) : normalMs
  }

  /** Under KVM a guest must print something within seconds; under TCG only the init deadline applies. */
  firstOutputTimeoutFor(accel: Accel, normalMs: number): number {
    return accel === 'kvm' ? Math.min(KVM_FIRST_OUTPUT_MS, normalMs) : normalMs
  }
}

/** The advice given when KVM was asked for and cannot run the guest. */
export function kvmAdvice(detail: string): string {
  return `KVM cannot run the guest here (qemu: ${detail}); use --accel tcg (or --accel auto, which falls back to TCG by itself)`
}
