/**
 * A worker process of the conformance runner. It runs the clauses the runner names, one at a time, each
 * with a fresh Ctx that is released when the clause ends, and sends back what the kernel did, together
 * with the evidence of any seccomp filter that answered one of the clause's calls instead of the kernel
 * (lib/kernel/seccomp.ts: one rule for every clause). Whatever a clause does to this process (a fault, a
 * sealed region, a changed limit) stays in here: the runner never runs clauses itself, and replaces a
 * worker that died.
 *
 * Protocol, over the IPC channel (JSON): the worker sends { type: 'ready', catalog } (the fingerprint of
 * the clauses it loaded); the runner sends { type: 'run', id }; the worker answers { type: 'result', id,
 * observation | error, filtered, durationMs }. A failure outside any clause's own code is
 * { type: 'fatal', message } and the worker exits.
 * Usage: node worker.js [clause-module]   (default: the catalog; a module must export `clauses`)
 */
import { performance } from 'node:perf_hooks'
import { errnoName } from '../errors'
import type { FilterEvidence } from '../kernel/seccomp'
import type { CallRecord, Ctx } from './ctx'
import type { Fences } from './ctx/fences'
import type { Clause, KernelFacts, Observation } from './types'

export interface RunMessage {
  type: 'run'
  id: string
}

export interface ClauseError {
  name: string
  message: string
}

export type WorkerMessage =
  | { type: 'ready'; pid: number; catalog: string }
  /** retire: the clause left state behind (sealed address space) that could not be fenced; the runner replaces this worker. */
  | {
      type: 'result'
      id: string
      observation?: Observation
      error?: ClauseError
      /** Calls of the clause that a seccomp filter answered (their canaries show it). */
      filtered?: FilterEvidence[]
      durationMs: number
      retire?: boolean
    }
  | { type: 'fatal'; message: string }

function send(message: WorkerMessage): void {
  process.send?.(message)
}

/** Sends a last message and exits once it has left: exiting at once could drop it. */
function sendAndExit(message: WorkerMessage, code: number): void {
  if (!process.send) process.exit(code)
  process.send(message, () => process.exit(code))
}

function loadClauses(modulePath: string | undefined): readonly Clause[] {
  if (modulePath) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    const mod = require(modulePath) as { clauses?: unknown; catalog?: unknown }
    const list = mod.clauses ?? mod.catalog
    if (!Array.isArray(list)) throw new Error(`${modulePath} exports no 'clauses' array`)
    return list as readonly Clause[]
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return (require('./clauses') as { catalog: readonly Clause[] }).catalog
}

/** An observation must be a plain JSON object: it is compared and printed as one. */
function checkObservation(value: unknown): Observation {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`run() returned ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an observation object`)
  }
  return JSON.parse(JSON.stringify(value)) as Observation
}

/**
 * The calls of a clause that a seccomp filter answered: a call whose canary (same system call, same
 * matched arguments, one argument the kernel must refuse) got an answer the kernel never gives, and
 * which itself got that same answer. Nothing is looked at without an active filter.
 */
export function filteredCalls(calls: readonly CallRecord[], facts: KernelFacts, evidence: typeof import('../kernel/seccomp').filterEvidence): FilterEvidence[] {
  if (facts.environment.seccomp !== 2) return []
  const found = new Map<string, FilterEvidence>()
  for (const call of calls) {
    const key = `${call.syscall}(${call.args.join(',')})`
    if (found.has(key)) continue
    const e = evidence(call.syscall, call.args, facts.version)
    if (!e) continue
    const same = call.ret >= 0 ? e.got === 'success' : e.got === errnoName(call.ret)
    if (same) found.set(key, e)
  }
  return [...found.values()]
}

async function runOne(clause: Clause, facts: KernelFacts, fences: Fences): Promise<WorkerMessage> {
  // Loaded here, not at the top: a worker that cannot load the addon still reports why.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { Ctx } = require('./ctx') as typeof import('./ctx')
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { filterEvidence } = require('../kernel/seccomp') as typeof import('../kernel/seccomp')
  const ctx: Ctx = new Ctx(facts, fences)
  const start = performance.now()
  let observation: Observation | undefined
  let error: ClauseError | undefined
  try {
    observation = checkObservation(await clause.run(ctx))
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    error = { name: e.name, message: e.message }
  }
  const retire = ctx.release()
  const durationMs = performance.now() - start
  const filtered = filteredCalls(ctx.calls, facts, filterEvidence)
  const common = { type: 'result' as const, id: clause.id, durationMs, retire, ...(filtered.length ? { filtered } : {}) }
  return observation ? { ...common, observation } : { ...common, error }
}

function main(): void {
  if (!process.send) {
    process.stderr.write('memseal conformance worker: start it through the runner (it needs an IPC channel)\n')
    process.exit(2)
  }
  let clauses: readonly Clause[]
  let byId: Map<string, Clause>
  try {
    clauses = loadClauses(process.argv[2])
    byId = new Map(clauses.map((c) => [c.id, c]))
  } catch (err) {
    sendAndExit({ type: 'fatal', message: `cannot load clauses: ${(err as Error).stack ?? String(err)}` }, 3)
    return
  }
  let facts: KernelFacts
  let fences: Fences
  let catalog: string
  try {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded here so that a worker that cannot load the addon still reports why */
    const { Fences } = require('./ctx/fences') as typeof import('./ctx/fences')
    const { kernelFacts } = require('./facts') as typeof import('./facts')
    const { catalogHash } = require('./catalog-hash') as typeof import('./catalog-hash')
    /* eslint-enable @typescript-eslint/no-require-imports */
    facts = kernelFacts()
    fences = new Fences()
    catalog = catalogHash(clauses)
  } catch (err) {
    sendAndExit({ type: 'fatal', message: `cannot load the addon: ${(err as Error).message}` }, 3)
    return
  }
  const fatal = (err: unknown): void => {
    sendAndExit({ type: 'fatal', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, 3)
  }
  process.on('uncaughtException', fatal)
  process.on('unhandledRejection', fatal)
  // The runner going away (or closing the channel) ends the worker.
  process.on('disconnect', () => process.exit(0))
  process.on('message', (message: RunMessage) => {
    if (message?.type !== 'run') return
    const clause = byId.get(message.id)
    if (!clause) {
      send({ type: 'result', id: message.id, error: { name: 'Error', message: `no clause '${message.id}' in the worker's catalog` }, durationMs: 0 })
      return
    }
    runOne(clause, facts, fences).then(send, fatal)
  })
  send({ type: 'ready', pid: process.pid, catalog })
}

main()
