/**
 * The contract between a worker and a clause's child process (./spawn.ts starts it, ./main.ts runs in
 * it): which script to run, how, and the JSON lines they exchange on the child's stdin and stdout.
 */
import type { CallRecord } from '../ctx'
import type { Json } from '../types'

/** A script: `name` in the `scripts` export of lib/conformance/clauses/<module>.ts. */
export interface ScriptRef {
  module: string
  name: string
}

export interface RunOptions {
  /** As pid 1 of a new private pid namespace (`unshare --pid --fork`), verified before the script runs. */
  pidns?: boolean
  /** As this user (setgroups, setgid, setuid before the script runs): the child needs root to switch. */
  user?: { uid: number; gid: number; groups: number[] }
  /** Descriptors of the caller passed to the child as fd 3, 4, … */
  fds?: number[]
  /** Answers the script's ns.ask(message): whatever it returns is the value of ask(). */
  onMessage?: (message: Json) => Json | Promise<Json>
  /** Kill the child and fail after this long (default: 20 s, or MEMSEAL_CLAUSE_TIMEOUT_MS if longer). */
  timeoutMs?: number
  /**
   * Capabilities the child runs without ('sys_admin' …): dropped from its bounding and inheritable sets by
   * setpriv(1) just before node starts, so that even root lacks them; the child checks the result itself.
   */
  dropCapabilities?: string[]
}

/** What a script returned, and the system calls it made on the way (for the seccomp attribution). */
export interface ScriptResult {
  result: Json
  calls: CallRecord[]
}

/** What the child writes on stdout, one JSON object per line. */
export type ChildLine = { ask: Json } | { result: Json; calls: CallRecord[] } | { error: string; setup: boolean; calls: CallRecord[] }
