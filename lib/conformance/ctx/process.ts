/**
 * Processes through the Ctx: scripts in child processes (as another user, or as pid 1 of a private pid
 * namespace: ../child/), exec of a memfd, resource limits, and the environment facts a clause reads
 * while it runs (the level of vm.memfd_noexec here, the kernel log).
 */
import { readFileSync } from 'node:fs'
import { errnoName } from '../../errors'
import { constants as C, native, StepOp } from '../../native'
import { runScript } from '../child/spawn'
import { readKmsg, type KmsgRecord } from '../kmsg'
import type { RunOptions, ScriptRef } from '../child/protocol'
import type { Json, Observation } from '../types'
import { type CallRecord, type Ctx, outcome, SetupError } from './index'

/** The fd a file step works on: a descriptor of the clause, or the fd an earlier step made ({ step: i }). */
export type StepFd = number | { step: number }

/** One call of ProcessOps.fileSteps (native/steps.cc). */
export type FileStep =
  | { op: 'getSeals'; fd: StepFd }
  | { op: 'addSeals'; fd: StepFd; seals: number }
  | { op: 'dup'; fd: StepFd }
  | { op: 'reopen'; fd: StepFd; flags: number }
  | { op: 'close'; fd: StepFd }
  | { op: 'mmap'; fd: StepFd; prot: number; flags: number; length: number }
  /** Unmaps what the mmap step `map` mapped. */
  | { op: 'munmap'; map: number }
  /** Forks a child that idles, holding a copy of the file table, until a 'join' step (or the end) kills it. */
  | { op: 'forkIdle' }
  | { op: 'join'; child: number }

export interface FileStepsResult {
  /** Threads of the process that ran the steps (1: its file table is its own; more: threads share it). */
  threads: number
  /** Each step's answer: { ret } (a result, an fd, a pid) or { errno }. */
  results: Observation[]
}

export interface ProcessAttempts {
  /** execveat(fd, "", argv, AT_EMPTY_PATH) in a forked child: { ret: exit status } or { errno }. */
  exec(fd: number, argv: string[]): Observation
}

/**
 * Results of the scripts that several clauses share, per worker process (see ProcessOps.shared): a private
 * pid namespace costs a node start, so the clauses of one namespace scenario share one run.
 */
const sharedRuns = new Map<string, Promise<Json>>()

export class ProcessOps {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Runs a script (a compiled function in lib/conformance/clauses/<module>.ts, see ../child/api.ts) in a
   * child process and returns its result. The system calls it made join the clause's record.
   */
  async run(ref: ScriptRef, args: Json = null, options: RunOptions = {}): Promise<Json> {
    try {
      const r = await runScript(ref, args, options)
      this.#merge(r.calls)
      return r.result
    } catch (err) {
      this.#merge((err as { calls?: CallRecord[] }).calls ?? [])
      throw err
    }
  }

