/**
 * How a `noexec.sysctl.` clause takes its part of a namespace script (noexec-scripts.ts): the script runs
 * once per worker for all the clauses of its scenario (ctx.proc.shared), each clause adds the system calls
 * of its own part to its record, and a part whose setup failed makes that clause `broken`.
 */
import type { Ctx } from '../ctx'
import type { Clause, Json, Need, Observation } from '../types'

/** Writing vm.memfd_noexec in a private pid namespace: root, namespaces, the sysctl, and a writable /proc/sys. */
export const SYSCTL_NEEDS: Need[] = ['root', 'pidns', 'memfdNoexecSysctl', 'sysctlWritable']

/** A clause that runs in private pid namespaces and writes vm.memfd_noexec there. */
export function sysctlClause(c: Omit<Clause, 'area' | 'isolation'>): Clause {
  return { ...c, area: 'noexec', isolation: 'pidns', needs: [...SYSCTL_NEEDS, ...(c.needs ?? [])] }
}

/** The part `key` of a script's report ({ obs, calls } or { setup, calls }), as this clause's observation. */
export function part(ctx: Ctx, report: Json, key: string): Observation {
  const p = report !== null && typeof report === 'object' && !Array.isArray(report) ? report[key] : undefined
  if (p === undefined || p === null || typeof p !== 'object' || Array.isArray(p)) {
    ctx.verify(false, () => `the namespace script reported no part '${key}'`)
    return {}
  }
  ctx.proc.record(p.calls ?? [])
  const setup = p.setup
  ctx.verify(setup === undefined, () => (typeof setup === 'string' ? setup : JSON.stringify(setup)))
  const obs = p.obs
  ctx.verify(obs !== null && typeof obs === 'object' && !Array.isArray(obs), () => `part '${key}' observed ${JSON.stringify(obs)}`)
  return obs as Observation
}

/** The report of a namespace script shared by the clauses of one scenario, and this clause's part of it. */
export async function sharedPart(ctx: Ctx, name: string, key: string): Promise<Observation> {
  const report = await ctx.proc.shared(`noexec-scripts#${name}`, { module: 'noexec-scripts', name }, null, { pidns: true })
  return part(ctx, report, key)
}
