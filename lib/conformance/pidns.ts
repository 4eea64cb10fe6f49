/**
 * Private pid namespaces for the vm.memfd_noexec clauses. The sysctl is per pid namespace, so a clause
 * may write it only as the init of a namespace it has just made: `runInPidns` starts
 * `unshare --pid --fork --kill-child -- node -e <prelude + script>`, and the prelude refuses to run the
 * script (exits before anything is written) unless it is pid 1 of a new, deeper namespace than the
 * caller's. Nested namespaces are made the same way from inside (the prelude requires this module).
 */
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants as fsConstants, readFileSync, readlinkSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { SetupError } from './ctx'
import type { Json } from './types'

export interface PidnsOptions {
  /**
   * Answers the script's `ask(message)` calls (a pipe handshake): whatever it returns is sent back as
   * the value of `ask`. Without it, `ask` gets null.
   */
  onMessage?: (message: Json) => Json | Promise<Json>
  /** Kill the namespace and fail after this long (default 20 s). */
  timeoutMs?: number
}

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
// A namespace script gets at least as long as a clause (MEMSEAL_CLAUSE_TIMEOUT_MS), and 20 s by default.
const PIDNS_TIMEOUT_MS = Math.max(20_000, Number(process.env.MEMSEAL_CLAUSE_TIMEOUT_MS) || 0)

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
 * Runs before the script, inside the new namespace. Everything up to "verified" only reads; if any
 * check fails the process exits without touching the sysctl. Then it gives the script `native`, `C`,
 * `setLevel(n)`, `level()`, `memfd(flags, name)`, `describe(fd)`, `ask(message)`, `setupFail(text)`,
 * `runInPidns(script, args, options)` and `args`.
 */
const PRELUDE = String.raw`
'use strict'
const fs = require('node:fs')
const env = process.env
const say = (o) => fs.writeSync(1, JSON.stringify(o) + '\n')
const refuse = (why) => { say({ error: 'pid namespace check failed: ' + why, setup: true }); process.exit(70) }
{
  const nspid = (/^NSpid:\s*(.*)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8')) || [, ''])[1].trim().split(/\s+/)
  const ns = fs.readlinkSync('/proc/self/ns/pid')
  if (process.pid !== 1) refuse('not pid 1 of its namespace (pid ' + process.pid + ')')
  if (!env.MEMSEAL_PIDNS_PARENT || ns === env.MEMSEAL_PIDNS_PARENT) refuse('still in the parent namespace ' + ns)
  if (!(nspid.length - 1 > Number(env.MEMSEAL_PIDNS_PARENT_DEPTH))) refuse('namespace depth ' + (nspid.length - 1) + ' is not below the parent depth ' + env.MEMSEAL_PIDNS_PARENT_DEPTH)
  env.MEMSEAL_PIDNS_VERIFIED = ns
}
const SYSCTL = '/proc/sys/vm/memfd_noexec'
const { native, constants: C } = require(env.MEMSEAL_NATIVE)
const { getSystemErrorMap } = require('node:util')
const errnoName = (ret) => (getSystemErrorMap().get(ret) || ['E' + -ret])[0]
function setLevel(n) {
  let fd
  try {
    fd = fs.openSync(SYSCTL, fs.constants.O_WRONLY)
    fs.writeSync(fd, String(n))
    return 'ok'
  } catch (err) {
    return err.code
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}
const level = () => Number(fs.readFileSync(SYSCTL, 'utf8').trim())
function setupFail(text) { const e = new Error(text); e.name = 'SetupError'; throw e }
function need(result, what) { if (result !== 'ok') setupFail(what + ' failed: ' + result) }
const memfd = (flags, name = 'memseal-pidns') => native.memfdCreate(name, flags | C.MFD_CLOEXEC)
function describe(fd) {
  const mode = (fs.fstatSync(fd).mode & 0o7777).toString(8).padStart(4, '0')
  return { mode, seals: native.fcntl(fd, C.F_GET_SEALS) }
}
function create(flags, pick = ['mode', 'seals'], name) {
  const fd = memfd(flags, name)
  if (fd < 0) return { errno: errnoName(fd) }
  const d = describe(fd)
  fs.closeSync(fd)
  return Object.fromEntries(pick.map((k) => [k, d[k]]))
}
let pending = ''
function ask(message) {
  say({ ask: message })
  const buf = Buffer.alloc(4096)
  while (!pending.includes('\n')) {
    let n
    try { n = fs.readSync(0, buf, 0, buf.length, null) } catch (err) {
      if (err.code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); continue }
      throw err
    }
    if (n === 0) throw new Error('the parent closed the handshake pipe')
    pending += buf.toString('utf8', 0, n)
  }
  const i = pending.indexOf('\n')
  const line = pending.slice(0, i)
  pending = pending.slice(i + 1)
  return JSON.parse(line)
}
const runInPidns = (...a) => require(env.MEMSEAL_PIDNS_MODULE).runInPidns(...a)
const args = JSON.parse(env.MEMSEAL_PIDNS_ARGS || 'null')
`

