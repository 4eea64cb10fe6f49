/**
 * What mseal(2) does not block (catalog §7.4) and the kernel's own sealing of system mappings under
 * CONFIG_MSEAL_SYSTEM_MAPPINGS (catalog §7.5, selftest mseal_system_mappings/sysmap_is_sealed.c).
 */
import { readFileSync, writeSync } from 'node:fs'
import { release } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { native } from '../../native'
import { SetupError, outcome } from '../ctx'
import type { Clause, Observation } from '../types'
import type { RawRegion } from '../../native'
import { DOC, MSEAL_URL, anon, byteAt, clause, rst, seal, sealedAnon } from './mseal-common'

const NOT_BLOCKED = "mseal doesn't block"

/**
 * CONFIG_MSEAL_SYSTEM_MAPPINGS from the running kernel's configuration: /proc/config.gz, else
 * /boot/config-<release>. null when neither can be read.
 */
function sysmapConfig(): boolean | null {
  const readers: Array<() => string> = [
    () => gunzipSync(readFileSync('/proc/config.gz')).toString('utf8'),
    () => readFileSync(`/boot/config-${release()}`, 'utf8'),
  ]
  for (const read of readers) {
    try {
      return /^CONFIG_MSEAL_SYSTEM_MAPPINGS=y$/m.test(read())
    } catch {
      // try the next source
    }
  }
  return null
}

/** [vdso] of the calling process and whether its VmFlags carry 'sl'; null when there is no vdso. */
function vdso(): { region: NonNullable<ReturnType<typeof native.raw.systemMapping>>; pages: number; sealed: boolean } | null {
  const region = native.raw.systemMapping('[vdso]')
  if (!region) return null
  const v = native.raw.vma(region, 0)
  if (!v) return null
  return { region, pages: (v.end - v.start) / native.constants.PAGE_SIZE, sealed: v.flags.includes('sl') }
}

/**
 * Whether this kernel seals system mappings: from its configuration when it can be read, otherwise from
 * the 'sl' flag of this process's own [vdso] (only the configuration decides it, so every process agrees).
 */
function sysmapSealed(): boolean {
  return sysmapConfig() ?? vdso()?.sealed ?? false
}

function vdsoOrThrow(): NonNullable<ReturnType<typeof vdso>> {
  const v = vdso()
  if (!v) throw new SetupError('this process has no [vdso] mapping')
  return v
}

const SYSMAP_STATEMENT =
  'System mappings: The system mappings are created by the kernel and includes vdso, vvar, vvar_vclock, vectors ' +
  '(arm compat-mode), sigpage (arm compat-mode), uprobes. … If supported by an architecture ' +
  '(CONFIG_ARCH_SUPPORTS_MSEAL_SYSTEM_MAPPINGS), the CONFIG_MSEAL_SYSTEM_MAPPINGS seals all system mappings of this architecture.'

export const unblockedClauses: Clause[] = [
  clause({
    id: 'mseal.proc-self-mem-write-allowed',
    statement:
      'Those cases are: Write to read-only memory through /proc/self/mem interface (FOLL_FORCE). (Checked beside an unsealed read-only control page: mseal must not change the answer.)',
    source: rst(NOT_BLOCKED),
    expect: { sealed: { ret: 1, data: 'X' }, unsealed: { ret: 1, data: 'X' } },
    history: [
      {
        range: '>=6.12',
        observed: { sealed: { errno: 'EIO', data: '\u0000' }, unsealed: { errno: 'EIO', data: '\u0000' } },
        behaviour:
          "Since 6.12 the kernel can refuse forced /proc/pid/mem writes (CONFIG_PROC_MEM_NO_FORCE / CONFIG_PROC_MEM_FORCE_PTRACE, or proc_mem.force_override=never|ptrace on the command line); Debian's 7.x kernels do so for a process that is not its own ptracer. The unsealed control fails the same way, so mseal is not what refuses the write.",
        ref: '41e8149c8892 "proc: add config & param to block forcing mem writes" (6.12)',
      },
    ],
    run(ctx) {
      const write = (r: RawRegion) => {
        const ret = ctx.raw.procMemWrite(r, 0, Buffer.from('X'))
        return { ...outcome(ret), data: String.fromCharCode(byteAt(ctx, r, 0)) }
      }
      const unsealed = write(anon(ctx, 1))
      return { sealed: write(sealedAnon(ctx, 1)), unsealed }
    },
  }),
  clause({
    id: 'mseal.does-not-freeze-contents',
    statement:
      "In a nutshell, mseal blocks certain mm syscall from modifying some of VMA's attributes, such as protection bits (RWX). Sealed mappings doesn't mean the memory is immutable.",
    source: rst(NOT_BLOCKED),
    expect: { data: 'W' },
    run(ctx) {
      const fd = ctx.memfd()
      ctx.size(fd, ctx.ps)
      const r = ctx.mmap(ctx.ps, ctx.C.PROT_READ, ctx.C.MAP_SHARED, fd)
      seal(ctx, r, 0, 1)
      if (writeSync(fd, Buffer.from('W'), 0, 1, 0) !== 1) throw new SetupError('short pwrite into the memfd')
      return { data: String.fromCharCode(byteAt(ctx, r, 0)) }
    },
  }),
  clause({
    id: 'mseal.sysmap.vdso-sealed',
    catalog: 'mseal.sysmap.sealed-when-enabled (probe mseal.vdso-sealed); selftest sysmap_is_sealed.c',
    statement: SYSMAP_STATEMENT,
    source: { doc: 'mseal.rst', section: 'Use cases (System mappings)', url: MSEAL_URL },
    since: '6.15',
    needs: [],
    expect: () => ({ sealed: sysmapSealed() }),
    run() {
      return { sealed: vdsoOrThrow().sealed }
    },
  }),
  clause({
    id: 'mseal.sysmap.vdso-munmap',
    catalog: 'mseal.sysmap.sealed-when-enabled (probe mseal.vdso-munmap)',
    statement: `${SYSMAP_STATEMENT} Those system mappings are readonly only or execute only, memory sealing can protect them from ever changing to writable or unmmap/remapped as different attributes. ${DOC.blocked}`,
    source: { doc: 'mseal.rst', section: 'Use cases (System mappings)', url: MSEAL_URL },
    since: '6.15',
    needs: [],
    expect: (): Observation => (sysmapSealed() ? { errno: 'EPERM' } : { ret: 0 }),
    run(ctx) {
      const v = vdsoOrThrow()
      // In a forked child: the child loses its vdso (or not), the worker keeps its own.
      return outcome(ctx.native.forkMunmap(v.region, 0, v.pages * ctx.ps))
    },
  }),
]
