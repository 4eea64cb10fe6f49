/**
 * Scripts of the `memfd.` clauses that run in a process of their own (lib/conformance/child/): here, as an
 * unprivileged user, which the worker cannot become and come back from.
 */
import type { Scripts } from '../child/api'
import type { Json } from '../types'

/** CAP_IPC_LOCK, the capability memfd_create(2) names for MFD_HUGETLB. */
const CAP_IPC_LOCK = 14

/** The uid and whether CAP_IPC_LOCK is effective, from /proc/self/status. */
export function credentials(status: string): { uid: number; capIpcLock: boolean } {
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1)
  const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`)
  return { uid, capIpcLock: (capEff & (1n << BigInt(CAP_IPC_LOCK))) !== 0n }
}

export const scripts: Scripts = {
  /**
   * memfd_create(args.flags) as whoever this process runs as: { ret: 0 } or { errno }, with the uid and
   * whether CAP_IPC_LOCK is in the effective set (the privilege the documentation names).
   */
  createAs: (ns, args: Json) => {
    const { flags } = args as { flags: number }
    const made = ns.create(flags, [])
    return { ...(typeof made.errno === 'string' ? made : { ret: 0 }), ...credentials(ns.read('/proc/self/status')) }
  },
}