/**
 * Runs `script` (the body of an async function; its return value is the result) as pid 1 of a fresh pid
 * namespace and resolves with that result. A `setupFail()` inside, or a failed namespace check, rejects
 * with SetupError; any other failure rejects with an Error carrying the child's stderr.
 */
export function runInPidns(script: string, args: Json = null, options: PidnsOptions = {}): Promise<Json> {
  const unshare = which('unshare')
  if (!unshare) return Promise.reject(new SetupError('unshare(1) is not on PATH'))
  const parent = ownNamespace()
  const body = `${PRELUDE}
;(async () => { ${script}
})().then((result) => { say({ result: result === undefined ? null : result }); process.exit(0) },
  (err) => { say({ error: String((err && err.stack) || err), setup: !!err && err.name === 'SetupError' }); process.exit(1) })
`
  const child = spawn(unshare, ['--pid', '--fork', '--kill-child', '--', process.execPath, '-e', body], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      MEMSEAL_PIDNS_PARENT: parent.ns,
      MEMSEAL_PIDNS_PARENT_DEPTH: String(parent.depth),
      MEMSEAL_PIDNS_ARGS: JSON.stringify(args),
      MEMSEAL_NATIVE: join(__dirname, '..', 'native.js'),
      MEMSEAL_PIDNS_MODULE: __filename,
    },
  })
  return new Promise<Json>((resolve, reject) => {
    let out = ''
    let err = ''
    let final: { result?: Json; error?: string; setup?: boolean } | undefined
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`pid namespace script timed out after ${options.timeoutMs ?? PIDNS_TIMEOUT_MS} ms; stderr: ${err.trim()}`))
    }, options.timeoutMs ?? PIDNS_TIMEOUT_MS)
    const onLine = async (line: string): Promise<void> => {
      let msg: { ask?: Json; result?: Json; error?: string; setup?: boolean }
      try {
        msg = JSON.parse(line) as typeof msg
      } catch {
        err += `${line}\n`
        return
      }
      if ('ask' in msg) {
        const answer = options.onMessage ? await options.onMessage(msg.ask ?? null) : null
        child.stdin.write(`${JSON.stringify(answer === undefined ? null : answer)}\n`)
      } else final = msg
    }
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
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
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      err += chunk
    })
    child.stdin.on('error', () => {
      // the namespace may exit before an answer is written; its result (or failure) says why
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new SetupError(`could not start unshare: ${e.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (final && 'result' in final) resolve(final.result ?? null)
      else if (final?.error) reject(final.setup ? new SetupError(final.error) : new Error(`${final.error}\n${err.trim()}`))
      else reject(new SetupError(`pid namespace exited (code ${code}, signal ${signal}) without a result: ${err.trim()}`))
    })
  })
}
