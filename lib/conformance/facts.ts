/** The kernel and environment facts every decision in a run is made from (features are probed once). */
import { kernel } from '../kernel'
import type { KernelFacts } from './types'

export function kernelFacts(): KernelFacts {
  return {
    release: kernel.release,
    version: kernel.version,
    machine: kernel.machine,
    features: kernel.features(),
    environment: kernel.environment(),
    config: kernel.config().options,
  }
}
