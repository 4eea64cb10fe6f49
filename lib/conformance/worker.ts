/**
 * A worker process of the conformance runner. It runs the clauses the runner names, one at a time, each
 * with a fresh Ctx that is released when the clause ends, and sends back what the kernel did. Whatever a
 * clause does to this process (a fault, a sealed region, a changed limit) stays in here: the runner
 * never runs clauses itself, and replaces a worker that died.
 *
 * Protocol, over the IPC channel (JSON): the worker sends { type: 'ready' }; the runner sends
 * { type: 'run', id }; the worker answers { type: 'result', id, observation | error, durationMs }.
 * A failure outside any clause's own code is { type: 'fatal', message } and the worker exits.
 * Usage: node worker.js [clause-module]   (default: the catalog; a module must export `clauses`)
 */
import { performance } from 'node:perf_hooks'
import { quarantine, type Quarantine } from './quarantine'
import type { Clause, Observation } from './types'

export interface RunMessage {
  type: 'run'
  id: string
}

export interface ClauseError {
  name: string
  message: string
}

export type WorkerMessage =
  | { type: 'ready'; pid: number }
  /** retire: the clause left state behind (sealed address space); the runner replaces this worker. */
  | { type: 'result'; id: string; observation?: Observation; error?: ClauseError; durationMs: number; retire?: boolean }
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

async function runOne(clause: Clause, quarantine: Quarantine): Promise<WorkerMessage> {
  // Loaded here, not at the top: a worker that cannot load the addon still reports why.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  const { Ctx } = require('./ctx') as typeof import('./ctx')
  quarantine.begin()
  const ctx = new Ctx()
  const start = performance.now()
  let observation: Observation | undefined
  let error: ClauseError | undefined
  try {
    observation = checkObservation(await clause.run(ctx))
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    error = { name: e.name, message: e.message }
  } finally {
    ctx.release()
  }
  const durationMs = performance.now() - start
  const retire = quarantine.end()
  return observation ? { type: 'result', id: clause.id, observation, durationMs, retire } : { type: 'result', id: clause.id, error, durationMs, retire }
}

function main(): void {
  if (!process.send) {
    process.stderr.write('memseal conformance worker: start it through the runner (it needs an IPC channel)\n')
    process.exit(2)
  }
  let byId: Map<string, Clause>
  try {
    byId = new Map(loadClauses(process.argv[2]).map((c) => [c.id, c]))
  } catch (err) {
    sendAndExit({ type: 'fatal', message: `cannot load clauses: ${(err as Error).stack ?? String(err)}` }, 3)
    return
  }
  let guard: Quarantine
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    guard = quarantine((require('../native') as typeof import('../native')).native)
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
      send({
        type: 'result',
        id: message.id,
        error: { name: 'Error', message: `no clause '${message.id}' in the worker's catalog (is dist/ older than the source? run npm run build)` },
        durationMs: 0,
      })
      return
    }
    runOne(clause, guard).then(send, fatal)
  })
  send({ type: 'ready', pid: process.pid })
}

main()
