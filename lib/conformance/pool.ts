/**
 * One conformance worker process, seen from the runner: start it, ask it to run a clause, and turn
 * whatever happens (a result, a death by signal or exit, a time-out) into an Outcome. Each worker leads
 * its own process group, so that ending it also ends anything its clause spawned.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import type { FilterEvidence } from '../kernel/seccomp'
import type { Observation } from './types'
import type { ClauseError, WorkerMessage } from './worker'

export type Outcome =
  | { kind: 'result'; observation?: Observation; error?: ClauseError; filtered?: FilterEvidence[]; durationMs: number; retire?: boolean }
  /** The worker died while the clause ran: its signal (or exit status) is the observation. */
  | { kind: 'died'; signal: string | null; exit: number | null; durationMs: number }
  | { kind: 'timeout'; limitMs: number; durationMs: number }
  /** The worker failed in its own code (not the clause's result), e.g. an uncaught async error. */
  | { kind: 'fatal'; message: string; durationMs: number }
  /** No worker could be started. */
  | { kind: 'unavailable'; message: string; durationMs: number }

const STDERR_TAIL = 2000
// A worker gets at least as long to start as a clause gets to run: where MEMSEAL_CLAUSE_TIMEOUT_MS is raised
// (a kernel under TCG emulation in the matrix), node's own start-up is as slow as everything else.
const READY_TIMEOUT_MS = Math.max(20_000, Number(process.env.MEMSEAL_CLAUSE_TIMEOUT_MS) || 0)

/** Live workers, ended if the runner's process exits first (a thrown error, process.exit in a caller). */
const live = new Set<WorkerProcess>()
process.on('exit', () => {
  for (const w of live) w.kill()
})

export class WorkerProcess {
  readonly child: ChildProcess
  /** Resolves with the fingerprint of the clauses the worker loaded; rejects with the reason when it cannot start. */
  readonly ready: Promise<string>
  #exited: Promise<void>
  #isExited = false
  #stderr = ''
  #pending: ((outcome: Outcome) => void) | null = null
  #started = 0

  constructor(path: string, args: string[]) {
    this.child = fork(path, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json', detached: true })
    live.add(this)
    this.child.stderr?.setEncoding('utf8')
    this.child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL)
    })
    // Not the 'close' event: with an IPC channel Node does not always emit it. Exit plus the end of stderr.
    // A child that could not be spawned at all (EAGAIN from fork under a pids limit, ENOMEM) never
    // emits 'exit': its 'error' ends it, or close() would wait for it forever and the run would end
    // with nothing to keep the event loop alive, silently.
    const exit = new Promise<void>((resolve) => {
      const gone = (): void => {
        this.#isExited = true
        live.delete(this)
        resolve()
      }
      this.child.once('exit', gone)
      this.child.once('error', () => {
        if (this.child.pid === undefined) gone()
      })
    })
    const stderrClosed = new Promise<void>((resolve) => {
      if (!this.child.stderr) return resolve()
      this.child.stderr.once('close', resolve)
      this.child.once('error', () => {
        if (this.child.pid === undefined) resolve()
      })
    })
    this.#exited = Promise.all([exit, stderrClosed]).then(() => undefined)
    this.ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS)
      const fail = (why: string): void => {
        clearTimeout(timer)
        const tail = this.#stderr.trim()
        reject(new Error(tail ? `${why}: ${tail}` : why))
      }
      this.child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer)
          resolve(message.catalog)
        } else if (message.type === 'fatal') {
          if (this.#pending) this.#settle({ kind: 'fatal', message: message.message, durationMs: this.#elapsed() })
          else fail(message.message)
        } else if (message.type === 'result' && this.#pending) {
          this.#settle({
            kind: 'result',
            observation: message.observation,
            error: message.error,
            filtered: message.filtered,
            durationMs: message.durationMs,
            retire: message.retire,
          })
        }
      })
      this.child.once('error', (err) => fail(`worker could not start: ${err.message}`))
      this.child.once('exit', (code, signal) => {
        if (this.#pending) this.#settle({ kind: 'died', signal, exit: code, durationMs: this.#elapsed() })
        // The reason is read once stderr has drained: it holds what the worker printed before it died.
        void this.#exited.then(() => fail(`worker exited before it was ready (${signal ?? `status ${code}`})`))
      })
    })
    this.ready.catch(() => this.kill())
  }

  #elapsed(): number {
    return performance.now() - this.#started
  }

  #settle(outcome: Outcome): void {
    const pending = this.#pending
    this.#pending = null
    pending?.(outcome)
  }

  /** Runs one clause; never rejects. */
  run(id: string, timeoutMs: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#settle({ kind: 'timeout', limitMs: timeoutMs, durationMs: this.#elapsed() })
        this.kill()
      }, timeoutMs)
      this.#pending = (outcome) => {
        clearTimeout(timer)
        resolve(outcome)
      }
      this.#started = performance.now()
      this.child.send({ type: 'run', id }, (err) => {
        if (err && this.#pending) this.#settle({ kind: 'fatal', message: `cannot reach the worker: ${err.message}`, durationMs: 0 })
      })
    })
  }

  /** Waits until every worker started so far is gone (retired ones are closed without waiting). */
  static async closeAll(): Promise<void> {
    await Promise.all([...live].map((w) => w.close()))
  }

  /** Ends the worker's whole process group at once. */
  kill(): void {
    if (this.#isExited || this.child.pid === undefined) return
    try {
      process.kill(-this.child.pid, 'SIGKILL')
    } catch {
      this.child.kill('SIGKILL')
    }
  }

  /** Ends the worker and waits until it is gone; anything its clauses spawned goes with its group. */
  async close(): Promise<void> {
    if (!this.#isExited) {
      if (this.child.connected) this.child.disconnect()
      const grace = setTimeout(() => this.kill(), 2000)
      await this.#exited
      clearTimeout(grace)
    }
    // Stragglers in the group (a clause's child that outlived the worker) go too.
    if (this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGKILL')
      } catch {
        // the group is already empty
      }
    }
  }
}
