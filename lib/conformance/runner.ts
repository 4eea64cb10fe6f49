/**
 * The conformance runner. It decides skips from what each clause needs and what the kernel and the
 * environment offer, hands the rest to worker processes (it never runs a clause itself), judges each
 * observation against the documentation and the recorded history, and builds the report.
 *
 * Workers run one clause at a time. A worker that dies in the middle of a clause (a fault, an exit) has
 * shown what the kernel did: its signal or exit status is that clause's observation, judged like any
 * other, and a fresh worker takes the rest. Sealed memory a clause leaves behind is fenced off inside
 * the worker (quarantine.ts). Clauses that work in pid namespaces (isolation 'pidns') start their own
 * processes and take longest, so a slot of their own starts on them at once.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { catalogHash } from './catalog-hash'
import { evidenceText, filterEvidence } from '../kernel/seccomp'
import { expectationFor, judge, resultOf, show, showExpected } from './evaluate'
import { kernelFacts } from './facts'
import { buildReport, PACKAGE_ROOT, type Report } from './report'
import { filteredReason, skipReason } from './skip'
import type { Clause, ClauseResult, KernelFacts, Observation } from './types'
import { WorkerProcess, type Outcome } from './pool'

export interface CheckOptions {
  /** Clause id globs ('seal.*', 'mseal.munmap.*'); a pattern without '*' also matches its id prefix + '.'. */
  only?: string[]
  /** Also fail on `known`. A run's results do not depend on it: pass it on to exitStatus(report, strict). */
  strict?: boolean
  /** Worker processes running clauses in parallel (default 2). */
  workers?: number
  /** Per-clause time limit in milliseconds (default 10 000); a clause that exceeds it is `broken`. */
  timeoutMs?: number
  /** Called as each result arrives (in completion order), e.g. for progress. */
  onResult?: (result: ClauseResult, done: number, total: number) => void
  /**
   * @internal A module (path to compiled JavaScript) exporting `clauses` to run instead of the catalog.
   * The runner's own tests use it for clauses that fail on purpose.
   */
  clauseModule?: string
}

// Per-clause limit; MEMSEAL_CLAUSE_TIMEOUT_MS raises it where everything is slow (a kernel under TCG emulation).
const DEFAULT_TIMEOUT_MS = Number(process.env.MEMSEAL_CLAUSE_TIMEOUT_MS) || 10_000

/** Where the compiled worker lives: dist/ of this package, also when the runner runs from lib/ under ts-jest. */
export const WORKER_PATH = join(PACKAGE_ROOT, 'dist', 'conformance', 'worker.js')