  #merge(calls: readonly CallRecord[]): void {
    for (const c of calls) this.ctx.sys(c.syscall, c.args, c.ret)
  }

  /**
   * Runs a script once in this worker for every clause that names the same `key`, and gives each of them
   * its result. For a namespace that serves several clauses: the script does every clause's part, and
   * returns each part with the system calls that part made (ChildApi.step). The run's calls are not added
   * to any clause: each clause adds its own part's with record(), so a call a seccomp filter answered is
   * held against the clause that made it and no other. Same key, same script and arguments.
   */
  shared(key: string, ref: ScriptRef, args: Json = null, options: RunOptions = {}): Promise<Json> {
    let run = sharedRuns.get(key)
    if (!run) {
      run = runScript(ref, args, options).then((r) => r.result)
      sharedRuns.set(key, run)
    }
    return run
  }

  /** Adds the system calls of one part of a shared script (ChildApi.step's `calls`) to this clause's record. */
  record(calls: Json): void {
    if (!Array.isArray(calls)) throw new SetupError(`a shared script returned ${JSON.stringify(calls)} as its calls`)
    for (const c of calls) {
      const call = c as Partial<CallRecord> | null
      if (typeof call?.syscall !== 'string' || !Array.isArray(call.args) || typeof call.ret !== 'number')
        throw new SetupError(`a shared script returned ${JSON.stringify(c)} as a call`)
      this.ctx.sys(call.syscall, call.args, call.ret)
    }
  }

  /**
   * Sends SIGCONT to a descendant that is stopped (state T) and says whether it was: for the clause that
   * checks that a pid namespace's init cannot stop itself. `nspid` is the descendant's NSpid line (its pid
   * in each namespace from /proc's down): /proc is read with the first, the signal goes to the pid this
   * process's own namespace gives it.
   */
  resumeIfStopped(nspid: readonly number[]): boolean {
    const depth = (/^NSpid:\s*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '').trim().split(/\s+/).length - 1
    const [procPid, ownPid] = [nspid[0], nspid[depth]]
    if (procPid === undefined || ownPid === undefined) throw new SetupError(`NSpid ${nspid.join(' ')} does not reach this process's namespace (depth ${depth})`)
    let state: string | undefined
    try {
      state = /^State:\s*(\S)/m.exec(readFileSync(`/proc/${procPid}/status`, 'utf8'))?.[1]
    } catch {
      return false // it has exited
    }
    if (state !== 'T') return false
    process.kill(ownPid, 'SIGCONT')
    return true
  }

  /**
   * Runs a sequence of file steps on the worker's own thread ('here': a Node process always has threads
   * that share its file table) or in a forked child, which has one thread and a file table of its own
   * ('forked'). Every call is recorded; what the steps make is released before this returns.
   */
  fileSteps(steps: readonly FileStep[], where: 'here' | 'forked'): FileStepsResult {
    const words = new Float64Array(steps.length * 5)
    const fdWord = (fd: StepFd): number => (typeof fd === 'number' ? fd : -(fd.step + 1))
    steps.forEach((s, i) => {
      const w = ((): number[] => {
        switch (s.op) {
          case 'getSeals':
            return [StepOp.GetSeals, fdWord(s.fd)]
          case 'addSeals':
            return [StepOp.AddSeals, fdWord(s.fd), s.seals]
          case 'dup':
            return [StepOp.Dup, fdWord(s.fd)]
          case 'reopen':
            return [StepOp.Reopen, fdWord(s.fd), s.flags]
          case 'close':
            return [StepOp.Close, fdWord(s.fd)]
          case 'mmap':
            return [StepOp.Mmap, fdWord(s.fd), s.prot, s.flags, s.length]
          case 'munmap':
            return [StepOp.Munmap, s.map]
          case 'forkIdle':
            return [StepOp.ForkIdle]
          case 'join':
            return [StepOp.Join, s.child]
        }
      })()
      words.set(w, i * 5)
    })
    const out = native.fileSteps(words, where === 'forked')
    const threads = out[0]!
    if (where === 'forked') this.ctx.sys('clone', [], threads)
    if (threads < 0)
      throw new SetupError(`${where === 'forked' ? 'the forked child for the file steps' : 'reading the thread count'} failed: ${errnoName(threads)}`)
    const rets = Array.from(out.subarray(1))
    steps.forEach((s, i) => {
      const ret = rets[i]!
      switch (s.op) {
        case 'getSeals':
          return void this.ctx.sys('fcntl', [C.F_GET_SEALS, 0], ret)
        case 'addSeals':
          return void this.ctx.sys('fcntl', [C.F_ADD_SEALS, s.seals], ret)
        case 'dup':
          return void this.ctx.sys('fcntl', [C.F_DUPFD_CLOEXEC, 0], ret)
        case 'reopen':
          return void this.ctx.sys('openat', [s.flags], ret)
        case 'close':
          return void this.ctx.sys('close', [], ret)
        case 'mmap':
          return void this.ctx.sys('mmap', [s.prot, s.flags], ret)
        case 'munmap':
          return void this.ctx.sys('munmap', [], ret)
        case 'forkIdle':
          return void this.ctx.sys('clone', [], ret)
        case 'join':
          return void this.ctx.sys('kill', [C.SIGKILL], ret)
      }
    })
    return { threads, results: rets.map(outcome) }
  }

  /** getrlimit that must succeed: [soft, hard]. */
  getrlimit(resource: number): [number, number] {
    const now = native.raw.getrlimit(resource)
    this.ctx.sys('prlimit64', [], typeof now === 'number' ? now : 0)
    if (typeof now === 'number') throw new SetupError(`getrlimit(${resource}) failed: ${errnoName(now)}`)
    return now
  }

  /** setrlimit that must succeed and read back; the old limit is restored when the clause ends. */
  setrlimit(resource: number, soft: number, hard: number): void {
    const old = native.raw.getrlimit(resource)
    if (typeof old === 'number') throw new SetupError(`getrlimit(${resource}) failed: ${errnoName(old)}`)
    this.ctx.setup(this.ctx.sys('prlimit64', [], native.raw.setrlimit(resource, soft, hard)), `setrlimit(${resource}, ${soft}, ${hard})`)
    this.ctx.defer(() => native.raw.setrlimit(resource, old[0], old[1]))
    const now = native.raw.getrlimit(resource)
    this.ctx.verify(Array.isArray(now) && now[0] === soft && now[1] === hard, () => `setrlimit(${resource}) returned 0 but the limit is ${JSON.stringify(now)}`)
  }

  /** vm.memfd_noexec as this process's pid namespace reads it (the effective value); null before 6.3. */
  level(): number | null {
    try {
      return Number(readFileSync('/proc/sys/vm/memfd_noexec', 'utf8').trim())
    } catch {
      return null
    }
  }

  /** The kernel log (/dev/kmsg); a SetupError when it cannot be read. */
  kmsg(): KmsgRecord[] {
    try {
      return readKmsg()
    } catch (err) {
      throw new SetupError(`the kernel log is not readable: ${(err as NodeJS.ErrnoException).code}`)
    }
  }

  /** The contents of a text file under /proc or /sys (a SetupError when it cannot be read). */
  read(path: string): string {
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      throw new SetupError(`reading ${path} failed: ${(err as NodeJS.ErrnoException).code}`)
    }
  }

  attempts(): ProcessAttempts {
    return {
      exec: (fd, argv) => outcome(this.ctx.sys('execveat', [], native.execveat(fd, argv))),
    }
  }
}
