/** Runs the suite on the host itself, for the matrix's reference column. */
import { spawn } from 'node:child_process'
import { release } from 'node:os'
import { lastLines } from './exec'
import { parseReport, versionOfRelease } from './collect'
import { type KernelRun } from './types'

export async function runOnHost(projectDir: string, command: string[], timeoutMs: number): Promise<KernelRun> {
  const started = Date.now()
  const out = await new Promise<{ status: number | null; stdout: string; stderr: string; error?: string }>((resolve) => {
    const [file, ...args] = command
    if (file === undefined) return resolve({ status: null, stdout: '', stderr: '', error: 'no command to run' })
    const child = spawn(file, args, { cwd: projectDir, stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (b: Buffer) => stdout.push(b))
    child.stderr.on('data', (b: Buffer) => stderr.push(b))
    child.on('error', (e) => resolve({ status: null, stdout: '', stderr: '', error: e.message }))
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') })
    })
  })
  const runMs = Date.now() - started
  const base: KernelRun = {
    spec: 'host',
    label: 'host',
    status: 'ok',
    release: release(),
    version: versionOfRelease(release()),
    accel: 'host',
    packages: [],
    timing: { fetchMs: 0, prepareMs: 0, bootMs: null, runMs, totalMs: runMs },
    error: null,
    consoleTail: null,
    environment: null,
    report: null,
  }
  const noReport = (error: string): KernelRun => ({ ...base, status: 'no-report', error, consoleTail: out.stderr ? lastLines(out.stderr, 20) : null })
  if (out.error) return noReport(`${command.join(' ')}: ${out.error}`)
  if (out.status !== 0 && out.status !== 1)
    return noReport(`${command.join(' ')} exited with ${out.status === null ? 'a signal (timeout?)' : `status ${out.status}`}`)
  try {
    const report = parseReport(out.stdout)
    return { ...base, release: report.kernel.release, version: report.kernel.version ?? base.version, environment: report.environment ?? null, report }
  } catch (e) {
    return noReport((e as Error).message)
  }
}
