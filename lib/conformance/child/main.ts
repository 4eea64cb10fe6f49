/**
 * Entry point of a clause's child process (started by ./spawn.ts). Reads which script to run from the
 * environment, checks where it runs before anything else happens, runs the script with a ChildApi and
 * writes its result as one JSON line on stdout.
 *
 * In a pid namespace (MEMSEAL_CHILD_PIDNS set) everything up to "verified" only reads: unless this process
 * is pid 1 of a namespace other than, and deeper than, the one its parent named, it exits before the
 * script runs, so vm.memfd_noexec can only ever be written in a namespace made for the clause.
 */
import { readFileSync, readlinkSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ChildApi, type Scripts } from './api'
import type { ChildLine, RunOptions, ScriptRef, ScriptResult } from './protocol'
import type { Json } from '../types'

const env = process.env

function say(line: ChildLine): void {
  writeSync(1, `${JSON.stringify(line)}\n`)
}

function refuse(why: string): never {
  say({ error: `child check failed: ${why}`, setup: true, calls: [] })
  process.exit(70)
}

/** pid 1 of a new, deeper pid namespace than the parent's, or a refusal. */
function verifyNamespace(): string {
  const nspid = (/^NSpid:\s*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '').trim().split(/\s+/)
  const ns = readlinkSync('/proc/self/ns/pid')
  if (process.pid !== 1) refuse(`not pid 1 of its namespace (pid ${process.pid})`)
  if (!env.MEMSEAL_CHILD_PARENT_NS || ns === env.MEMSEAL_CHILD_PARENT_NS) refuse(`still in the parent namespace ${ns}`)
  if (!(nspid.length - 1 > Number(env.MEMSEAL_CHILD_PARENT_DEPTH)))
    refuse(`namespace depth ${nspid.length - 1} is not below the parent depth ${env.MEMSEAL_CHILD_PARENT_DEPTH}`)
  return ns
}

/** Drops to another user before the script runs (the suite's unprivileged cases). */
function becomeUser(user: NonNullable<RunOptions['user']>): void {
  process.setgroups?.(user.groups)
  process.setgid?.(user.gid)
  process.setuid?.(user.uid)
  if (process.getuid?.() !== user.uid || process.getgid?.() !== user.gid) refuse(`could not become uid ${user.uid} gid ${user.gid}`)
}

let pending = ''
/** A blocking read of one answer line from the parent (scripts are synchronous between asks). */
function ask(message: Json): Json {
  say({ ask: message })
  const buf = Buffer.alloc(4096)
  while (!pending.includes('\n')) {
    let n: number
    try {
      n = readSync(0, buf, 0, buf.length, null)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
        continue
      }
      throw err
    }
    if (n === 0) throw new Error('the parent closed the handshake pipe')
    pending += buf.toString('utf8', 0, n)
  }
  const i = pending.indexOf('\n')
  const line = pending.slice(0, i)
  pending = pending.slice(i + 1)
  return JSON.parse(line) as Json
}

async function main(): Promise<void> {
  const verified = env.MEMSEAL_CHILD_PIDNS ? verifyNamespace() : null
  const ref = JSON.parse(env.MEMSEAL_CHILD_SCRIPT ?? 'null') as ScriptRef | null
  if (!ref || !/^[a-z0-9-]+$/.test(ref.module)) refuse('no script named')
  const user = JSON.parse(env.MEMSEAL_CHILD_USER ?? 'null') as RunOptions['user'] | null
  if (user) becomeUser(user)
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the script module is named at run time
  const mod = require(join(__dirname, '..', 'clauses', ref.module)) as { scripts?: Scripts }
  const script = mod.scripts?.[ref.name]
  if (!script) refuse(`no script '${ref.name}' in clauses/${ref.module}`)
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- nested runs load the spawner only when asked
  const run = (...a: Parameters<ChildApi['run']>): Promise<ScriptResult> => (require('./spawn') as typeof import('./spawn')).runScript(...a)
  const api = new ChildApi({ verifiedNamespace: verified, args: JSON.parse(env.MEMSEAL_CHILD_ARGS ?? 'null') as Json, ask, run })
  try {
    const result = await script(api, api.args)
    say({ result: result === undefined ? null : result, calls: api.calls })
    process.exit(0)
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    say({ error: e.name === 'SetupError' ? e.message : (e.stack ?? e.message), setup: e.name === 'SetupError', calls: api.calls })
    process.exit(1)
  }
}

void main()
