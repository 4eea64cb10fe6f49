/**
 * Starts a clause's child process (./main.ts): plainly, as another user, or as pid 1 of a private pid
 * namespace made with `unshare --pid --fork --kill-child`, and answers its handshake messages. Always the
 * compiled script (dist/), whoever calls: a child never runs TypeScript source.
 */
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants as fsConstants, readFileSync, readlinkSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { SetupError } from '../ctx'
import type { Json } from '../types'
import type { ChildLine, RunOptions, ScriptRef, ScriptResult } from './protocol'

export type { ScriptResult }

/** The compiled entry point: dist/conformance/child/main.js beside this file, or under dist/ from lib/. */
const MAIN = (() => {
  const here = join(__dirname, 'main.js')
  try {
    accessSync(here)
    return here
  } catch {
    return join(__dirname, '..', '..', '..', 'dist', 'conformance', 'child', 'main.js')
  }
})()

/** A child's script gets at least as long as a clause (MEMSEAL_CLAUSE_TIMEOUT_MS), and 20 s by default. */
const DEFAULT_TIMEOUT_MS = Math.max(20_000, Number(process.env.MEMSEAL_CLAUSE_TIMEOUT_MS) || 0)

/** Path of an executable on PATH, or null. */
function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const path = join(dir, name)
    try {
      accessSync(path, fsConstants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return null
}

let availability: { ok: boolean; reason?: string } | undefined

/** Whether this process can make private pid namespaces (root, `unshare` present and working). */
export function pidnsAvailable(): { ok: boolean; reason?: string } {
  if (availability) return availability
  const unshare = which('unshare')
  if (process.getuid?.() !== 0) availability = { ok: false, reason: 'private pid namespaces need root' }
  else if (!unshare) availability = { ok: false, reason: 'the unshare(1) program (util-linux) is not on PATH' }
  else {
    const r = spawnSync(unshare, ['--pid', '--fork', 'true'], { encoding: 'utf8', timeout: 10_000 })
    availability =
      r.status === 0
        ? { ok: true }
        : { ok: false, reason: `unshare --pid --fork true failed (status ${r.status}): ${(r.stderr || r.error?.message || '').trim()}` }
  }
  return availability
}

/** This process's pid namespace ('pid:[4026531836]') and depth (NSpid entries − 1, relative to /proc). */
function ownNamespace(): { ns: string; depth: number } {
  const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []
  return { ns: readlinkSync('/proc/self/ns/pid'), depth: nspid.length - 1 }
}

/**
 * Runs a script in a child process and resolves with its result. A setup failure inside (or a failed
 * namespace check) rejects with SetupError; any other failure rejects with an Error carrying the
 * child's stderr.
 */
export function runScript(ref: ScriptRef, args: Json = null, options: RunOptions = {}): Promise<ScriptResult> {
  const command: string[] = []
  if (options.pidns) {
    const unshare = which('unshare')
    if (!unshare) return Promise.reject(new SetupError('unshare(1) is not on PATH'))
    command.push(unshare, '--pid', '--fork', '--kill-child', '--')
  }
  const drop = options.dropCapabilities ?? []
  if (drop.length > 0) {
    const setpriv = which('setpriv')
    if (!setpriv) return Promise.reject(new SetupError('setpriv(1) (util-linux) is not on PATH'))
    if (!drop.every((c) => /^[a-z_]+$/.test(c))) return Promise.reject(new SetupError(`not capability names: ${drop.join(', ')}`))
    const caps = drop.map((c) => `-${c}`).join(',')
    command.push(setpriv, '--bounding-set', caps, '--inh-caps', caps, '--')
  }
  command.push(process.execPath, MAIN)
  const parent = ownNamespace()
  const fds = options.fds ?? []
  const child = spawn(command[0]!, command.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe', ...fds],
    env: {
      ...process.env,
      MEMSEAL_CHILD_SCRIPT: JSON.stringify(ref),
      MEMSEAL_CHILD_ARGS: JSON.stringify(args),
      MEMSEAL_CHILD_USER: JSON.stringify(options.user ?? null),
      MEMSEAL_CHILD_PIDNS: options.pidns ? '1' : '',
      MEMSEAL_CHILD_PARENT_NS: parent.ns,
      MEMSEAL_CHILD_PARENT_DEPTH: String(parent.depth),
    },
  })
  const limit = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  // stdio 0–2 are pipes (the options above), whatever descriptors follow them
  const stdin = child.stdin!
  const stdout = child.stdout!
  const stderr = child.stderr!
  return new Promise<ScriptResult>((resolve, reject) => {
    let out = ''
    let err = ''
    let final: ChildLine | undefined
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the child of ${ref.module}#${ref.name} timed out after ${limit} ms; stderr: ${err.trim()}`))
    }, limit)
    const onLine = async (line: string): Promise<void> => {
      let msg: ChildLine
      try {
        msg = JSON.parse(line) as ChildLine
      } catch {
        err += `${line}\n`
        return
      }
      if ('ask' in msg) {
        const answer = options.onMessage ? await options.onMessage(msg.ask) : null
        stdin.write(`${JSON.stringify(answer === undefined ? null : answer)}\n`)
      } else final = msg
    }
    stdout.setEncoding('utf8')
    stdout.on('data', (chunk: string) => {
      out += chunk
      let i
      while ((i = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, i)
        out = out.slice(i + 1)
        onLine(line).catch((e: unknown) => {
          child.kill('SIGKILL')
          reject(e instanceof Error ? e : new Error(String(e)))
        })
      }
    })
    stderr.setEncoding('utf8')
    stderr.on('data', (chunk: string) => {
      err += chunk
    })
    stdin.on('error', () => {
      // the child may exit before an answer is written; its result (or failure) says why
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new SetupError(`could not start the child: ${e.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (final && 'result' in final) resolve({ result: final.result, calls: final.calls })
      else if (final && 'error' in final) {
        const e = final.setup ? new SetupError(final.error) : new Error(`${final.error}\n${err.trim()}`)
        reject(Object.assign(e, { calls: final.calls }))
      } else reject(new SetupError(`the child exited (code ${code}, signal ${signal}) without a result: ${err.trim()}`))
    })
  })
}