/** The catalog, or the clauses of an internal clause module. Loaded on demand: importing memseal stays cheap. */
export function loadClauses(clauseModule?: string): readonly Clause[] {
  if (clauseModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
    const mod = require(clauseModule) as { clauses?: unknown }
    if (!Array.isArray(mod.clauses)) throw new TypeError(`${clauseModule} exports no 'clauses' array`)
    return mod.clauses as readonly Clause[]
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return (require('./clauses') as typeof import('./clauses')).catalog
}

function globRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${body}$`)
}

/** Patterns from repeated and comma-separated --only values. */
export function splitPatterns(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)
}

/** Whether an id matches one pattern: a '*' glob, or an exact id, or an id prefix ending at a '.'. */
export function matchesPattern(id: string, pattern: string): boolean {
  if (pattern.includes('*')) return globRegExp(pattern).test(id)
  return id === pattern || id.startsWith(`${pattern}.`)
}

export function selectClauses(clauses: readonly Clause[], only?: readonly string[]): Clause[] {
  const patterns = splitPatterns(only ?? [])
  return patterns.length === 0 ? [...clauses] : clauses.filter((c) => patterns.some((p) => matchesPattern(c.id, p)))
}

export { kernelFacts }

/** What an active seccomp filter means for a verdict that fails, when no call of the clause was seen filtered. */
function filterNote(facts: KernelFacts): string {
  return facts.environment.seccomp === 2
    ? ` (a seccomp filter is active here, ${facts.environment.seccompFilters || 'one or more'} stacked: it may have given this answer, ` +
        "but the canaries of this clause's calls saw only answers the kernel also gives, so it cannot be told apart)"
    : ''
}

/** Why starting a process can fail here: a filter in front of clone (its canary), or a process limit. */
function spawnNote(message: string, facts: KernelFacts): string {
  if (facts.environment.seccomp === 2) {
    const e = filterEvidence('clone', [], facts.version)
    if (e) return `; a seccomp filter answers clone: ${evidenceText(e)}`
  }
  return /EAGAIN|uv_thread_create|Resource temporarily unavailable/.test(message)
    ? '; EAGAIN from fork or from thread creation means a process limit: the pids cgroup (pids.max) or RLIMIT_NPROC of this user leaves no room for worker processes'
    : ''
}

/**
 * Judges what a worker reported for one clause. Seccomp first, by one rule for every clause: when a call
 * of the clause got its answer from a filter (the worker's evidence), nothing the clause saw is the
 * kernel's, whatever the verdict would have been, and it is a skip that names the call and the filter.
 */
export function resultFromOutcome(clause: Clause, outcome: Outcome, facts: KernelFacts): ClauseResult {
  const durationMs = Math.round(outcome.durationMs * 1000) / 1000
  let expected: Observation[]
  try {
    expected = expectationFor(clause, facts)
  } catch (err) {
    return resultOf(clause, 'broken', { reason: `expect() threw: ${(err as Error).message}`, durationMs })
  }
  const shownExpected = showExpected(expected)
  if (outcome.kind === 'result' && outcome.filtered?.length) {
    return resultOf(clause, 'skip', {
      expected: shownExpected,
      observed: outcome.observation ? show(outcome.observation) : null,
      reason: filteredReason(outcome.filtered, facts),
      durationMs,
    })
  }
  if (outcome.kind === 'died' && outcome.signal === 'SIGSYS' && facts.environment.seccomp === 2) {
    return resultOf(clause, 'skip', {
      expected: shownExpected,
      observed: 'signal=SIGSYS',
      reason: `blocked by a seccomp filter: the worker was killed by SIGSYS, a filter's SECCOMP_RET_KILL or RET_TRAP answer to one of the clause's calls`,
      durationMs,
    })
  }
  const broken = (reason: string, note = filterNote(facts)): ClauseResult =>
    resultOf(clause, 'broken', { expected: shownExpected, reason: `${reason}${note}`, durationMs })
  switch (outcome.kind) {
    case 'timeout':
      return broken(`timed out after ${outcome.limitMs / 1000} s; the worker was killed`)
    case 'fatal':
      return broken(`the worker failed outside the clause's result: ${outcome.message}`)
    case 'unavailable':
      return broken(`no worker could run it: ${outcome.message}`, spawnNote(outcome.message, facts))
    case 'result':
      if (outcome.error) {
        const { name, message } = outcome.error
        return broken(name === 'SetupError' ? `setup failed: ${message}` : `${name}: ${message}`)
      }
      break
    case 'died':
      break
  }
  const observed: Observation = outcome.kind === 'died' ? (outcome.signal ? { signal: outcome.signal } : { exit: outcome.exit ?? -1 }) : outcome.observation!
  const verdict = judge(clause, observed, facts)
  return resultOf(clause, verdict.status, {
    expected: showExpected(verdict.expected),
    observed: show(observed),
    ...(verdict.known ? { known: { behaviour: verdict.known.behaviour, ref: verdict.known.ref } } : {}),
    ...(verdict.status === 'diverges' && facts.environment.seccomp === 2
      ? {
          reason: filterNote(facts)
            .trim()
            .replace(/^\(|\)$/g, ''),
        }
      : {}),
    durationMs,
  })
}

interface Job {
  index: number
  clause: Clause
}

/**
 * Hands out workers. Workers are replaced often (after every clause that sealed memory, or died), and a
 * node process takes tens of milliseconds to start, so once replacement has begun a spare is kept warm.
 */
class Spawner {
  #spare: WorkerProcess | null = null
  #closed = false
  constructor(private readonly args: string[]) {}

  take(replacing: boolean): WorkerProcess {
    const worker = this.#spare ?? new WorkerProcess(WORKER_PATH, this.args)
    this.#spare = replacing && !this.#closed ? new WorkerProcess(WORKER_PATH, this.args) : null
    return worker
  }

  async close(): Promise<void> {
    this.#closed = true
    const spare = this.#spare
    this.#spare = null
    await spare?.close()
  }
}

