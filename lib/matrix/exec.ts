/** Runs host tools (apt-get, dpkg, xz …) and turns a failure into an error that names the tool. */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process'

export class ToolError extends Error {
  readonly code = 'ERR_MEMSEAL_MATRIX_TOOL'
  constructor(
    readonly command: string,
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (${status === null ? 'killed' : `exit ${status}`})${stderr ? `: ${lastLines(stderr, 5)}` : ''}`)
  }
}

export interface RunResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs a command to completion and rejects unless it exits 0. */
export function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) => reject(new ToolError(`${cmd} ${args.join(' ')}`, null, e.message)))
    child.on('close', (status) => {
      const r = { status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }
      if (status === 0) resolve(r)
      else reject(new ToolError(`${cmd} ${args.join(' ')}`, status, r.stderr || r.stdout))
    })
  })
}

/** A synchronous run whose exit status is left to the caller (decompressors report trailing data). */
export function runSync(cmd: string, args: string[], options: SpawnSyncOptions = {}): { status: number | null; error?: Error } {
  const r = spawnSync(cmd, args, options)
  return { status: r.status, error: r.error }
}

/** Whether a command is on PATH. */
export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n')
}