/**
 * Runs the jobs on `workers` slots, and the clauses with isolation 'pidns' (which do their namespace work
 * in processes they start themselves, lib/conformance/child/) on one more slot of their own. A slot keeps
 * one worker and replaces it when the worker asks to retire (a seal it could not fence), dies or times out.
 */
async function runJobs(
  jobs: Job[],
  workers: number,
  timeoutMs: number,
  clauseModule: string | undefined,
  catalog: string,
  done: (job: Job, outcome: Outcome) => void,
): Promise<void> {
  const shared = jobs.filter((j) => j.clause.isolation !== 'pidns')
  const isolated = jobs.filter((j) => j.clause.isolation === 'pidns')
  const spawner = new Spawner(clauseModule ? [clauseModule] : [])
  let startFailure: string | null = null
  let startFailures = 0

  const slot = async (queues: Job[][]): Promise<void> => {
    let worker: WorkerProcess | null = null
    let replacing = false
    try {
      for (;;) {
        const queue = queues.find((q) => q.length > 0)
        const job = queue?.shift()
        if (!job) return
        if (startFailure !== null) {
          done(job, { kind: 'unavailable', message: startFailure, durationMs: 0 })
          continue
        }
        const w: WorkerProcess = (worker ??= spawner.take(replacing))
        let loaded: string
        try {
          loaded = await w.ready
        } catch (err) {
          worker = null
          if (++startFailures >= 2) startFailure = (err as Error).message
          queue!.unshift(job)
          continue
        }
        if (loaded !== catalog) throw new StaleBuildError(loaded, catalog)
        const outcome = await w.run(job.clause.id, timeoutMs)
        if (outcome.kind !== 'result' || outcome.retire) {
          void w.close()
          worker = null
          replacing = true
        }
        done(job, outcome)
      }
    } finally {
      if (worker) await worker.close()
    }
  }
  const slots: Promise<void>[] = []
  for (let i = 0; i < Math.max(1, workers); i++) slots.push(slot([shared]))
  // Namespace clauses start node processes of their own and take longest: a slot of their own starts on
  // them at once, beside the quick clauses. One slot, not several: clauses of one namespace scenario share
  // that namespace within a worker (ProcessOps.shared), and a second worker would build it all again
  // (the whole suite took 1.9–2.1 s with them spread over every slot, 1.1–1.4 s like this).
  if (isolated.length > 0) slots.push(slot([isolated]))
  try {
    await Promise.all(slots)
  } finally {
    await spawner.close()
    await WorkerProcess.closeAll()
  }
}

/** The compiled worker runs other clauses than the runner judges: dist/ is older than the source. */
export class StaleBuildError extends Error {
  constructor(worker: string, runner: string) {
    super(
      `the compiled conformance worker (${WORKER_PATH}) loaded another catalog than this runner (fingerprint ${worker}, expected ${runner}): ` +
        'dist/ is older than the source; run `npm run build` first',
    )
    this.name = 'StaleBuildError'
  }
}

/**
 * Runs the conformance suite on this kernel and returns the report that `memseal check --json` prints.
 * Nothing it runs touches the calling process: clauses run in worker processes that it ends before
 * it resolves.
 */
export async function check(options: CheckOptions = {}): Promise<Report> {
  const start = performance.now()
  const clauses = selectClauses(loadClauses(options.clauseModule), options.only)
  const facts = kernelFacts()
  const results = new Array<ClauseResult>(clauses.length)
  let finished = 0
  const record = (index: number, result: ClauseResult): void => {
    results[index] = result
    finished++
    options.onResult?.(result, finished, clauses.length)
  }

  const jobs: Job[] = []
  clauses.forEach((clause, index) => {
    const reason = skipReason(clause, facts)
    if (reason === null) jobs.push({ index, clause })
    else record(index, resultOf(clause, 'skip', { reason }))
  })
  if (jobs.length > 0) {
    if (!existsSync(WORKER_PATH)) throw new Error(`the conformance worker ${WORKER_PATH} does not exist: run \`npm run build\` first`)
    const catalog = catalogHash(loadClauses(options.clauseModule))
    await runJobs(jobs, options.workers ?? 2, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.clauseModule, catalog, (job, outcome) => {
      record(job.index, resultFromOutcome(job.clause, outcome, facts))
    })
  }
  return buildReport(facts, results, performance.now() - start)
}
